package public

import (
	"net/http"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/envmon/envmon/quality"
	"github.com/envmon/envmon/reading"
	"github.com/envmon/envmon/windows"
)

// dailyKeys are the values of the daily report (quality.Standard.Daily):
// the 24 h means, the O3 daily maximum 8 h mean, and under HJ 633-2012 the
// O3 daily maximum 1 h mean.
var dailyKeys = map[quality.Standard][]reportKey{
	quality.HJ633v2026: {
		{key: key(quality.PM25, quality.Hour24)}, {key: key(quality.PM10, quality.Hour24)},
		{key: key(quality.SO2, quality.Hour24)}, {key: key(quality.NO2, quality.Hour24)},
		{key: key(quality.CO, quality.Hour24)}, {key: key(quality.O3, quality.Hour8)},
	},
	quality.HJ633v2012: {
		{key: key(quality.PM25, quality.Hour24)}, {key: key(quality.PM10, quality.Hour24)},
		{key: key(quality.SO2, quality.Hour24)}, {key: key(quality.NO2, quality.Hour24)},
		{key: key(quality.CO, quality.Hour24)}, {key: key(quality.O3, quality.Hour8)},
		{key: key(quality.O3, quality.Hour1)},
	},
}

// historyJSON is the body of /api/v1/stations/{id}/aqi.
type historyJSON struct {
	Station       stationRefJSON `json:"station"`
	Standard      *string        `json:"standard"`
	Report        string         `json:"report"`
	From          time.Time      `json:"from"`
	To            time.Time      `json:"to"`
	AvailableFrom time.Time      `json:"available_from"`
	Count         int            `json:"count"`
	Items         []reportJSON   `json:"items"`
	NextUpdateAt  time.Time      `json:"next_update_at"`
}

// history serves /api/v1/stations/{id}/aqi: the hourly or daily reports
// of one station whose period ends in (from, to], oldest first, from the
// windows. Reports whose data the windows no longer hold are not listed:
// available_from says where they start.
func (s *Service) history(w http.ResponseWriter, r *http.Request) {
	now := s.cfg.Now()
	q := r.URL.Query()
	report := q.Get("report")
	switch report {
	case "":
		report = "hourly"
	case "hourly", "daily":
	default:
		badParam(w, "report", []string{"hourly", "daily"}, "report %q is not hourly or daily", clip(report))
		return
	}
	var named quality.Standard
	if v := q.Get("standard"); v != "" {
		var ok bool
		if named, ok = s.standardParam(w, r, now); !ok {
			return
		}
		if report == "daily" && !named.China() {
			badParam(w, "standard", []string{"hj633-2026", "hj633-2012"}, "report=daily is defined for hj633-2026 and hj633-2012; %s has no daily report here", named)
			return
		}
	}
	id := chi.URLParam(r, "id")
	st, ok := s.stationByID(id)
	if !ok {
		writeProblem(w, http.StatusNotFound, "id", nil, "station %q is not known", clip(id))
		return
	}
	if st.Medium != reading.Air {
		writeProblem(w, http.StatusNotFound, "id", nil, "station %q measures %s, not air: it has no AQI", clip(id), st.Medium)
		return
	}
	loc := zoneOf(st)
	last := hourStart(now, loc)
	span, maxSpan := 24*time.Hour, MaxHistoryHourly
	if report == "daily" {
		l := now.In(loc)
		last = time.Date(l.Year(), l.Month(), l.Day(), 0, 0, 0, 0, loc)
		span, maxSpan = 7*24*time.Hour, MaxHistoryDaily
	}
	to := last
	if v := q.Get("to"); v != "" {
		t, err := parseTime(v)
		if err != nil {
			badParam(w, "to", nil, "to %q: %v", clip(v), err)
			return
		}
		to = t
	}
	from := to.Add(-span)
	if v := q.Get("from"); v != "" {
		t, err := parseTime(v)
		if err != nil {
			badParam(w, "from", nil, "from %q: %v", clip(v), err)
			return
		}
		from = t
	}
	if !from.Before(to) {
		badParam(w, "from", nil, "from (%s) must be before to (%s)", from.Format(time.RFC3339), to.Format(time.RFC3339))
		return
	}
	if to.Sub(from) > maxSpan || to.Sub(from) < 0 {
		badParam(w, "from", nil, "the range from %s to %s is longer than the %v that report=%s allows",
			from.Format(time.RFC3339), to.Format(time.RFC3339), maxSpan, report)
		return
	}
	avail := hourStart(now.Add(-s.cfg.Retention), loc).Add(time.Hour)
	out := historyJSON{Station: stationRef(st), Report: report, From: from, To: to, Items: []reportJSON{},
		NextUpdateAt: hourStart(now, loc).Add(time.Hour)}
	if named != 0 {
		k := named.String()
		out.Standard = &k
	}
	if report == "hourly" {
		out.AvailableFrom = avail
		lim := to
		if last.Before(lim) {
			lim = last
		}
		end := hourStart(lim, loc)
		if end.Before(lim) {
			end = end.Add(time.Hour)
		}
		if end.After(last) {
			end = last
		}
		var ends []time.Time
		for e := end; e.After(from) && !e.Before(avail); e = e.Add(-time.Hour) {
			ends = append(ends, e)
		}
		for i := len(ends) - 1; i >= 0; i-- {
			std := named
			if std == 0 {
				std = s.defaultStandard(ends[i])
			}
			out.Items = append(out.Items, currentReport(s.cfg.Windows, st, std, ends[i], false))
		}
	} else {
		a := avail.In(loc)
		dayAvail := time.Date(a.Year(), a.Month(), a.Day(), 0, 0, 0, 0, loc)
		if dayAvail.Before(avail) {
			dayAvail = dayAvail.AddDate(0, 0, 1)
		}
		out.AvailableFrom = dayAvail
		out.NextUpdateAt = last.AddDate(0, 0, 1)
		var days []time.Time // day starts
		for d := last.AddDate(0, 0, -1); !d.Before(dayAvail); d = d.AddDate(0, 0, -1) {
			end := d.AddDate(0, 0, 1)
			if end.After(from) && !end.After(to) {
				days = append(days, d)
			}
		}
		for i := len(days) - 1; i >= 0; i-- {
			std := named
			if std == 0 {
				std = s.defaultStandard(days[i].AddDate(0, 0, 1))
			}
			if !std.China() {
				std = quality.StandardAt(days[i])
			}
			out.Items = append(out.Items, s.dailyReport(st, std, days[i]))
		}
	}
	out.Count = len(out.Items)
	snap := s.current(standards[0])
	s.writeJSON(w, r, out, snap.lastModified, out.NextUpdateAt)
}

