package qc

// The Checker as first written, renamed, to test that the one now gives
// the same flags.

import (
	"cmp"
	"math"
	"slices"
	"sync"
	"time"

	"github.com/envmon/envmon/reading"
)

// legacyChecker applies the checks. It is safe for concurrent use.
type legacyChecker struct {
	cfg   Config
	stuck map[string]bool
	mu    sync.Mutex
	state map[legacyKey]*legacyHistory
}

type legacyKey struct {
	station string
	medium  reading.Medium
}

// legacyHistory is what a legacyChecker remembers of one station's medium. It is laid
// out for the collector's hot path: a station reports a handful of
// metrics, found by a linear search faster than a map's hashing, each with
// its thresholds looked up once.
type legacyHistory struct {
	metrics []*legacyMetricState
	recent  []legacyStamp // ring of the recent timestamps, for duplicates
	next    int           // the slot of recent to overwrite next, once it is full
	newest  int64         // no timestamp in recent is later
}

// legacyMetricState is what a legacyHistory keeps of one metric.
type legacyMetricState struct {
	name string
	// thresholds of Config for this metric
	rng          Range
	ranged       bool
	spikeLimit   float64
	spikeChecked bool
	stuckChecked bool
	hist         []legacySample // sorted by time, for spikes; hist[dead:] is in use
	dead         int            // samples dropped from hist's front, not yet reclaimed
	same         legacyRun      // current run of identical values, for stuck sensors
	running      bool
}

type legacyStamp struct {
	ts  int64  // Unix nanoseconds
	sum uint64 // legacyValuesHash of the reading
}

type legacySample struct {
	t     int64 // Unix nanoseconds
	v     float64
	spike bool
}

// legacySpikeHistory bounds the samples per metric the spike check keeps; it
// also forgets those more than SpikeGap older than the newest.
const legacySpikeHistory = 256

type legacyRun struct {
	v     float64
	since time.Time
}

// newLegacy returns a legacyChecker with cfg's thresholds (defaults where unset).
func newLegacy(cfg Config) *legacyChecker {
	cfg = cfg.withDefaults()
	c := &legacyChecker{cfg: cfg, stuck: map[string]bool{}, state: map[legacyKey]*legacyHistory{}}
	for _, m := range cfg.StuckMetrics {
		c.stuck[m] = true
	}
	return c
}

// Check sets the QC flags of r's values. received is when r arrived.
func (c *legacyChecker) Check(r *reading.Reading, received time.Time) {
	var whole reading.Flags
	switch {
	case r.Time.After(received.Add(c.cfg.MaxFuture)):
		whole |= reading.FlagFuture
	case r.Time.Before(received.Add(-c.cfg.MaxPast)):
		whole |= reading.FlagPast
	}
	humid := false
	for _, v := range r.Values {
		if v.Metric == "rh" && v.Value >= c.cfg.HumidityRH && v.Value <= 100 {
			humid = true
		}
	}

	c.mu.Lock()
	defer c.mu.Unlock()
	h := c.legacyHistory(legacyKey{r.Station, r.Medium})
	if h.duplicate(r, c.cfg.DuplicateWindow) {
		whole |= reading.FlagDuplicate
	}
	for i := range r.Values {
		v := &r.Values[i]
		m := c.metric(h, v.Metric)
		f := whole
		if c.isSentinel(v.Value) {
			f |= reading.FlagSentinel
		} else if m.ranged && (v.Value < m.rng.Min || v.Value > m.rng.Max) {
			f |= reading.FlagRange
		}
		if humid && (v.Metric == "pm25" || v.Metric == "pm10") {
			f |= reading.FlagHumidity
		}
		if f&(reading.FlagSentinel|reading.FlagRange) == 0 {
			f |= c.spike(m, v.Value, r.Time)
			f |= c.stuckFlag(m, v.Value, r.Time)
		}
		v.QC = f
	}
}

func (c *legacyChecker) legacyHistory(k legacyKey) *legacyHistory {
	h, ok := c.state[k]
	if !ok {
		h = &legacyHistory{}
		c.state[k] = h
	}
	return h
}

// metric returns h's state of the named metric, adding it on first sight.
func (c *legacyChecker) metric(h *legacyHistory, name string) *legacyMetricState {
	for _, m := range h.metrics {
		if m.name == name {
			return m
		}
	}
	m := &legacyMetricState{name: name, stuckChecked: c.stuck[name]}
	m.rng, m.ranged = c.cfg.Ranges[name]
	m.spikeLimit, m.spikeChecked = c.cfg.Spike[name]
	h.metrics = append(h.metrics, m)
	return m
}

