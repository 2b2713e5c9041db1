package windows

import (
	"math"
	"math/bits"
	"time"

	"github.com/envmon/envmon/quality"
)

// Reason says why a value is missing or invalid. It is a stable code for
// APIs and alerts; the empty Reason means the value is valid.
type Reason string

// The reasons.
const (
	ReasonNone Reason = ""
	// ReasonNoData: no sample at all in the period.
	ReasonNoData Reason = "no_data"
	// ReasonCoverage: too few minutes of data in the hour (GB 3095-2012
	// Table 4: 45), or too few valid hours in the window.
	ReasonCoverage Reason = "insufficient_coverage"
	// ReasonFlagged: there was data, but QC-flagged: the period holds no
	// clean sample, or it would have been valid had its flagged samples
	// counted.
	ReasonFlagged Reason = "qc_flagged"
	// ReasonInProgress: the hour has not ended and has not yet got the
	// coverage it needs.
	ReasonInProgress Reason = "in_progress"
	// ReasonRetention: the period is older than the retention.
	ReasonRetention Reason = "beyond_retention"
	// ReasonUndefined: the value is not defined for this metric or day,
	// such as a daily maximum 8 h mean of a temperature.
	ReasonUndefined Reason = "not_defined"
)

// Hour is one clock hour of one metric of one station, labelled by End.
type Hour struct {
	Start, End time.Time // in the station's zone; End labels the hour
	// Mean is the 1 h mean, meaningful when Valid; when not Valid but
	// Samples > 0 it is the mean of the samples there are.
	Mean  float64
	Valid bool // Coverage ≥ quality.MinHourCoverage
	// Coverage is the time the clean samples cover (see the package
	// documentation).
	Coverage time.Duration
	// Samples is the number of clean samples counted, one per minute at
	// most.
	Samples int
	// Flagged is the number of minutes holding a QC-flagged sample.
	Flagged int
	Reason  Reason
}

// Mean is a mean over several hours: a moving or daily mean.
type Mean struct {
	Start, End time.Time // the period averaged; End labels it
	Value      float64   // meaningful when Valid
	Valid      bool
	Hours      int // valid hours (for a daily maximum 8 h mean, valid 8 h means) found
	Need       int // valid hours (or 8 h means) the rule needs
	Reason     Reason
}

// Day holds the daily values of one calendar day in the station's zone.
type Day struct {
	Start, End time.Time
	// Mean is the 24 h mean of the day (quality.DailyMean).
	Mean Mean
	// Max8h is the daily maximum 8 h mean (O3, quality.DailyMax8h): the
	// largest of the 8 h moving means ending 08:00-24:00.
	Max8h Mean
	// Max1h is the daily maximum 1 h mean (O3 under HJ 633-2012,
	// quality.DailyMax1h).
	Max1h Mean
}

// lookup returns the station and series, read-locked; the caller must
// call the returned unlock.
func (w *Windows) lookup(stationID, metric string) (*station, *series, func()) {
	sh := w.shard(stationID)
	sh.mu.RLock()
	st := sh.stations[stationID]
	if st == nil {
		sh.mu.RUnlock()
		return nil, nil, nil
	}
	s := st.get(metric)
	if s == nil {
		sh.mu.RUnlock()
		return nil, nil, nil
	}
	return st, s, sh.mu.RUnlock
}

// Hour returns the hour labelled hourEnd, that is the hour ending at the
// first hour boundary at or after hourEnd in the station's zone. It
// returns false if the station has never reported metric.
func (w *Windows) Hour(stationID, metric string, hourEnd time.Time) (Hour, bool) {
	st, s, unlock := w.lookup(stationID, metric)
	if st == nil {
		return Hour{}, false
	}
	defer unlock()
	return w.hour(st, s, st.clock.label(hourEnd), w.cfg.Now()), true
}

// Hourly returns the hours whose End is after from and at or before to,
// oldest first, including those without data; at most the retention's
// worth, the newest. It returns nil if the station has never reported
// metric.
func (w *Windows) Hourly(stationID, metric string, from, to time.Time) []Hour {
	st, s, unlock := w.lookup(stationID, metric)
	if st == nil {
		return nil
	}
	defer unlock()
	first, _ := st.clock.locate(from)
	last, _ := st.clock.locate(to)
	last--
	first = max(first, last-w.ring+1)
	if last < first {
		return nil
	}
	now := w.cfg.Now()
	out := make([]Hour, 0, last-first+1)
	for i := first; i <= last; i++ {
		out = append(out, w.hour(st, s, i, now))
	}
	return out
}

