package public

import (
	"errors"
	"time"

	"github.com/envmon/envmon/quality"
	"github.com/envmon/envmon/windows"
)

// shanghai is the default time zone of a station.
var shanghai = mustZone(windows.DefaultZone)

func mustZone(name string) *time.Location {
	l, err := time.LoadLocation(name)
	if err != nil {
		return time.FixedZone("CST", 8*3600)
	}
	return l
}

func zoneOf(st StationInfo) *time.Location {
	if st.Location != nil {
		return st.Location
	}
	return shanghai
}

// hourStart returns the start of the clock hour of loc that holds t, which
// is the end of the last hour that has ended: the label of the current
// hourly report. Zones such as Asia/Kolkata have hours on the half hour.
func hourStart(t time.Time, loc *time.Location) time.Time {
	u := t.Unix()
	_, off := t.In(loc).Zone()
	phase := ((int64(off) % 3600) + 3600) % 3600
	x := u + phase
	idx := x / 3600
	if x < 0 && x%3600 != 0 {
		idx--
	}
	return time.Unix(idx*3600-phase, 0).In(loc)
}

// reportKey is one value of a standard's hourly report.
type reportKey struct {
	key     quality.Key
	nowcast bool
	// cond: listed only when present (HJ 633-2012 so2_24h, used when the
	// 1 h mean is above 800 µg/m³; EPA so2_24h from 305 ppb).
	cond bool
}

// hourlyKeys are the values of each standard's hourly report, as
// quality.Standard.RealTime (HJ 633) and the EPA's real-time practice
// (NowCast for particulates) define them.
var hourlyKeys = map[quality.Standard][]reportKey{
	quality.HJ633v2026: {
		{key: key(quality.PM25, quality.Hour1)}, {key: key(quality.PM10, quality.Hour1)},
		{key: key(quality.SO2, quality.Hour1)}, {key: key(quality.NO2, quality.Hour1)},
		{key: key(quality.CO, quality.Hour1)}, {key: key(quality.O3, quality.Hour1)},
	},
	quality.HJ633v2012: {
		{key: key(quality.PM25, quality.Hour24)}, {key: key(quality.PM10, quality.Hour24)},
		{key: key(quality.SO2, quality.Hour1)}, {key: key(quality.SO2, quality.Hour24), cond: true},
		{key: key(quality.NO2, quality.Hour1)}, {key: key(quality.CO, quality.Hour1)},
		{key: key(quality.O3, quality.Hour1)}, {key: key(quality.O3, quality.Hour8)},
	},
	quality.EPA2024: {
		{key: key(quality.PM25, quality.Hour24), nowcast: true}, {key: key(quality.PM10, quality.Hour24), nowcast: true},
		{key: key(quality.O3, quality.Hour8)}, {key: key(quality.O3, quality.Hour1)},
		{key: key(quality.CO, quality.Hour8)}, {key: key(quality.SO2, quality.Hour1)},
		{key: key(quality.SO2, quality.Hour24), cond: true}, {key: key(quality.NO2, quality.Hour1)},
	},
}

// readingUnit is the unit of a pollutant's readings (docs/MQTT.md): µg/m³,
// CO in mg/m³.
func readingUnit(p quality.Pollutant) quality.Unit {
	if p == quality.CO {
		return quality.MgM3
	}
	return quality.UgM3
}

// stationHours holds one station's last 24 hours of each pollutant.
type stationHours struct {
	hours [quality.NumPollutants][]windows.Hour // 24 each, oldest first, nil if never reported
}

// load reads the 24 hours ending at end from w.
func loadHours(w Windows, id string, end time.Time) *stationHours {
	var sh stationHours
	for p := range quality.Pollutant(quality.NumPollutants) {
		hs := w.Hourly(id, p.String(), end.Add(-24*time.Hour), end)
		if hs == nil {
			continue
		}
		if len(hs) < 24 { // clipped by the retention: pad the front
			pad := make([]windows.Hour, 24-len(hs), 24)
			hs = append(pad, hs...)
		}
		sh.hours[p] = hs
	}
	return &sh
}

// series returns the hourly means as quality takes them, in the units of
// s; a mean that cannot be converted is invalid.
func (sh *stationHours) series(s quality.Standard) quality.Series {
	var out quality.Series
	for p := range quality.Pollutant(quality.NumPollutants) {
		if sh.hours[p] == nil {
			continue
		}
		ms := make([]quality.Mean, len(sh.hours[p]))
		for i, h := range sh.hours[p] {
			if !h.Valid {
				continue
			}
			v := h.Mean
			if u := s.Unit(p); u != readingUnit(p) {
				var err error
				if v, err = quality.Convert(p, v, readingUnit(p), u); err != nil {
					continue
				}
			}
			ms[i] = quality.Mean{Value: v, Valid: true}
		}
		out[p] = ms
	}
	return out
}

// computed is a report as quality made it, before it is written as JSON.
type computed struct {
	result   quality.Result
	ok       bool
	conc     quality.Concentrations
	nowcast  [quality.NumPollutants]*quality.NowCastResult
	rejected map[quality.Key]Reason
}