func (c *legacyChecker) isSentinel(v float64) bool {
	for _, s := range c.cfg.Sentinels {
		if v == s {
			return true
		}
	}
	return false
}

// spike compares v with the nearest earlier value that was not itself a
// spike, so a lone outlier is flagged but the reading after it is not, and
// the order readings arrive in does not matter (several replicas may pass a
// station's readings on out of order). A level shift is accepted on its
// second reading: a value close to the spike just before it is no spike.
func (c *legacyChecker) spike(m *legacyMetricState, v float64, t time.Time) reading.Flags {
	if !m.spikeChecked {
		return 0
	}
	limit, hist := m.spikeLimit, m.hist[m.dead:]
	tn, gap := t.UnixNano(), int64(c.cfg.SpikeGap)
	i := len(hist)
	if i > 0 && hist[i-1].t >= tn { // late: find its place (usually readings come in order)
		i, _ = slices.BinarySearchFunc(hist, tn, func(s legacySample, t int64) int { return cmp.Compare(s.t, t) })
	}
	flag := false
	if ref, ok := legacyNearestClean(hist[:i]); ok && tn-ref.t <= gap && legacyJump(ref, v, tn) > limit {
		flag = true
		if prev := hist[i-1]; prev.spike && tn-prev.t <= gap && legacyJump(prev, v, tn) <= limit {
			flag = false // the second reading at a new level
		}
	}
	all := slices.Insert(m.hist, m.dead+i, legacySample{t: tn, v: v, spike: flag})
	hist = all[m.dead:]
	newest := hist[len(hist)-1].t
	drop := max(len(hist)-legacySpikeHistory, 0)
	for drop < len(hist)-1 && newest-hist[drop].t > gap {
		drop++
	}
	// Samples leave from the front. Moving the rest down each time would
	// copy the whole window per reading; instead they are marked dead and
	// reclaimed once they are half the array, which costs O(1) a reading.
	m.dead += drop
	if m.dead > 0 && 2*m.dead >= len(all) {
		all = all[:copy(all, all[m.dead:])]
		m.dead = 0
	}
	m.hist = all
	if flag {
		return reading.FlagSpike
	}
	return 0
}

// legacyNearestClean returns the newest sample that is not a spike.
func legacyNearestClean(hist []legacySample) (legacySample, bool) {
	for i := len(hist) - 1; i >= 0; i-- {
		if !hist[i].spike {
			return hist[i], true
		}
	}
	return legacySample{}, false
}

// legacyJump is the change from s to v at t (Unix ns), per minute (at least one
// minute).
func legacyJump(s legacySample, v float64, t int64) float64 {
	return math.Abs(v-s.v) / math.Max(float64(t-s.t)/float64(time.Minute), 1)
}

// stuckFlag flags a value that has repeated exactly for StuckFor or longer.
func (c *legacyChecker) stuckFlag(m *legacyMetricState, v float64, t time.Time) reading.Flags {
	if !m.stuckChecked {
		return 0
	}
	if !m.running || m.same.v != v || t.Before(m.same.since) {
		// A new value, or an earlier one out of order: start the run.
		m.same, m.running = legacyRun{v: v, since: t}, true
		return 0
	}
	if t.Sub(m.same.since) >= c.cfg.StuckFor {
		return reading.FlagStuck
	}
	return 0
}

// duplicate reports whether r repeats a recent timestamp with different
// values. The same reading delivered twice (an MQTT redelivery, a station's
// retry) is not a conflict: it stores to the same point unchanged.
func (h *legacyHistory) duplicate(r *reading.Reading, window int) bool {
	ts := r.Time.UnixNano()
	sum := legacyValuesHash(r.Values)
	if len(h.recent) > 0 && ts <= h.newest { // readings mostly come in order
		for _, s := range h.recent {
			if s.ts == ts {
				return s.sum != sum
			}
		}
	}
	if len(h.recent) < window {
		h.recent = append(h.recent, legacyStamp{ts, sum})
	} else {
		h.recent[h.next] = legacyStamp{ts, sum}
		h.next = (h.next + 1) % window
	}
	if len(h.recent) == 1 || ts > h.newest {
		h.newest = ts
	}
	return false
}

// legacyValuesHash is FNV-1a over the metric names and value bits.
func legacyValuesHash(vs []reading.Value) uint64 {
	const prime = 1099511628211
	h := uint64(14695981039346656037)
	for _, v := range vs {
		for i := 0; i < len(v.Metric); i++ {
			h ^= uint64(v.Metric[i])
			h *= prime
		}
		h ^= math.Float64bits(v.Value)
		h *= prime
	}
	return h
}
