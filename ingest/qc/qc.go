// Package qc flags readings that should not be trusted: values outside a
// metric's physical range, sensors' "no data" sentinels, stuck sensors,
// physically impossible jumps, timestamps far from the time of arrival,
// conflicting duplicates, and optical particulate readings in fog.
//
// Flagged values are kept and shown with their flags; indices and alerts
// leave them out. A Checker keeps a little history per station and medium,
// so it must see a station's readings in the order they arrive.
package qc

import (
	"cmp"
	"math"
	"slices"
	"sync"
	"time"

	"github.com/envmon/envmon/reading"
)

// Range is a metric's physically possible interval, inclusive.
type Range struct{ Min, Max float64 }

// Config holds the thresholds. The zero value of a field means its default
// (see Default); docs/MQTT.md documents them.
type Config struct {
	// Ranges bounds each metric; a metric without a range is not checked.
	Ranges map[string]Range
	// Sentinels are values sensors send for "no data".
	Sentinels []float64
	// StuckFor is how long a metric may repeat exactly the same value before
	// it is flagged stuck; StuckMetrics lists the metrics checked (those
	// whose real signal always moves).
	StuckFor     time.Duration
	StuckMetrics []string
	// Spike is the largest plausible change of a metric per minute between
	// consecutive readings no more than SpikeGap apart.
	Spike    map[string]float64
	SpikeGap time.Duration
	// MaxFuture and MaxPast flag readings timestamped that far ahead of, or
	// behind, the time they arrived.
	MaxFuture time.Duration
	MaxPast   time.Duration
	// DuplicateWindow is how many recent timestamps per station and medium
	// are remembered to spot conflicting duplicates.
	DuplicateWindow int
	// HumidityRH is the relative humidity (%) at or above which optical
	// PM2.5 and PM10 readings of the same message are flagged.
	HumidityRH float64
}

// Default returns the documented default thresholds.
func Default() Config {
	return Config{
		// Sensor and analyser measuring ranges typical of micro-stations;
		// anything outside is a fault, not weather.
		Ranges: map[string]Range{
			"pm25": {0, 1000}, "pm10": {0, 2000}, "o3": {0, 2000}, "no2": {0, 2000},
			"so2": {0, 3000}, "co": {0, 150}, "temp": {-50, 60}, "rh": {0, 100},
			"pressure": {500, 1100}, "wind_speed": {0, 75}, "wind_dir": {0, 360},
			"ph": {0, 14}, "do": {0, 20}, "codmn": {0, 100}, "nh3n": {0, 50}, "tp": {0, 20},
			"tn": {0, 100}, "turbidity": {0, 4000}, "water_temp": {-5, 45}, "conductivity": {0, 100000},
			"laeq": {20, 140}, "lmax": {20, 150}, "lmin": {20, 140}, "l10": {20, 140}, "l50": {20, 140}, "l90": {20, 140},
		},
		Sentinels:    []float64{-999, -9999, 9999, 99999, -99999, -99},
		StuckFor:     2 * time.Hour,
		StuckMetrics: []string{"pm25", "pm10", "o3", "no2", "so2", "co", "temp", "rh", "do", "turbidity", "conductivity", "laeq"},
		Spike: map[string]float64{
			"pm25": 150, "pm10": 300, "o3": 100, "no2": 100, "so2": 100, "co": 5,
			"temp": 3, "rh": 20, "pressure": 3,
			"ph": 1, "do": 3, "codmn": 5, "nh3n": 2, "tp": 0.5, "tn": 3, "turbidity": 200, "water_temp": 2, "conductivity": 300,
		},
		SpikeGap:        time.Hour,
		MaxFuture:       5 * time.Minute,
		MaxPast:         48 * time.Hour,
		DuplicateWindow: 256,
		HumidityRH:      95,
	}
}

func (c Config) withDefaults() Config {
	d := Default()
	if c.Ranges == nil {
		c.Ranges = d.Ranges
	}
	if c.Sentinels == nil {
		c.Sentinels = d.Sentinels
	}
	if c.StuckMetrics == nil {
		c.StuckMetrics = d.StuckMetrics
	}
	if c.Spike == nil {
		c.Spike = d.Spike
	}
	c.StuckFor = cmp.Or(c.StuckFor, d.StuckFor)
	c.SpikeGap = cmp.Or(c.SpikeGap, d.SpikeGap)
	c.MaxFuture = cmp.Or(c.MaxFuture, d.MaxFuture)
	c.MaxPast = cmp.Or(c.MaxPast, d.MaxPast)
	c.DuplicateWindow = cmp.Or(c.DuplicateWindow, d.DuplicateWindow)
	c.HumidityRH = cmp.Or(c.HumidityRH, d.HumidityRH)
	return c
}

// Checker applies the checks. It is safe for concurrent use.
type Checker struct {
	cfg   Config
	stuck map[string]bool
	mu    sync.Mutex
	// The histories of the known media, by station (a map with string
	// keys is the quickest to look up), and of any other medium.
	media [len(reading.Media)]map[string]*history
	state map[key]*history
}

type key struct {
	station string
	medium  reading.Medium
}

// history is what a Checker remembers of one station's medium. It is laid
// out for the collector's hot path: a station reports a handful of
// metrics, found by a linear search faster than a map's hashing, each with
// its thresholds looked up once.
type history struct {
	metrics []*metricState
	recent  []stamp // ring of the recent timestamps, for duplicates
	next    int     // the slot of recent to overwrite next, once it is full
	newest  int64   // no timestamp in recent is later
}

