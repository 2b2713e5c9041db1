package alerts

import (
	"context"
	"fmt"
	"math"
	"time"

	"github.com/envmon/envmon/alerts/rules"
	"github.com/envmon/envmon/ingest"
	"github.com/envmon/envmon/quality"
	"github.com/envmon/envmon/reading"
	"github.com/envmon/envmon/windows"
)

// recentN is how many raw values of a metric are kept as evidence.
const recentN = 12

// add keeps s, dropping the oldest value once the ring is full.
func (r *recentRing) add(s sample) {
	if r.n < recentN {
		r.buf[(r.start+r.n)%recentN] = s
		r.n++
		return
	}
	r.buf[r.start] = s
	r.start = (r.start + 1) % recentN
}

// samples returns the values kept, oldest first, or nil if none.
func (r *recentRing) samples() []sample {
	if r.n == 0 {
		return nil
	}
	out := make([]sample, r.n)
	for i := range out {
		out[i] = r.buf[(r.start+i)%recentN]
	}
	return out
}

// recent returns the last raw values of metric, oldest first, or nil if
// none.
func (st *stationState) recent(metric string) []sample {
	if m := st.metrics[metric]; m != nil {
		return m.recent.samples()
	}
	return nil
}

func medium(r *rule, st *stationState) bool { return r.Medium == "" || r.Medium == st.medium }

// evalFault runs the sensor-fault rules: a metric whose values are all
// flagged (by the rule's flags) since some time, or whose clean values
// have not changed for StuckFor, is faulty; the station is faulty while
// one of its metrics is. ms are the states of a.Values' metrics.
//
// The station is clear only if it is known to be: a metric whose clean
// values have been equal for less than StuckFor, with no reading of it
// seen before them, may be stuck for longer (its tracking began at a
// restart, or when the engine took the station over), so it keeps an open
// episode from clearing.
func (e *Engine) evalFault(ctx context.Context, st *stationState, a *ingest.Accepted, ms []*metricState) error {
	rs := e.rules.fault
	if len(rs) == 0 {
		return nil
	}
	var errs []error
	for _, r := range rs {
		for i, v := range a.Values {
			f := &ms[i].fault
			if v.QC&r.FlagMask != 0 {
				if f.flaggedSince.IsZero() {
					f.flaggedSince = a.Time
				}
				f.flags |= v.QC & r.FlagMask
				f.seen = f.seen || !f.hasLast
				continue
			}
			if v.QC != 0 {
				continue // flagged for another reason: neither faulty nor clean
			}
			f.flaggedSince, f.flags = time.Time{}, 0
			if !f.hasLast || v.Value != f.last {
				f.seen = f.seen || f.hasLast
				f.stuckSince, f.last, f.hasLast = a.Time, v.Value, true
			}
		}
		// The station's worst metric.
		var since time.Time
		var metric string
		var flags reading.Flags
		stuck, unsure := false, false
		for _, x := range st.metricList {
			m, f := x.name, &x.fault
			if r.StuckFor > 0 && f.hasLast && !f.seen && a.Time.Sub(f.stuckSince) < r.StuckFor {
				unsure = true
			}
			if !f.flaggedSince.IsZero() && (since.IsZero() || f.flaggedSince.Before(since)) {
				since, metric, flags, stuck = f.flaggedSince, m, f.flags, false
			}
			if r.StuckFor > 0 && f.hasLast && a.Time.Sub(f.stuckSince) >= r.StuckFor && (since.IsZero() || f.stuckSince.Before(since)) {
				since, metric, flags, stuck = f.stuckSince, m, reading.FlagStuck, true
			}
		}
		breach := !since.IsZero()
		if breach && !stuck && r.For == 0 {
			breach = false // only stuck values are checked
		}
		m, fl, stk := metric, flags, stuck
		in := input{breach: breach, clear: !breach && !unsure, since: since, at: a.Time, by: "reading",
			data: rules.Data{Metric: m}}
		if err := e.step(ctx, st, r, in, func() any {
			d := map[string]any{"metric": m, "flags": fl.Names(), "stuck": stk, "since": since.UTC(), "recent": st.recent(m)}
			// The stuck value, for seedFault; JSON has no infinities.
			if x := st.metrics[m]; stk && x != nil && !math.IsInf(x.fault.last, 0) {
				d["stuck_value"] = x.fault.last
			}
			return d
		}); err != nil {
			errs = append(errs, err)
		}
	}
	return joinErrs(errs)
}

func joinErrs(errs []error) error {
	if len(errs) == 0 {
		return nil
	}
	return fmt.Errorf("%w", errs[0])
}