// hourFrame is what hour needs of an hour besides its series: its bounds,
// and the first hour the retention keeps, all at one time now.
type hourFrame struct {
	start, end time.Time
	cut        int64
}

// frame returns the frame of hour idx of st at now.
func (w *Windows) frame(st *station, idx int64, now time.Time) hourFrame {
	cut, _ := st.clock.locate(now.Add(-w.cfg.Retention))
	return hourFrame{start: st.clock.start(idx), end: st.clock.start(idx + 1), cut: cut}
}

// hour returns hour idx of s; the caller holds the shard's lock.
func (w *Windows) hour(st *station, s *series, idx int64, now time.Time) Hour {
	return w.hourIn(s, idx, w.frame(st, idx, now), now)
}

// hourIn is hour with the frame of hour idx at now worked out.
func (w *Windows) hourIn(s *series, idx int64, fr hourFrame, now time.Time) Hour {
	h := Hour{Start: fr.start, End: fr.end}
	cut := fr.cut
	var b bucket
	if p := s.bucket(idx); p != nil {
		b = *p
	}
	cov := coverage(b.clean, w.maxGap)
	h.Coverage = time.Duration(cov) * time.Minute
	h.Samples = bits.OnesCount64(b.clean)
	h.Flagged = bits.OnesCount64(b.flagged)
	if h.Samples > 0 {
		h.Mean = b.mean(s.kind)
	}
	switch {
	case idx < cut:
		h = Hour{Start: h.Start, End: h.End, Reason: ReasonRetention}
	case cov >= minHourMinutes:
		h.Valid = true
	case h.End.After(now):
		h.Reason = ReasonInProgress
	case b.clean == 0 && b.flagged == 0:
		h.Reason = ReasonNoData
	case b.clean == 0 || coverage(b.clean|b.flagged, w.maxGap) >= minHourMinutes:
		h.Reason = ReasonFlagged
	default:
		h.Reason = ReasonCoverage
	}
	return h
}

// hours returns hours first..last of s as quality means, with the Hour
// records beside them.
func (w *Windows) hours(st *station, s *series, first, last int64, now time.Time) ([]quality.Mean, []Hour) {
	ms := make([]quality.Mean, 0, last-first+1)
	hs := make([]Hour, 0, last-first+1)
	for i := first; i <= last; i++ {
		h := w.hour(st, s, i, now)
		hs = append(hs, h)
		ms = append(ms, quality.Mean{Value: h.Mean, Valid: h.Valid})
	}
	return ms, hs
}

// Moving returns the n-hour moving mean labelled at: the mean of the n
// hours ending at the first hour boundary at or after at, so the 8 h mean
// at hour X is the mean of hours X-7..X. n is 1, 8 or 24. The 8 h mean
// needs quality.Min8hHours (6) valid hours and the 24 h mean
// quality.Min24hHours (20) (GB 3095-2012 Table 4); they are computed by
// quality.Mean8h and quality.Mean24h. It returns false for another n, or
// if the station has never reported metric.
func (w *Windows) Moving(stationID, metric string, n int, at time.Time) (Mean, bool) {
	var need int
	switch n {
	case 1:
		need = 1
	case 8:
		need = quality.Min8hHours
	case 24:
		need = quality.Min24hHours
	default:
		return Mean{}, false
	}
	st, s, unlock := w.lookup(stationID, metric)
	if st == nil {
		return Mean{}, false
	}
	defer unlock()
	last := st.clock.label(at)
	ms, hs := w.hours(st, s, last-int64(n)+1, last, w.cfg.Now())
	var m quality.Mean
	switch {
	case n == 1:
		m = ms[0]
	case s.kind != arithmetic:
		m = movingMean(ms, need, s.kind)
	case n == 8:
		m = quality.Mean8h(ms, n-1)
	default:
		m = quality.Mean24h(ms, n-1)
	}
	return summarize(m, hs, need), true
}

