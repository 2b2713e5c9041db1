package public

import (
	"time"

	"github.com/envmon/envmon/quality"
)

// render writes a computed report as JSON. offline turns the reason of a
// missing value into ReasonOffline.
func render(w Windows, st StationInfo, s quality.Standard, report string, pd periodJSON, c computed,
	meta func(rk reportKey) (periodJSON, completenessJSON, Reason), offline bool) reportJSON {
	out := reportJSON{Standard: s.String(), Report: report, Period: pd,
		Primary: []string{}, Exceeding: []string{}, Values: []valueJSON{}}
	keys := hourlyKeys[s]
	if report == "daily" {
		keys = dailyKeys[s]
	}
	var reasonsSeen []Reason
	for _, rk := range keys {
		p, per := rk.key.Pollutant, rk.key.Period
		v, present := c.conc.Get(p, per)
		if rk.cond && !present {
			continue
		}
		vpd, cm, why := meta(rk)
		val := valueJSON{Key: rk.key.String(), Pollutant: p.String(), Averaging: per.String(),
			Unit: s.Unit(p).String(), Period: vpd, Completeness: cm}
		if rk.nowcast {
			val.Averaging = "nowcast"
			if nc := c.nowcast[p]; nc != nil {
				val.NowCast = &nowcastJSON{Weight: nc.Weight, Hours: nc.Hours}
			}
		}
		if present {
			val.Concentration = &v
			why = ""
			if c.ok {
				if iaqi, ok := c.result.IAQI(p, per); ok {
					val.IAQI = &iaqi
				}
			}
			if val.IAQI == nil {
				why = ReasonNotIndexed
				if r, ok := c.rejected[rk.key]; ok {
					why = r
				}
			}
		} else {
			if why == "" {
				why = ReasonNoData
			}
			if offline && (why == ReasonNoData || why == ReasonCoverage || why == ReasonInProgress) {
				why = ReasonOffline
			}
		}
		if why != "" {
			r := why
			val.Reason = &r
			reasonsSeen = append(reasonsSeen, why)
		} else {
			out.Completeness.Valid++
		}
		out.Completeness.Expected++
		out.Values = append(out.Values, val)
	}
	if !c.ok {
		r := stationReason(reasonsSeen, offline)
		out.Reason = &r
		return out
	}
	r := &c.result
	aqi, level := r.AQI, int(r.Level)
	out.AQI, out.Level = &aqi, &level
	info := r.Info()
	cat := text(info.NameZH, info.Name)
	out.Category = &cat
	out.Color = strOrNil(info.Color)
	if info.HealthEffects != "" || info.HealthEffectsZH != "" {
		he := text(info.HealthEffectsZH, info.HealthEffects)
		out.HealthEffects = &he
	}
	if info.MeasuresZH != "" {
		m := text(info.MeasuresZH, "")
		out.Measures = &m
	}
	out.Primary = r.Primary.Strings()
	out.Exceeding = r.Exceeding.Strings()
	set := func(p quality.Pollutant) *int {
		if v, ok := r.PollutantIAQI(p); ok {
			return &v
		}
		return nil
	}
	out.IAQI = iaqiJSON{PM25: set(quality.PM25), PM10: set(quality.PM10), SO2: set(quality.SO2),
		NO2: set(quality.NO2), CO: set(quality.CO), O3: set(quality.O3)}
	return out
}

// stationReason is why a station has no AQI: offline if it says so; no
// data if none of its values has any; else the most telling reason.
func stationReason(rs []Reason, offline bool) Reason {
	if offline {
		return ReasonOffline
	}
	all := func(r Reason) bool {
		for _, x := range rs {
			if x != r {
				return false
			}
		}
		return true
	}
	switch {
	case len(rs) == 0 || all(ReasonNoData):
		return ReasonNoData
	case all(ReasonRetention):
		return ReasonRetention
	}
	for _, pref := range []Reason{ReasonFlagged, ReasonBeyondTable, ReasonInvalid, ReasonCoverage, ReasonInProgress} {
		for _, x := range rs {
			if x == pref {
				return pref
			}
		}
	}
	return rs[0]
}

// stationRef is the public description of st.
func stationRef(st StationInfo) stationRefJSON {
	ref := stationRefJSON{ID: st.ID, Point: st.Point, Name: text(st.Name.Zh, st.Name.En),
		PointName: text(st.PointName.Zh, st.PointName.En), Address: strOrNil(st.Address),
		TimeZone: zoneOf(st).String()}
	if st.Coordinates != nil {
		ref.Coordinates = &coordinatesJSON{Lat: st.Coordinates.Lat, Lon: st.Coordinates.Lon}
	}
	return ref
}

func statusOf(ss Statuses, id string) (statusJSON, bool) {
	s, ok := ss.Status(id)
	if !ok || s.State == "" {
		return statusJSON{State: StateUnknown}, false
	}
	out := statusJSON{State: s.State}
	if !s.Since.IsZero() {
		t := s.Since.UTC()
		out.Since = &t
	}
	return out, s.State == StateOffline
}

// currentReport computes the hourly report of st at the hour ending end.
func currentReport(w Windows, st StationInfo, s quality.Standard, end time.Time, offline bool) reportJSON {
	sh := loadHours(w, st.ID, end)
	c := hourlyReport(s, sh)
	pd := periodJSON{Start: end.Add(-time.Hour), End: end}
	return render(w, st, s, "hourly", pd, c, func(rk reportKey) (periodJSON, completenessJSON, Reason) {
		return metaFor(w, st.ID, sh, rk, end)
	}, offline)
}