// evalRaw runs the rules on raw values: raw thresholds, water classes and
// night Lmax. Only QC-clean values count. ms are the states of a.Values'
// metrics.
func (e *Engine) evalRaw(ctx context.Context, st *stationState, a *ingest.Accepted, ms []*metricState) error {
	var errs []error
	add := func(err error) {
		if err != nil {
			errs = append(errs, err)
		}
	}
	var water []quality.WaterReading
	for i, v := range a.Values {
		if v.QC != 0 || math.IsNaN(v.Value) || math.IsInf(v.Value, 0) {
			continue
		}
		ms[i].recent.add(sample{T: a.Time.UTC(), V: v.Value})
		if a.Medium == reading.Water && e.water[v.Metric] {
			water = append(water, quality.WaterReading{Key: v.Metric, Value: v.Value})
		}
		for _, r := range ms[i].raw {
			if !medium(r, st) {
				continue
			}
			m := v.Metric
			add(e.step(ctx, st, r, input{breach: r.Breach(v.Value), clear: r.Cleared(v.Value), at: a.Time, value: v.Value, by: "reading",
				data: rules.Data{Metric: m, Unit: r.unit, Window: "raw", Threshold: r.LimitValue(), Clear: *r.Clear}},
				func() any { return map[string]any{"metric": m, "window": "raw", "samples": st.recent(m)} }))
		}
		if v.Metric == "lmax" && a.Medium == reading.Noise {
			add(e.evalLmax(ctx, st, a.Time, v.Value))
		}
	}
	if len(water) > 0 {
		add(e.evalWater(ctx, st, a.Time, water))
	}
	return joinErrs(errs)
}

func (e *Engine) evalLmax(ctx context.Context, st *stationState, t time.Time, v float64) error {
	lim, ok := st.info.NoiseZone.Limits()
	if !ok {
		return nil
	}
	night := !quality.IsDaytime(t, e.loc(st))
	for _, r := range e.rules.noise {
		if r.Limit != "night_lmax" {
			continue
		}
		breach := night && v > lim.NightLmax
		zone := st.info.NoiseZone.String()
		if err := e.step(ctx, st, r, input{breach: breach, clear: !breach, at: t, value: v, by: "reading",
			data: rules.Data{Metric: "lmax", Unit: "dB(A)", Limit: lim.NightLmax, Threshold: lim.NightLmax}},
			func() any {
				return map[string]any{"standard": "GB 3096-2008", "zone": zone, "night_limit": lim.Night, "night_lmax_limit": lim.NightLmax, "lmax": v, "samples": st.recent("lmax")}
			}); err != nil {
			return err
		}
	}
	return nil
}

func (e *Engine) evalWater(ctx context.Context, st *stationState, t time.Time, ws []quality.WaterReading) error {
	target := st.info.WaterTarget
	if target == quality.Unclassed {
		return nil
	}
	a, err := quality.ClassifyWater(st.info.WaterBody, ws)
	if err != nil || a.Class == quality.Unclassed {
		return nil
	}
	for _, r := range e.rules.waterClass {
		breach := !a.Meets(target)
		if err := e.step(ctx, st, r, input{breach: breach, clear: !breach, at: t, value: float64(a.Class), by: "reading",
			data: rules.Data{Class: a.Class.String(), Target: target.String()}},
			func() any {
				return map[string]any{"standard": "GB 3838-2002", "class": a.Class.String(), "target": target.String(), "body": a.Body.String(),
					"determining": a.Determining, "parameters": a.Parameters}
			}); err != nil {
			return err
		}
	}
	return nil
}

// evalHour runs the windowed rules at the end of an hour: thresholds on the
// 1 h, 8 h and 24 h means, the AQI and the hourly noise Leq. It reports
// whether every rule it asked had a valid value (or cannot have one);
// false means the windows may not have the hour's readings yet.
func (e *Engine) evalHour(ctx context.Context, st *stationState, hourEnd time.Time, add func(error)) bool {
	w := e.cfg.Windows
	if w == nil {
		return true
	}
	done := true
	for _, r := range e.rules.hourly {
		n := r.Window.Hours()
		if !medium(r, st) {
			continue
		}
		m, ok := w.Moving(st.id, r.Metric, n, hourEnd)
		if !ok {
			continue // never reported
		}
		if !m.Valid {
			if m.Reason == windows.ReasonCoverage || m.Reason == windows.ReasonNoData || m.Reason == windows.ReasonInProgress {
				done = done && n > 1 // a missing 1 h mean may still come
			}
			continue
		}
		metric, mean := r.Metric, m
		add(e.step(ctx, st, r, input{breach: r.Breach(m.Value), clear: r.Cleared(m.Value), at: hourEnd, value: m.Value, by: "window",
			data: rules.Data{Metric: metric, Unit: r.unit, Window: string(r.Window), Threshold: r.LimitValue(), Clear: *r.Clear}},
			func() any {
				return map[string]any{"metric": metric, "window": string(r.Window), "mean": mean,
					"hours": w.Hourly(st.id, metric, hourEnd.Add(-time.Duration(max(n, 3))*time.Hour), hourEnd)}
			}))
	}
	if st.medium == reading.Air && len(e.rules.aqi) > 0 {
		if !e.evalAQI(ctx, st, hourEnd, add) {
			done = false
		}
	}
	if st.medium == reading.Noise {
		e.evalLeq(ctx, st, hourEnd, add)
	}
	return done
}