// summarize returns m as a Mean over hs, with the reason it is invalid.
func summarize(m quality.Mean, hs []Hour, need int) Mean {
	out := Mean{Start: hs[0].Start, End: hs[len(hs)-1].End, Need: need, Valid: m.Valid}
	if m.Valid {
		out.Value = m.Value
	}
	var data, flagged, expired, pending int
	for _, h := range hs {
		switch {
		case h.Valid:
			out.Hours++
		case h.Reason == ReasonFlagged:
			flagged++
		case h.Reason == ReasonRetention:
			expired++
		case h.Reason == ReasonInProgress:
			pending++
		}
		if h.Samples > 0 || h.Flagged > 0 {
			data++
		}
	}
	switch {
	case out.Valid:
	case expired == len(hs):
		out.Reason = ReasonRetention
	case out.Hours+pending >= need:
		out.Reason = ReasonInProgress
	case data == 0:
		out.Reason = ReasonNoData
	case out.Hours+flagged >= need:
		out.Reason = ReasonFlagged
	default:
		out.Reason = ReasonCoverage
	}
	return out
}

// movingMean is quality's moving-mean rule for metrics that quality does
// not average: the mean of the valid hours, valid with at least need of
// them; negative values count, and sound levels are averaged as energy
// (GB 3096-2008).
func movingMean(hours []quality.Mean, need int, k kind) quality.Mean {
	var sum float64
	n := 0
	for _, h := range hours {
		if !h.Valid || math.IsNaN(h.Value) || math.IsInf(h.Value, 0) {
			continue
		}
		if k == energy {
			sum += math.Pow(10, 0.1*h.Value)
		} else {
			sum += h.Value
		}
		n++
	}
	if n == 0 || n < need {
		return quality.Mean{}
	}
	if k == energy {
		return quality.Mean{Value: 10 * math.Log10(sum/float64(n)), Valid: true}
	}
	return quality.Mean{Value: sum / float64(n), Valid: true}
}

// Daily returns the daily values of the calendar day holding day, in the
// station's zone. It returns false if the station has never reported
// metric.
func (w *Windows) Daily(stationID, metric string, day time.Time) (Day, bool) {
	st, s, unlock := w.lookup(stationID, metric)
	if st == nil {
		return Day{}, false
	}
	defer unlock()
	start, end := st.clock.day(day)
	d := Day{Start: start, End: end}
	first, _ := st.clock.locate(start)
	last := st.clock.label(end)
	ms, hs := w.hours(st, s, first, last, w.cfg.Now())

	var mean quality.Mean
	if s.kind == arithmetic {
		mean = quality.DailyMean(ms) // invalid unless the day has 24 hours
	}
	if s.kind != arithmetic || len(ms) != 24 {
		// A signed or energy metric, or a day of 23 or 25 hours at a
		// change of summer time: the same 20-hour rule.
		mean = movingMean(ms, quality.Min24hHours, s.kind)
	}
	d.Mean = summarize(mean, hs, quality.Min24hHours)

	d.Max1h = Mean{Start: start, End: end, Need: quality.Min24hHours, Reason: ReasonUndefined}
	d.Max8h = Mean{Start: start, End: end, Need: quality.MinDailyMax8hWindows, Reason: ReasonUndefined}
	if s.kind != arithmetic || len(ms) != 24 {
		return d, true
	}
	d.Max1h = summarize(quality.DailyMax1h(ms), hs, quality.Min24hHours)
	// The daily maximum 8 h mean counts valid 8 h means, not hours
	// (HJ 663-2013): of the 17 ending 08:00-24:00.
	m8 := quality.DailyMax8h(ms)
	d.Max8h = Mean{Start: start, End: end, Need: quality.MinDailyMax8hWindows, Valid: m8.Valid}
	for x := 7; x < 24; x++ {
		if quality.Mean8h(ms, x).Valid {
			d.Max8h.Hours++
		}
	}
	if m8.Valid {
		d.Max8h.Value = m8.Value
	} else {
		// Too few valid 8 h means: say why the hours are missing, unless
		// enough hours are valid and merely badly placed.
		d.Max8h.Reason = summarize(m8, hs, quality.Min24hHours).Reason
		if d.Mean.Hours >= quality.Min24hHours {
			d.Max8h.Reason = ReasonCoverage
		}
	}
	return d, true
}
