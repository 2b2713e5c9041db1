package windows

import (
	"context"
	"hash/maphash"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"github.com/envmon/envmon/reading"
)

// numShards is the number of station shards, each with its own lock.
const numShards = 64

// Windows keeps the hourly windows of every station and metric. It is safe
// for concurrent use.
type Windows struct {
	cfg    Config
	ring   int64 // hours per series ring
	maxGap int   // Config.MaxGap in minutes
	seed   maphash.Seed
	shards [numShards]shard

	subMu sync.Mutex
	subs  atomic.Pointer[[]*subscriber]

	stats counters
}

type shard struct {
	mu       sync.RWMutex
	stations map[string]*station
}

// station is one station's series; a station measures a dozen metrics at
// most, so a slice beats a map.
type station struct {
	clock  clock
	series []*series
}

// series is one metric of one station: a ring of hourly buckets. Slot
// idx mod len(ring) holds hour idx for newest-len(ring) < idx ≤ newest.
type series struct {
	metric string
	kind   kind
	newest int64
	ring   []bucket
}

type subscriber struct{ fn func(Change) }

// Change tells a subscriber that an hour of a station's metric changed,
// with the hour as it now stands.
type Change struct {
	Station string
	Metric  string
	Hour    Hour
}

// counters are the atomic counts behind Stats.
type counters struct {
	counted, flagged, duplicates, tooOld, tooNew, invalid atomic.Uint64
}

// Stats counts what Add did with the values it was given.
type Stats struct {
	Counted    uint64 // clean values counted into an hour
	Flagged    uint64 // flagged values counted apart
	Duplicates uint64 // values whose minute was already occupied
	TooOld     uint64 // values older than the retention
	TooNew     uint64 // values more than MaxFuture ahead of the clock
	Invalid    uint64 // values not finite or too large, or without station or metric
	Stations   int    // stations held
	Series     int    // station × metric series held
}

// New returns empty windows configured by cfg.
func New(cfg Config) (*Windows, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	w := &Windows{
		cfg:    cfg,
		ring:   int64(hoursIn(cfg.Retention) + 1 + hoursIn(cfg.MaxFuture)),
		maxGap: int(cfg.MaxGap / time.Minute),
		seed:   maphash.MakeSeed(),
	}
	for i := range w.shards {
		w.shards[i].stations = map[string]*station{}
	}
	return w, nil
}

// hoursIn returns d in whole hours, rounded up.
func hoursIn(d time.Duration) int { return int((d + time.Hour - 1) / time.Hour) }

func (w *Windows) shard(st string) *shard {
	return &w.shards[maphash.String(w.seed, st)%numShards]
}

// Add counts the values of r into the hour of r.Time in time zone loc, or in
// the zone Config.Location gives when loc is nil. The station keeps the last
// zone given. Subscribers hear of every hour that changed, after Add has
// released its locks and before it returns.
func (w *Windows) Add(r reading.Reading, loc *time.Location) {
	if !w.hasSubscribers() {
		w.add(r, loc, false, nil)
		return
	}
	// A reading changes a dozen hours at most: keep them on the stack.
	var buf [16]Change
	changes := w.add(r, loc, true, buf[:0])
	if len(changes) > 0 {
		w.notify(changes)
	}
}

func (w *Windows) hasSubscribers() bool {
	s := w.subs.Load()
	return s != nil && len(*s) > 0
}

// add does Add's work and, when report is set, appends the changes to
// changes and returns them.
func (w *Windows) add(r reading.Reading, loc *time.Location, report bool, changes []Change) []Change {
	n := uint64(len(r.Values))
	if n == 0 {
		return nil
	}
	if r.Station == "" {
		w.stats.invalid.Add(n)
		return nil
	}
	now := w.cfg.Now()
	if r.Time.Before(now.Add(-w.cfg.Retention)) {
		w.stats.tooOld.Add(n)
		return nil
	}
	if r.Time.After(now.Add(w.cfg.MaxFuture)) {
		w.stats.tooNew.Add(n)
		return nil
	}
	if loc == nil {
		loc = w.cfg.Location(r.Station)
	}
	c := clock{loc}
	idx, minute := c.locate(r.Time)
	pos := floorMod(idx, w.ring) // the slot of hour idx in every ring
	var (
		// The counts, added to w.stats once.
		counted, flagged, duplicates, tooOld, invalid uint64
		// The hour's bounds, the same for every change.
		fr     hourFrame
		framed bool
	)
	sh := w.shard(r.Station)
	sh.mu.Lock()
	st := sh.stations[r.Station]
	if st == nil {
		st = &station{}
		sh.stations[r.Station] = st
	}
	st.clock = c
	for i, v := range r.Values {
		if v.Metric == "" {
			invalid++
			continue
		}
		s := st.find(i, v.Metric)
		if s == nil {
			s = &series{metric: v.Metric, kind: kindOf(v.Metric)}
			st.series = append(st.series, s)
		}
		b := s.slot(idx, pos, w.ring)
		if b == nil {
			tooOld++
			continue
		}
		var changed bool
		switch {
		case v.QC != 0:
			if changed = b.flag(minute); changed {
				flagged++
			} else {
				duplicates++
			}
		case math.IsNaN(v.Value) || math.Abs(v.Value) > maxAbs || (s.kind == energy && math.Abs(v.Value) > 300):
			invalid++
		default:
			if changed = b.add(s.kind, minute, v.Value); changed {
				counted++
			} else {
				duplicates++
			}
		}
		if changed && report {
			if !framed {
				fr, framed = w.frame(st, idx, now), true
			}
			changes = append(changes, Change{Station: r.Station, Metric: v.Metric, Hour: w.hourIn(s, idx, fr, now)})
		}
	}
	count(&w.stats.counted, counted)
	count(&w.stats.flagged, flagged)
	count(&w.stats.duplicates, duplicates)
	count(&w.stats.tooOld, tooOld)
	count(&w.stats.invalid, invalid)
	sh.mu.Unlock()
	return changes
}