var aqiMetrics = [...]struct {
	p      quality.Pollutant
	metric string
}{{quality.PM25, "pm25"}, {quality.PM10, "pm10"}, {quality.SO2, "so2"}, {quality.NO2, "no2"}, {quality.CO, "co"}, {quality.O3, "o3"}}

// evalAQI computes the real-time AQI of the hour ending at hourEnd from
// the hourly means of the last 24 hours (quality.Standard.RealTime: HJ 633
// or the EPA's rules) and runs the AQI rules on its level.
func (e *Engine) evalAQI(ctx context.Context, st *stationState, hourEnd time.Time, add func(error)) bool {
	var series quality.Series
	have := false
	for _, pm := range aqiMetrics {
		hs := e.cfg.Windows.Hourly(st.id, pm.metric, hourEnd.Add(-24*time.Hour), hourEnd)
		if len(hs) == 0 {
			continue
		}
		ms := make([]quality.Mean, len(hs))
		for i, h := range hs {
			ms[i] = quality.Mean{Value: h.Mean, Valid: h.Valid}
		}
		series[pm.p] = ms
		have = have || hs[len(hs)-1].Valid
	}
	if !have {
		return false
	}
	for _, r := range e.rules.aqi {
		x := -1
		for _, s := range series {
			if len(s) > 0 {
				x = len(s) - 1
			}
		}
		c, err := r.Standard.RealTime(&series, x)
		if err != nil {
			continue
		}
		res, err := r.Standard.AQI(&c)
		if err != nil {
			continue
		}
		info := res.Info()
		lvl := int(res.Level)
		primary := res.Primary.Strings()
		add(e.step(ctx, st, r, input{breach: lvl >= r.Level, clear: lvl <= r.ClearLevel, at: hourEnd, value: float64(res.AQI), by: "window",
			data: rules.Data{Level: lvl, LevelName: info.Name, LevelNameZH: info.NameZH, Threshold: float64(r.Level)}},
			func() any {
				subs := map[string]int{}
				for k, v := range res.All() {
					subs[k.String()] = v
				}
				return map[string]any{"standard": r.Standard.Title(), "aqi": res.AQI, "level": lvl, "level_name": info.Name, "level_name_zh": info.NameZH,
					"primary": primary, "iaqi": subs, "fire_level": r.Level, "clear_level": r.ClearLevel}
			}))
	}
	return true
}

// evalLeq runs the noise Leq rules on the hour ending at hourEnd: its 1 h
// Leq against the day limit for a day hour (06-22) or the night limit for a
// night hour, of the station's GB 3096-2008 zone, in its time zone.
func (e *Engine) evalLeq(ctx context.Context, st *stationState, hourEnd time.Time, add func(error)) {
	lim, ok := st.info.NoiseZone.Limits()
	if !ok {
		return
	}
	m, ok := e.cfg.Windows.Moving(st.id, "laeq", 1, hourEnd)
	if !ok || !m.Valid {
		return
	}
	start := hourEnd.Add(-time.Hour)
	day := quality.IsDaytime(start, e.loc(st))
	limit, period := lim.Night, "night"
	if day {
		limit, period = lim.Day, "day"
	}
	zone := st.info.NoiseZone.String()
	for _, r := range e.rules.noise {
		if r.Limit != "leq" {
			continue
		}
		v := math.Round(m.Value*10) / 10
		add(e.step(ctx, st, r, input{breach: v > limit, clear: v <= limit, at: hourEnd, value: m.Value, by: "window",
			data: rules.Data{Metric: "laeq", Unit: "dB(A)", Window: "1h", Limit: limit, Threshold: limit}},
			func() any {
				return map[string]any{"standard": "GB 3096-2008", "zone": zone, "period": period, "limit": limit, "leq_1h": m}
			}))
	}
}
