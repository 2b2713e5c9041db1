package public

import (
	"cmp"
	"math"
	"net/http"
	"slices"
	"strconv"
	"time"
)

var rankMetrics = []string{"aqi", "pm25", "pm10", "so2", "no2", "co", "o3"}

type rankEntryJSON struct {
	// Rank is 1 for the best; stations with equal values share a rank and
	// the next rank skips (1, 2, 2, 4). Null for a station without value.
	Rank     *int           `json:"rank"`
	Station  stationRefJSON `json:"station"`
	Value    *int           `json:"value"`
	AQI      *int           `json:"aqi"`
	Level    *int           `json:"level"`
	Category *textJSON      `json:"category"`
	Color    *string        `json:"color"`
	Period   periodJSON     `json:"period"`
	Reason   *Reason        `json:"reason"`
}

type rankingJSON struct {
	Metric       string          `json:"metric"`
	Standard     standardJSON    `json:"standard"`
	GeneratedAt  time.Time       `json:"generated_at"`
	NextUpdateAt time.Time       `json:"next_update_at"`
	Count        int             `json:"count"`
	Ranking      []rankEntryJSON `json:"ranking"`
}

// ranking serves /api/v1/ranking: air stations from best (lowest AQI or
// pollutant sub-index) to worst; those without a value come last, by id.
func (s *Service) ranking(w http.ResponseWriter, r *http.Request) {
	metric := r.URL.Query().Get("metric")
	if metric == "" {
		metric = "aqi"
	}
	if !slices.Contains(rankMetrics, metric) {
		badParam(w, "metric", rankMetrics, "metric %q cannot be ranked; use aqi or a pollutant's sub-index: pm25, pm10, so2, no2, co, o3", clip(metric))
		return
	}
	std, ok := s.standardParam(w, r, s.cfg.Now())
	if !ok {
		return
	}
	snap := s.current(std)
	out := rankingJSON{Metric: metric, Standard: standardJSON{std.String(), std.Title()}, GeneratedAt: snap.generated,
		NextUpdateAt: snap.next, Ranking: make([]rankEntryJSON, 0, len(snap.entries))}
	for _, e := range snap.entries {
		re := rankEntryJSON{Station: e.Station, Value: valueOf(&e.reportJSON, metric), AQI: e.AQI, Level: e.Level,
			Category: e.Category, Color: e.Color, Period: e.Period, Reason: e.Reason}
		if re.Value == nil && re.Reason == nil {
			why := ReasonNoData
			re.Reason = &why
		}
		out.Ranking = append(out.Ranking, re)
	}
	slices.SortStableFunc(out.Ranking, func(a, b rankEntryJSON) int {
		switch {
		case a.Value == nil && b.Value == nil:
			return cmp.Compare(a.Station.ID, b.Station.ID)
		case a.Value == nil:
			return 1
		case b.Value == nil:
			return -1
		}
		return cmp.Or(cmp.Compare(*a.Value, *b.Value), cmp.Compare(a.Station.ID, b.Station.ID))
	})
	for i := range out.Ranking {
		e := &out.Ranking[i]
		if e.Value == nil {
			break
		}
		rank := i + 1
		if i > 0 && *out.Ranking[i-1].Value == *e.Value {
			rank = *out.Ranking[i-1].Rank
		}
		e.Rank = &rank
	}
	out.Count = len(out.Ranking)
	s.writeJSON(w, r, out, snap.lastModified, snap.next)
}

func valueOf(rep *reportJSON, metric string) *int {
	switch metric {
	case "aqi":
		return rep.AQI
	case "pm25":
		return rep.IAQI.PM25
	case "pm10":
		return rep.IAQI.PM10
	case "so2":
		return rep.IAQI.SO2
	case "no2":
		return rep.IAQI.NO2
	case "co":
		return rep.IAQI.CO
	case "o3":
		return rep.IAQI.O3
	}
	return nil
}

type nearEntryJSON struct {
	// DistanceM is the great-circle distance in metres (haversine, on a
	// sphere of radius 6,371,008.8 m).
	DistanceM float64 `json:"distance_m"`
	stationAQIJSON
}

type nearJSON struct {
	Lat          float64         `json:"lat"`
	Lon          float64         `json:"lon"`
	Standard     standardJSON    `json:"standard"`
	GeneratedAt  time.Time       `json:"generated_at"`
	NextUpdateAt time.Time       `json:"next_update_at"`
	Count        int             `json:"count"`
	Stations     []nearEntryJSON `json:"stations"`
}

// near serves /api/v1/near: the n air stations nearest to lat, lon, with
// their current AQI. Stations without coordinates are left out.
func (s *Service) near(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	lat, ok := floatParam(w, q.Get("lat"), "lat", -90, 90)
	if !ok {
		return
	}
	lon, ok := floatParam(w, q.Get("lon"), "lon", -180, 180)
	if !ok {
		return
	}
	n := DefaultNear
	if v := q.Get("n"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil || n < 1 || n > MaxNear {
			badParam(w, "n", nil, "n %q is not a whole number from 1 to %d", clip(v), MaxNear)
			return
		}
	}
	std, ok := s.standardParam(w, r, s.cfg.Now())
	if !ok {
		return
	}
	snap := s.current(std)
	var list []nearEntryJSON
	for _, e := range snap.entries {
		c := e.Station.Coordinates
		if c == nil {
			continue
		}
		list = append(list, nearEntryJSON{DistanceM: math.Round(haversine(lat, lon, c.Lat, c.Lon)*10) / 10, stationAQIJSON: e})
	}
	slices.SortStableFunc(list, func(a, b nearEntryJSON) int {
		return cmp.Or(cmp.Compare(a.DistanceM, b.DistanceM), cmp.Compare(a.Station.ID, b.Station.ID))
	})
	list = list[:min(n, len(list))]
	if list == nil {
		list = []nearEntryJSON{}
	}
	out := nearJSON{Lat: lat, Lon: lon, Standard: standardJSON{std.String(), std.Title()}, GeneratedAt: snap.generated,
		NextUpdateAt: snap.next, Count: len(list), Stations: list}
	s.writeJSON(w, r, out, snap.lastModified, snap.next)
}

func floatParam(w http.ResponseWriter, v, name string, lo, hi float64) (float64, bool) {
	if v == "" {
		badParam(w, name, nil, "query parameter %s is required: degrees from %v to %v (WGS 84)", name, lo, hi)
		return 0, false
	}
	f, err := strconv.ParseFloat(v, 64)
	if err != nil || math.IsNaN(f) || f < lo || f > hi {
		badParam(w, name, nil, "%s %q is not a number of degrees from %v to %v", name, clip(v), lo, hi)
		return 0, false
	}
	return f, true
}

// earthRadius is the mean Earth radius (IUGG), in metres.
const earthRadius = 6_371_008.8

// haversine returns the great-circle distance in metres between two
// points given in degrees.
func haversine(lat1, lon1, lat2, lon2 float64) float64 {
	rad := math.Pi / 180
	dlat, dlon := (lat2-lat1)*rad, (lon2-lon1)*rad
	a := math.Sin(dlat/2)*math.Sin(dlat/2) + math.Cos(lat1*rad)*math.Cos(lat2*rad)*math.Sin(dlon/2)*math.Sin(dlon/2)
	return 2 * earthRadius * math.Asin(math.Min(1, math.Sqrt(a)))
}