// count adds n to c, if n is not zero.
func count(c *atomic.Uint64, n uint64) {
	if n != 0 {
		c.Add(n)
	}
}

func (st *station) get(metric string) *series {
	for _, s := range st.series {
		if s.metric == metric {
			return s
		}
	}
	return nil
}

// find is get trying the series at i first: a station's readings list
// their metrics in the same order, mostly.
func (st *station) find(i int, metric string) *series {
	if i < len(st.series) && st.series[i].metric == metric {
		return st.series[i]
	}
	return st.get(metric)
}

// slot returns the bucket of hour idx, moving the ring forward when idx is
// newer than any before, or nil when idx has left the ring. pos is
// floorMod(idx, size), the same for every series.
func (s *series) slot(idx, pos, size int64) *bucket {
	if s.ring == nil {
		s.ring = make([]bucket, size)
		s.newest = idx
	}
	if idx > s.newest {
		for i := s.newest + 1; i <= idx && i <= s.newest+size; i++ {
			s.ring[floorMod(i, size)] = bucket{}
		}
		s.newest = idx
	}
	if idx <= s.newest-size {
		return nil
	}
	return &s.ring[pos]
}

// bucket returns hour idx without changing anything, or nil if it is not
// held.
func (s *series) bucket(idx int64) *bucket {
	size := int64(len(s.ring))
	if idx > s.newest || idx <= s.newest-size {
		return nil
	}
	return &s.ring[floorMod(idx, size)]
}

// Subscribe registers fn to hear of every hour that changes, and returns a
// function that unregisters it. fn runs in the goroutine of the Add that
// made the change, after Add has released its locks: it may query the
// windows but must not block. Rebuild does not notify.
func (w *Windows) Subscribe(fn func(Change)) (cancel func()) {
	sub := &subscriber{fn}
	w.subMu.Lock()
	defer w.subMu.Unlock()
	var list []*subscriber
	if p := w.subs.Load(); p != nil {
		list = append(list, *p...)
	}
	list = append(list, sub)
	w.subs.Store(&list)
	return func() {
		w.subMu.Lock()
		defer w.subMu.Unlock()
		var kept []*subscriber
		for _, s := range *w.subs.Load() {
			if s != sub {
				kept = append(kept, s)
			}
		}
		w.subs.Store(&kept)
	}
}

func (w *Windows) notify(changes []Change) {
	p := w.subs.Load()
	if p == nil {
		return
	}
	for _, s := range *p {
		for _, c := range changes {
			s.fn(c)
		}
	}
}

// Stats returns what Add has done so far, and how much is held.
func (w *Windows) Stats() Stats {
	s := Stats{
		Counted:    w.stats.counted.Load(),
		Flagged:    w.stats.flagged.Load(),
		Duplicates: w.stats.duplicates.Load(),
		TooOld:     w.stats.tooOld.Load(),
		TooNew:     w.stats.tooNew.Load(),
		Invalid:    w.stats.invalid.Load(),
	}
	for i := range w.shards {
		sh := &w.shards[i]
		sh.mu.RLock()
		s.Stations += len(sh.stations)
		for _, st := range sh.stations {
			s.Series += len(st.series)
		}
		sh.mu.RUnlock()
	}
	return s
}

// Prune drops the series whose newest hour is older than the retention,
// and stations left without series, and returns how many series it
// dropped. Older hours of live series are dropped as their ring moves on.
func (w *Windows) Prune() int {
	now := w.cfg.Now()
	dropped := 0
	for i := range w.shards {
		sh := &w.shards[i]
		sh.mu.Lock()
		for id, st := range sh.stations {
			cut := st.clock.label(now.Add(-w.cfg.Retention))
			kept := st.series[:0]
			for _, s := range st.series {
				if s.newest >= cut {
					kept = append(kept, s)
				} else {
					dropped++
				}
			}
			clear(st.series[len(kept):])
			st.series = kept
			if len(kept) == 0 {
				delete(sh.stations, id)
			}
		}
		sh.mu.Unlock()
	}
	return dropped
}

// Run prunes expired series every interval (an hour when zero) until ctx
// is done. It returns nil.
func (w *Windows) Run(ctx context.Context, interval time.Duration) error {
	if interval <= 0 {
		interval = time.Hour
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			if n := w.Prune(); n > 0 {
				w.cfg.Logger.Debug("windows: pruned expired series", "series", n)
			}
		}
	}
}