// metricState is what a history keeps of one metric.
type metricState struct {
	name string
	// thresholds of Config for this metric
	rng          Range
	ranged       bool
	spikeLimit   float64
	spikeChecked bool
	stuckChecked bool
	hist         []sample // sorted by time, for spikes; hist[dead:] is in use
	dead         int      // samples dropped from hist's front, not yet reclaimed
	same         run      // current run of identical values, for stuck sensors
	running      bool
}

type stamp struct {
	ts  int64  // Unix nanoseconds
	sum uint64 // valuesHash of the reading
}

type sample struct {
	t     int64 // Unix nanoseconds
	v     float64
	spike bool
}

// spikeHistory bounds the samples per metric the spike check keeps; it
// also forgets those more than SpikeGap older than the newest.
const spikeHistory = 256

type run struct {
	v     float64
	since time.Time
}

// New returns a Checker with cfg's thresholds (defaults where unset).
func New(cfg Config) *Checker {
	cfg = cfg.withDefaults()
	c := &Checker{cfg: cfg, stuck: map[string]bool{}, state: map[key]*history{}}
	for i := range c.media {
		c.media[i] = map[string]*history{}
	}
	for _, m := range cfg.StuckMetrics {
		c.stuck[m] = true
	}
	return c
}

// Check sets the QC flags of r's values. received is when r arrived.
func (c *Checker) Check(r *reading.Reading, received time.Time) {
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
	h := c.history(key{r.Station, r.Medium})
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

func (c *Checker) history(k key) *history {
	for i, m := range reading.Media {
		if k.medium == m {
			h, ok := c.media[i][k.station]
			if !ok {
				h = &history{}
				c.media[i][k.station] = h
			}
			return h
		}
	}
	h, ok := c.state[k]
	if !ok {
		h = &history{}
		c.state[k] = h
	}
	return h
}

// metric returns h's state of the named metric, adding it on first sight.
func (c *Checker) metric(h *history, name string) *metricState {
	for _, m := range h.metrics {
		if m.name == name {
			return m
		}
	}
	m := &metricState{name: name, stuckChecked: c.stuck[name]}
	m.rng, m.ranged = c.cfg.Ranges[name]
	m.spikeLimit, m.spikeChecked = c.cfg.Spike[name]
	h.metrics = append(h.metrics, m)
	return m
}

func (c *Checker) isSentinel(v float64) bool {
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
func (c *Checker) spike(m *metricState, v float64, t time.Time) reading.Flags {
	if !m.spikeChecked {
		return 0
	}
	limit, hist := m.spikeLimit, m.hist[m.dead:]
	tn, gap := t.UnixNano(), int64(c.cfg.SpikeGap)
	i := len(hist)
	if i > 0 && hist[i-1].t >= tn { // late: find its place (usually readings come in order)
		i, _ = slices.BinarySearchFunc(hist, tn, func(s sample, t int64) int { return cmp.Compare(s.t, t) })
	}
	flag := false
	if ref, ok := nearestClean(hist[:i]); ok && tn-ref.t <= gap && jump(ref, v, tn) > limit {
		flag = true
		if prev := hist[i-1]; prev.spike && tn-prev.t <= gap && jump(prev, v, tn) <= limit {
			flag = false // the second reading at a new level
		}
	}
	var all []sample
	if s := (sample{t: tn, v: v, spike: flag}); i == len(hist) {
		all = append(m.hist, s) // in order: what slices.Insert does, less its work
	} else {
		all = slices.Insert(m.hist, m.dead+i, s)
	}
	hist = all[m.dead:]
	newest := hist[len(hist)-1].t
	drop := max(len(hist)-spikeHistory, 0)
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

// nearestClean returns the newest sample that is not a spike.
func nearestClean(hist []sample) (sample, bool) {
	for i := len(hist) - 1; i >= 0; i-- {
		if !hist[i].spike {
			return hist[i], true
		}
	}
	return sample{}, false
}

// jump is the change from s to v at t (Unix ns), per minute (at least one
// minute).
func jump(s sample, v float64, t int64) float64 {
	return math.Abs(v-s.v) / math.Max(float64(t-s.t)/float64(time.Minute), 1)
}

// stuckFlag flags a value that has repeated exactly for StuckFor or longer.
func (c *Checker) stuckFlag(m *metricState, v float64, t time.Time) reading.Flags {
	if !m.stuckChecked {
		return 0
	}
	if !m.running || m.same.v != v || t.Before(m.same.since) {
		// A new value, or an earlier one out of order: start the run.
		m.same, m.running = run{v: v, since: t}, true
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
func (h *history) duplicate(r *reading.Reading, window int) bool {
	ts := r.Time.UnixNano()
	sum := valuesHash(r.Values)
	if len(h.recent) > 0 && ts <= h.newest { // readings mostly come in order
		for _, s := range h.recent {
			if s.ts == ts {
				return s.sum != sum
			}
		}
	}
	if len(h.recent) < window {
		h.recent = append(h.recent, stamp{ts, sum})
	} else {
		h.recent[h.next] = stamp{ts, sum}
		h.next = (h.next + 1) % window
	}
	if len(h.recent) == 1 || ts > h.newest {
		h.newest = ts
	}
	return false
}

// valuesHash is FNV-1a over the metric names and value bits.
func valuesHash(vs []reading.Value) uint64 {
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
