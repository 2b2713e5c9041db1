package windows

import (
	"math"
	"math/bits"
	"time"

	"github.com/envmon/envmon/quality"
)

// bucket is one clock hour of one series: 24 bytes.
type bucket struct {
	clean   uint64 // bit m: minute m holds a counted QC-clean sample
	flagged uint64 // bit m: minute m holds a QC-flagged sample
	// sum is the sum of the counted samples: in millionths of the unit as
	// an int64 for arithmetic means, so that it does not depend on the
	// order of addition; as float64 bits of Σ10^(0.1·L) for energy means.
	sum uint64
}

// kind is how a metric's samples are averaged.
type kind uint8

const (
	arithmetic kind = iota // arithmetic mean, values ≥ 0
	signed                 // arithmetic mean, values may be negative
	energy                 // energy mean of sound levels
)

// kindOf returns how metric is averaged. Sound levels (laeq) are averaged as
// energy (GB 3096-2008; quality.Leq). Temperatures and coordinates may be
// negative, which quality's averaging treats as no data.
func kindOf(metric string) kind {
	switch metric {
	case "laeq":
		return energy
	case "temp", "water_temp", "lat", "lon":
		return signed
	}
	return arithmetic
}

// maxAbs is the largest magnitude a counted value may have: sixty of them
// in millionths must fit an int64.
const maxAbs = 1e12

// micro is the number of millionths in a unit.
const micro = 1e6

// add counts a clean value v in minute m and reports whether the bucket
// changed; false means the minute was already occupied.
func (b *bucket) add(k kind, m int, v float64) bool {
	bit := uint64(1) << m
	if b.clean&bit != 0 {
		return false
	}
	b.clean |= bit
	if k == energy {
		b.sum = math.Float64bits(math.Float64frombits(b.sum) + math.Pow(10, 0.1*v))
	} else {
		b.sum = uint64(int64(b.sum) + int64(math.Round(v*micro)))
	}
	return true
}

// flag counts a flagged sample in minute m and reports whether the bucket
// changed.
func (b *bucket) flag(m int) bool {
	bit := uint64(1) << m
	if b.flagged&bit != 0 {
		return false
	}
	b.flagged |= bit
	return true
}

// mean returns the mean of the counted samples; b must have one.
func (b *bucket) mean(k kind) float64 {
	n := float64(bits.OnesCount64(b.clean))
	if k == energy {
		return 10 * math.Log10(math.Float64frombits(b.sum)/n)
	}
	return float64(int64(b.sum)) / n / micro
}

// coverage returns the minutes of the hour that the samples of minute
// bitmap set cover: each sampled minute covers the minutes up to the next
// sampled one (or the hour's end), but at most the hour's sampling
// interval. The interval is the smallest gap between sampled minutes that
// makes at least a quarter of the gaps (the smallest gap if none does), 1
// for a single sample, and at most maxGap. Taking the smallest common gap
// rather than the most common one errs towards too little coverage: a
// 1-minute station that lost half its samples is not taken for a 2-minute
// one.
func coverage(set uint64, maxGap int) int {
	set &= 1<<60 - 1
	if set == 0 {
		return 0
	}
	first, last := bits.TrailingZeros64(set), 63-bits.LeadingZeros64(set)
	// Minute data, the usual case: if a quarter of the gaps or more are of
	// one minute (set&(set>>1) has a bit for each), the interval is 1 and
	// every sample covers one minute, the last one too.
	if ones, gaps := bits.OnesCount64(set&(set>>1)), bits.OnesCount64(set)-1; ones > 0 && 4*ones >= gaps {
		return min(1, maxGap) * (gaps + 1)
	}
	var counts [61]uint8
	gaps, widest, prev := 0, 0, first
	for s := set & (set - 1); s != 0; s &= s - 1 {
		m := bits.TrailingZeros64(s)
		g := m - prev
		counts[g]++
		gaps++
		widest = max(widest, g)
		prev = m
	}
	span, smallest := 0, 0
	for g := 1; g <= widest && span == 0; g++ {
		if counts[g] == 0 {
			continue
		}
		if smallest == 0 {
			smallest = g
		}
		if 4*int(counts[g]) >= gaps {
			span = g
		}
	}
	if span == 0 {
		span = max(smallest, 1)
	}
	span = min(span, maxGap)
	// The gaps add up to last-first; each wider than span counts span.
	cov := last - first
	for g := max(span+1, 1); g <= widest; g++ {
		cov -= int(counts[g]) * (g - span)
	}
	return cov + min(60-last, span)
}

// clock locates instants on the clock hours of a time zone.
//
// An hour is numbered by idx = ⌊(unix + phase) / 3600⌋, where phase is the
// zone's UTC offset modulo one hour at that instant: 0 for Asia/Shanghai
// and UTC, 1800 for Asia/Kolkata. Numbers are absolute, so a repeated
// clock hour at the end of summer time is two hours.
type clock struct{ loc *time.Location }

// phase returns the zone's offset modulo one hour at unix time u.
func (c clock) phase(u int64) int64 {
	_, off := time.Unix(u, 0).In(c.loc).Zone()
	return floorMod(int64(off), 3600)
}

// locate returns the number of the hour holding t and t's minute in it.
func (c clock) locate(t time.Time) (idx int64, minute int) {
	u := t.Unix()
	x := u + c.phase(u)
	idx = floorDiv(x, 3600)
	return idx, int((x - idx*3600) / 60)
}

// label returns the number of the hour that t names: the hour ending at the
// first hour boundary at or after t.
func (c clock) label(t time.Time) int64 {
	idx, _ := c.locate(t.Add(-time.Nanosecond))
	return idx
}

// start returns the start of hour idx, in the zone.
func (c clock) start(idx int64) time.Time {
	u := idx * 3600
	return time.Unix(u-c.phase(u), 0).In(c.loc)
}

// day returns the start and end of the calendar day holding t.
func (c clock) day(t time.Time) (time.Time, time.Time) {
	l := t.In(c.loc)
	s := time.Date(l.Year(), l.Month(), l.Day(), 0, 0, 0, 0, c.loc)
	return s, time.Date(l.Year(), l.Month(), l.Day()+1, 0, 0, 0, 0, c.loc)
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}

func floorMod(a, b int64) int64 { return a - floorDiv(a, b)*b }

// minHourMinutes is quality.MinHourCoverage in minutes: GB 3095-2012
// Table 4, "每小时至少有45分钟的采样时间".
const minHourMinutes = int(quality.MinHourCoverage / time.Minute)