func (s *Service) stationByID(id string) (StationInfo, bool) {
	for _, st := range s.cfg.Stations.Stations() {
		if st.ID == id {
			return st, true
		}
	}
	return StationInfo{}, false
}

// dailyReport computes the daily report of the day starting at day
// (quality.Standard.Daily on the day's 24 hourly means).
func (s *Service) dailyReport(st StationInfo, std quality.Standard, day time.Time) reportJSON {
	end := day.AddDate(0, 0, 1)
	var ser quality.Series
	var days [quality.NumPollutants]windows.Day
	var have [quality.NumPollutants]bool
	for p := range quality.Pollutant(quality.NumPollutants) {
		hs := s.cfg.Windows.Hourly(st.ID, p.String(), day, end)
		if hs == nil {
			continue
		}
		if len(hs) == 24 {
			ms := make([]quality.Mean, 24)
			for i, h := range hs {
				ms[i] = quality.Mean{Value: h.Mean, Valid: h.Valid}
			}
			ser[p] = ms
		}
		days[p], have[p] = s.cfg.Windows.Daily(st.ID, p.String(), day)
	}
	var c computed
	c.conc, _ = std.Daily(&ser)
	c.index(std)
	pd := periodJSON{Start: day, End: end}
	return render(s.cfg.Windows, st, std, "daily", pd, c, func(rk reportKey) (periodJSON, completenessJSON, Reason) {
		p := rk.key.Pollutant
		if !have[p] {
			return pd, completenessJSON{Basis: "hours", Need: quality.Min24hHours, Of: 24}, ReasonNoData
		}
		d := days[p]
		m, of, basis := d.Mean, 24, "hours"
		switch rk.key.Period {
		case quality.Hour8:
			m, of, basis = d.Max8h, 17, "8h_means"
		case quality.Hour1:
			m = d.Max1h
		}
		return periodJSON{Start: m.Start, End: m.End}, completenessJSON{Basis: basis, Have: m.Hours, Need: m.Need, Of: of}, Reason(m.Reason)
	}, false)
}
