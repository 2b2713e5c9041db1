package quality

import (
	"fmt"
	"time"
)

// A Sample is one raw reading of one pollutant: a value measured at a time.
type Sample struct {
	Time  time.Time
	Value float64
}

// A Mean is an average concentration and whether it meets the
// data-validity rule of its period. An invalid mean is missing data: it is
// never used as a value, and its Value is meaningless.
type Mean struct {
	Value float64
	Valid bool
}

// The data-validity rules of GB 3095-2012 Table 4 ("污染物浓度数据有效性的
// 最低要求"), kept by GB 3095-2026, and of HJ 663-2013 for the O3 daily
// maximum 8 h mean.
const (
	// MinHourCoverage is the data an hour needs for a valid 1 h mean.
	MinHourCoverage = 45 * time.Minute
	// Min24hHours is the number of valid 1 h means a 24 h mean needs.
	Min24hHours = 20
	// Min8hHours is the number of valid 1 h means an 8 h mean needs.
	Min8hHours = 6
	// MinDailyMax8hWindows is the number of valid 8 h means, of the 17
	// ending at 08:00-24:00, a daily maximum 8 h mean needs (HJ 663-2013),
	// unless the maximum found exceeds O3Grade2Limit8h.
	MinDailyMax8hWindows = 14
	// O3Grade2Limit8h is the O3 8 h grade 2 limit of GB 3095-2012 and
	// GB 3095-2026, in µg/m³. A daily maximum 8 h mean above it is valid
	// even with fewer than MinDailyMax8hWindows windows (HJ 663-2013),
	// since more data could only raise it.
	O3Grade2Limit8h = 160
)

// HourlyMeans returns the 1 h means of n consecutive hours from start:
// element i averages the samples in [start+i h, start+(i+1) h).
//
// A sample stands for the interval after it, whose length is the station's
// sampling interval (between 1 s and 1 h). An hour's mean is valid when its
// samples cover at least MinHourCoverage (GB 3095 Table 4: "每小时至少有
// 45分钟的采样时间"), counting each interval once however many samples
// fall in it. The mean is the arithmetic mean of the hour's samples.
// Samples that are NaN, infinite or negative are not data and are skipped.
func HourlyMeans(samples []Sample, start time.Time, n int, interval time.Duration) ([]Mean, error) {
	if interval < time.Second || interval > time.Hour {
		return nil, fmt.Errorf("hourly means: sampling interval %v is outside 1s-1h", interval)
	}
	if n < 0 {
		return nil, fmt.Errorf("hourly means: negative number of hours %d", n)
	}
	slots := int((time.Hour + interval - 1) / interval)
	words := (slots + 63) / 64
	seen := make([]uint64, n*words)
	sums := make([]float64, n)
	counts := make([]int, n)
	covered := make([]int, n)
	for _, s := range samples {
		if !checkValue(s.Value) {
			continue
		}
		d := s.Time.Sub(start)
		if d < 0 || d >= time.Duration(n)*time.Hour {
			continue
		}
		h := int(d / time.Hour)
		slot := int((d - time.Duration(h)*time.Hour) / interval)
		w, b := h*words+slot/64, uint64(1)<<(slot%64)
		if seen[w]&b == 0 {
			seen[w] |= b
			covered[h]++
		}
		sums[h] += s.Value
		counts[h]++
	}
	out := make([]Mean, n)
	for h := range out {
		if counts[h] == 0 {
			continue
		}
		cov := min(time.Duration(covered[h])*interval, time.Hour)
		out[h] = Mean{Value: sums[h] / float64(counts[h]), Valid: cov >= MinHourCoverage}
	}
	return out, nil
}

// movingMean returns the mean of the valid hours among hours[x-window+1..x]
// (hours before the slice are missing), valid when at least minValid are.
func movingMean(hours []Mean, x, window, minValid int) Mean {
	if x < 0 || x >= len(hours) {
		return Mean{}
	}
	var sum float64
	n := 0
	for i := max(0, x-window+1); i <= x; i++ {
		if hours[i].Valid && checkValue(hours[i].Value) {
			sum += hours[i].Value
			n++
		}
	}
	if n < minValid || n == 0 {
		return Mean{}
	}
	return Mean{Value: sum / float64(n), Valid: true}
}

// Mean8h returns the 8 h moving mean at hour x of hours: the mean of hours
// x-7..x, valid with at least Min8hHours valid hours (GB 3095 Table 4).
func Mean8h(hours []Mean, x int) Mean { return movingMean(hours, x, 8, Min8hHours) }

// Mean24h returns the 24 h moving mean at hour x of hours: the mean of
// hours x-23..x, valid with at least Min24hHours valid hours.
func Mean24h(hours []Mean, x int) Mean { return movingMean(hours, x, 24, Min24hHours) }

// DailyMean returns the 24 h mean of one calendar day: day must hold its 24
// hourly means, 00:00-01:00 first. It is valid with at least Min24hHours
// valid hours; a day of any other length gives an invalid mean.
func DailyMean(day []Mean) Mean {
	if len(day) != 24 {
		return Mean{}
	}
	return movingMean(day, 23, 24, Min24hHours)
}

