package public

import (
	"context"
	"net/http"
	"time"

	"github.com/envmon/envmon/quality"
	"github.com/envmon/envmon/reading"
	"github.com/envmon/envmon/store"
	"github.com/envmon/envmon/windows"
)

type noiseLimitsJSON struct {
	Day       float64 `json:"day"`
	Night     float64 `json:"night"`
	NightLmax float64 `json:"night_lmax"`
}

type lmaxEventJSON struct {
	Period  periodJSON `json:"period"`
	Lmax    float64    `json:"lmax"`
	Exceeds bool       `json:"exceeds"`
}

type noiseLevelJSON struct {
	Value   *float64 `json:"value"`
	Hours   int      `json:"hours"`
	Of      int      `json:"of"`
	Excess  *float64 `json:"excess"`
	Exceeds *bool    `json:"exceeds"`
	Reason  *Reason  `json:"reason"`
}

type noiseDayJSON struct {
	Date     string         `json:"date"`
	Period   periodJSON     `json:"period"`
	Complete bool           `json:"complete"`
	Ld       noiseLevelJSON `json:"ld"`
	Ln       noiseLevelJSON `json:"ln"`
	Ldn      *float64       `json:"ldn"`
	// NightLmax lists the night hours' maximum levels (store aggregate
	// fn=max, every=1h), each against the night Lmax limit.
	NightLmax      []lmaxEventJSON `json:"night_lmax"`
	LmaxExceeding  int             `json:"lmax_exceeding"`
	NightLmaxState *Reason         `json:"night_lmax_reason"`
}

type noiseStationJSON struct {
	Station stationRefJSON   `json:"station"`
	Status  statusJSON       `json:"status"`
	Zone    *string          `json:"zone"`
	Limits  *noiseLimitsJSON `json:"limits"`
	Reason  *Reason          `json:"reason"`
	Days    []noiseDayJSON   `json:"days"`
}

type noiseJSON struct {
	Standard     string             `json:"standard"`
	GeneratedAt  time.Time          `json:"generated_at"`
	NextUpdateAt time.Time          `json:"next_update_at"`
	Count        int                `json:"count"`
	Stations     []noiseStationJSON `json:"stations"`
}

type cachedBody struct {
	body    []byte
	until   time.Time
	lastMod time.Time
}

// noise serves /api/v1/noise: each noise station's day level Ld and night
// level Ln (GB 3096-2008, energy means of the hourly Leq of 06:00-22:00 and
// 22:00-06:00 of the calendar day) against its zone's limits, with the
// night maximum levels, for today and the days before it that the windows
// hold. The body is cached for Config.MaxAge, as it queries the store.
func (s *Service) noise(w http.ResponseWriter, r *http.Request) {
	now := s.cfg.Now()
	s.noiseMu.Lock()
	c := s.noiseCache
	if c.body == nil || !now.Before(c.until) {
		out := s.noiseReport(r.Context(), now)
		body, _ := jsonLine(out)
		c = cachedBody{body: body, until: now.Add(s.cfg.MaxAge), lastMod: now.UTC().Truncate(time.Second)}
		if s.noiseCache.body != nil && string(s.noiseCache.body) == string(body) {
			c.lastMod = s.noiseCache.lastMod
		}
		s.noiseCache = c
	}
	s.noiseMu.Unlock()
	serveBody(w, r, c.body, nil, "", c.lastMod, c.until, now, s.cfg.MaxAge)
}

func (s *Service) noiseReport(ctx context.Context, now time.Time) noiseJSON {
	out := noiseJSON{Standard: "GB 3096-2008", GeneratedAt: now.UTC(), NextUpdateAt: hourStart(now, shanghai).Add(time.Hour).UTC(),
		Stations: []noiseStationJSON{}}
	for _, st := range s.cfg.Stations.Stations() {
		if st.Medium != reading.Noise {
			continue
		}
		out.Stations = append(out.Stations, s.noiseStation(ctx, st, now))
	}
	out.Count = len(out.Stations)
	return out
}

func (s *Service) noiseStation(ctx context.Context, st StationInfo, now time.Time) noiseStationJSON {
	status, offline := statusOf(s.cfg.Statuses, st.ID)
	e := noiseStationJSON{Station: stationRef(st), Status: status, Days: []noiseDayJSON{}}
	lim, ok := st.NoiseZone.Limits()
	if !ok {
		why := ReasonUndefined // no zone: no limits to compare with
		e.Reason = &why
	} else {
		z := st.NoiseZone.String()
		e.Zone = &z
		e.Limits = &noiseLimitsJSON{Day: lim.Day, Night: lim.Night, NightLmax: lim.NightLmax}
	}
	loc := zoneOf(st)
	l := now.In(loc)
	today := time.Date(l.Year(), l.Month(), l.Day(), 0, 0, 0, 0, loc)
	for i := range NoiseDays {
		day := today.AddDate(0, 0, -i)
		e.Days = append(e.Days, s.noiseDay(ctx, st, day, now, ok, offline))
	}
	return e
}