// hourlyReport computes the hourly report at hour end under s (HJ 633:
// quality.Standard.RealTime at the last hour; EPA: NowCast for PM2.5 and
// PM10, the 8 h means of O3 and CO, the 1 h means of O3, SO2 and NO2).
func hourlyReport(s quality.Standard, sh *stationHours) computed {
	ser := sh.series(s)
	var c computed
	const x = 23
	if s.China() {
		c.conc, _ = s.RealTime(&ser, x) // only errs for the EPA
	} else {
		for _, p := range [...]quality.Pollutant{quality.PM25, quality.PM10} {
			if ser[p] == nil {
				continue
			}
			if nc, err := quality.NowCast(p, ser[p][x-11:]); err == nil {
				c.nowcast[p] = &nc
				c.conc.Set(p, quality.Hour24, nc.Value)
			}
		}
		put := func(p quality.Pollutant, per quality.Period, m quality.Mean) {
			if m.Valid {
				c.conc.Set(p, per, m.Value)
			}
		}
		if ser[quality.O3] != nil {
			put(quality.O3, quality.Hour8, quality.Mean8h(ser[quality.O3], x))
			put(quality.O3, quality.Hour1, ser[quality.O3][x])
		}
		if ser[quality.CO] != nil {
			put(quality.CO, quality.Hour8, quality.Mean8h(ser[quality.CO], x))
		}
		if ser[quality.NO2] != nil {
			put(quality.NO2, quality.Hour1, ser[quality.NO2][x])
		}
		if ser[quality.SO2] != nil {
			put(quality.SO2, quality.Hour1, ser[quality.SO2][x])
			if v, ok := c.conc.Get(quality.SO2, quality.Hour1); ok && v >= 305 {
				put(quality.SO2, quality.Hour24, quality.Mean24h(ser[quality.SO2], x))
			}
		}
	}
	c.index(s)
	return c
}

// index computes the AQI of c.conc. A value quality cannot index (beyond
// its table, not a concentration, or needing a value that is missing) is
// left out with its reason, and the rest are indexed: one bad value does
// not hide the others.
func (c *computed) index(s quality.Standard) {
	c.rejected = map[quality.Key]Reason{}
	work := c.conc
	for range 2 * quality.NumPollutants * quality.NumPeriods {
		r, err := s.AQI(&work)
		if err == nil {
			c.result, c.ok = r, true
			return
		}
		var ce *quality.ConcentrationError
		if !errors.As(err, &ce) {
			return // ErrNoData: nothing to index
		}
		if _, present := work.Get(ce.Key.Pollutant, ce.Key.Period); !present {
			return
		}
		switch {
		case errors.Is(ce.Err, quality.ErrBeyondTable):
			c.rejected[ce.Key] = ReasonBeyondTable
		case errors.Is(ce.Err, quality.ErrInvalid):
			c.rejected[ce.Key] = ReasonInvalid
		default:
			c.rejected[ce.Key] = ReasonNotIndexed
		}
		work.Unset(ce.Key.Pollutant, ce.Key.Period)
	}
}

// metaFor gives a value's period, completeness and, when invalid, reason,
// from the windows.
func metaFor(w Windows, id string, sh *stationHours, rk reportKey, end time.Time) (periodJSON, completenessJSON, Reason) {
	p, per := rk.key.Pollutant, rk.key.Period
	hs := sh.hours[p]
	switch {
	case rk.nowcast:
		pd := periodJSON{Start: end.Add(-12 * time.Hour), End: end}
		cm := completenessJSON{Basis: "hours", Need: 2, Of: 12}
		var recent, flagged, data int
		for i := 12; i < 24 && hs != nil; i++ {
			if hs[i].Valid {
				cm.Have++
				if i >= 21 {
					recent++
				}
			}
			if hs[i].Reason == windows.ReasonFlagged {
				flagged++
			}
			if hs[i].Samples > 0 || hs[i].Flagged > 0 {
				data++
			}
		}
		cm.Flagged = flagged
		var why Reason
		switch {
		case recent >= 2:
		case data == 0:
			why = ReasonNoData
		case flagged > 0:
			why = ReasonFlagged
		default:
			why = ReasonCoverage
		}
		return pd, cm, why
	case per == quality.Hour1:
		var h windows.Hour
		if hs != nil {
			h = hs[23]
		} else {
			h = windows.Hour{Start: end.Add(-time.Hour), End: end, Reason: windows.ReasonNoData}
		}
		cm := completenessJSON{Basis: "minutes", Have: int(h.Coverage / time.Minute), Need: int(quality.MinHourCoverage / time.Minute), Of: 60, Flagged: h.Flagged}
		return periodJSON{Start: h.Start, End: h.End}, cm, Reason(h.Reason)
	}
	n := 8
	if per == quality.Hour24 {
		n = 24
	}
	m, ok := w.Moving(id, p.String(), n, end)
	if !ok {
		need := quality.Min8hHours
		if n == 24 {
			need = quality.Min24hHours
		}
		m = windows.Mean{Start: end.Add(-time.Duration(n) * time.Hour), End: end, Need: need, Reason: windows.ReasonNoData}
	}
	flagged := 0
	for i := 24 - n; i < 24 && hs != nil; i++ {
		if hs[i].Reason == windows.ReasonFlagged {
			flagged++
		}
	}
	cm := completenessJSON{Basis: "hours", Have: m.Hours, Need: m.Need, Of: n, Flagged: flagged}
	return periodJSON{Start: m.Start, End: m.End}, cm, Reason(m.Reason)
}

func key(p quality.Pollutant, per quality.Period) quality.Key {
	return quality.Key{Pollutant: p, Period: per}
}