// DailyMax8h returns the daily maximum 8 h mean of one calendar day (O3
// "日最大8小时平均"): the largest of the valid 8 h moving means ending at
// 08:00 through 24:00, that is of hours 0-7 through 16-23 of day, which
// must hold the day's 24 hourly means. It is valid with at least
// MinDailyMax8hWindows valid 8 h means, or fewer if the maximum exceeds
// O3Grade2Limit8h (HJ 663-2013).
func DailyMax8h(day []Mean) Mean {
	if len(day) != 24 {
		return Mean{}
	}
	var best Mean
	n := 0
	for x := 7; x < 24; x++ {
		m := Mean8h(day, x)
		if !m.Valid {
			continue
		}
		n++
		if !best.Valid || m.Value > best.Value {
			best = m
		}
	}
	if n < MinDailyMax8hWindows && !(best.Valid && best.Value > O3Grade2Limit8h) {
		return Mean{}
	}
	return best
}

// DailyMax1h returns the daily maximum 1 h mean of one calendar day (O3
// "日最大1小时平均", used by the HJ 633-2012 daily report): the largest
// valid hourly mean of day, which must hold the day's 24 hourly means.
// GB 3095 states no rule of its own for it; like a 24 h mean it is valid
// with at least Min24hHours valid hours, so that a day mostly missing
// cannot report a low maximum.
func DailyMax1h(day []Mean) Mean {
	if len(day) != 24 {
		return Mean{}
	}
	var best Mean
	n := 0
	for _, h := range day {
		if !h.Valid || !checkValue(h.Value) {
			continue
		}
		n++
		if !best.Valid || h.Value > best.Value {
			best = h
		}
	}
	if n < Min24hHours {
		return Mean{}
	}
	return best
}

// Series holds one station's hourly means per pollutant, oldest first:
// Series[p][i] is the mean of pollutant p in hour i, and every slice starts
// at the same hour. A pollutant the station does not measure has a nil
// slice. Values are in the units of the standard used.
type Series [NumPollutants][]Mean

// at returns hour x of pollutant p, or an invalid mean.
func (h *Series) at(p Pollutant, x int) Mean {
	if x < 0 || x >= len(h[p]) {
		return Mean{}
	}
	return h[p][x]
}

// RealTime returns the concentrations of the real-time (hourly) report at
// hour x of h, as s defines it; a value whose mean is invalid is left out.
//
//   - HJ 633-2012: the 1 h means of SO2, NO2, CO and O3, the O3 8 h moving
//     mean and the PM10 and PM2.5 24 h moving means; and the SO2 24 h
//     moving mean when the SO2 1 h mean is above 800 µg/m³ (Table 1 note 3).
//   - HJ 633-2026: the 1 h means of all six pollutants; the particulates'
//     are indexed on the 24 h breakpoints.
//
// The EPA reports particulates with [NowCast] instead.
func (s Standard) RealTime(h *Series, x int) (Concentrations, error) {
	var c Concentrations
	put := func(p Pollutant, per Period, m Mean) {
		if m.Valid {
			c.Set(p, per, m.Value)
		}
	}
	switch s {
	case HJ633v2012:
		for _, p := range [...]Pollutant{SO2, NO2, CO, O3} {
			put(p, Hour1, h.at(p, x))
		}
		put(O3, Hour8, Mean8h(h[O3], x))
		put(PM10, Hour24, Mean24h(h[PM10], x))
		put(PM25, Hour24, Mean24h(h[PM25], x))
		if so2, ok := c.Get(SO2, Hour1); ok && above800(so2) {
			put(SO2, Hour24, Mean24h(h[SO2], x))
		}
	case HJ633v2026:
		for p := range Pollutant(NumPollutants) {
			put(p, Hour1, h.at(p, x))
		}
	default:
		return c, fmt.Errorf("real-time report: %s defines none here; use NowCast for particulates", s.Title())
	}
	return c, nil
}

// Daily returns the concentrations of the daily report of one calendar
// day, as s defines it; day holds the day's 24 hourly means per pollutant,
// 00:00-01:00 first. A value whose mean is invalid is left out.
//
//   - HJ 633-2012: the 24 h means of SO2, NO2, CO, PM10 and PM2.5, and the
//     O3 daily maximum 1 h and maximum 8 h means.
//   - HJ 633-2026: the same without the O3 daily maximum 1 h mean.
func (s Standard) Daily(day *Series) (Concentrations, error) {
	var c Concentrations
	if !s.China() {
		return c, fmt.Errorf("daily report: %s defines none here", s.Title())
	}
	for p := range Pollutant(NumPollutants) {
		if day[p] != nil && len(day[p]) != 24 {
			return c, fmt.Errorf("daily report: %v has %d hourly means, want the day's 24", p, len(day[p]))
		}
	}
	for _, p := range [...]Pollutant{SO2, NO2, CO, PM10, PM25} {
		if m := DailyMean(day[p]); m.Valid {
			c.Set(p, Hour24, m.Value)
		}
	}
	if m := DailyMax8h(day[O3]); m.Valid {
		c.Set(O3, Hour8, m.Value)
	}
	if s == HJ633v2012 {
		if m := DailyMax1h(day[O3]); m.Valid {
			c.Set(O3, Hour1, m.Value)
		}
	}
	return c, nil
}

// above800 reports whether v is above 800 µg/m³, exactly.
func above800(v float64) bool {
	return checkValue(v) && (v > maxValue || micros(v) > hjSpecialLimit)
}