func (s *Service) noiseDay(ctx context.Context, st StationInfo, day, now time.Time, zoned, offline bool) noiseDayJSON {
	end := day.AddDate(0, 0, 1)
	d := noiseDayJSON{Date: day.Format(time.DateOnly), Period: periodJSON{Start: day, End: end}, Complete: !end.After(now),
		NightLmax: []lmaxEventJSON{}, Ld: noiseLevelJSON{Of: 16}, Ln: noiseLevelJSON{Of: 8}}
	var hourly [24]quality.Mean
	var reasons []Reason
	for _, h := range s.cfg.Windows.Hourly(st.ID, "laeq", day, end) {
		hr := h.Start.In(zoneOf(st)).Hour()
		if h.Valid {
			hourly[hr] = quality.Mean{Value: h.Mean, Valid: true}
		} else if h.Reason != windows.ReasonNone {
			reasons = append(reasons, Reason(h.Reason))
		}
	}
	levels, err := quality.DayNight(&hourly)
	setReason := func(lv *noiseLevelJSON, hours int) {
		why := stationReason(reasons, offline)
		if !d.Complete && why != ReasonOffline {
			why = ReasonInProgress
		}
		if hours > 0 {
			why = ReasonCoverage
			if !d.Complete {
				why = ReasonInProgress
			}
		}
		lv.Reason = &why
	}
	for h := range 24 {
		if hourly[h].Valid {
			if quality.IsDayHour(h) {
				d.Ld.Hours++
			} else {
				d.Ln.Hours++
			}
		}
	}
	if err != nil {
		setReason(&d.Ld, d.Ld.Hours)
		setReason(&d.Ln, d.Ln.Hours)
	} else {
		ld, ln, ldn := round1(levels.Ld), round1(levels.Ln), round1(levels.Ldn)
		d.Ld.Value, d.Ln.Value, d.Ldn = &ld, &ln, &ldn
	}
	var lmax []float64
	if s.cfg.Aggregates != nil {
		to := end
		if cut := now.Truncate(time.Hour).Add(time.Hour); cut.Before(to) {
			to = cut
		}
		bs, aerr := s.cfg.Aggregates.Aggregate(ctx, store.AggregateQuery{Station: st.ID, Metric: "lmax", From: day, To: to,
			Every: time.Hour, Fn: store.FnMax})
		if aerr == nil {
			for _, b := range bs {
				if b.Count == 0 || quality.IsDaytime(b.Start, zoneOf(st)) {
					continue
				}
				lmax = append(lmax, b.Value)
				one, _ := quality.AssessNoise(zoneOr(st.NoiseZone), quality.DayNightLevels{}, []float64{b.Value})
				d.NightLmax = append(d.NightLmax, lmaxEventJSON{Period: periodJSON{Start: b.Start.In(zoneOf(st)), End: b.End.In(zoneOf(st))},
					Lmax: b.Value, Exceeds: zoned && one.LmaxExceeding > 0})
			}
		}
	}
	if len(lmax) == 0 {
		why := ReasonNoData
		d.NightLmaxState = &why
	}
	if zoned {
		a, aerr := quality.AssessNoise(st.NoiseZone, levels, lmax)
		if aerr == nil {
			d.LmaxExceeding = a.LmaxExceeding
			if err == nil {
				de, ne := a.DayExcess, a.NightExcess
				dx, nx := a.DayExceeds(), a.NightExceeds()
				d.Ld.Excess, d.Ln.Excess, d.Ld.Exceeds, d.Ln.Exceeds = &de, &ne, &dx, &nx
			}
		}
	}
	return d
}

// zoneOr returns z, or zone 2 when z is not a zone, so that AssessNoise
// accepts it; the caller then ignores the comparison.
func zoneOr(z quality.NoiseZone) quality.NoiseZone {
	if _, ok := z.Limits(); ok {
		return z
	}
	return quality.Zone2
}

// round1 rounds a level to 0.1 dB(A), as GB 3096-2008 reports them.
func round1(x float64) float64 {
	if x < 0 {
		return -round1(-x)
	}
	return float64(int64(x*10+0.5)) / 10
}
