package alerts

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/bits"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/envmon/envmon/alerts/notify"
	"github.com/envmon/envmon/alerts/rules"
	"github.com/envmon/envmon/db"
	"github.com/envmon/envmon/ingest"
	"github.com/envmon/envmon/quality"
	"github.com/envmon/envmon/reading"
	"github.com/envmon/envmon/sse"
)

// Engine evaluates the rules: incrementally per station as a sink of the
// stream of accepted readings, and by the clock for offline and repeats.
// It is safe for concurrent use.
type Engine struct {
	cfg     Config
	db      *db.DB
	log     *slog.Logger
	metrics *metrics
	hub     *sse.Hub[Event]
	flushed time.Time // when Consume last saved the stations, by cfg.Now
	def     *time.Location

	mu       sync.Mutex
	stations map[string]*stationState
	// rules are the rules, indexed when the engine is made.
	rules ruleIndex
	// nudge wakes the dispatcher after a commit.
	nudge chan struct{}
	// water holds the GB 3838-2002 parameters.
	water map[string]bool
	// scratch is metricsOf's slice, reused under mu.
	scratch []*metricState
	// saveQ caches saveStations; under mu.
	saveQ [flushShift + 1]string
}

// rule is a rule of the engine's set, with what evaluation needs of it
// worked out once.
type rule struct {
	*rules.Rule
	i    int    // its index in Config.Rules.Rules, and in stationState.byRule
	unit string // the unit of Metric, for threshold rules
}

// ruleIndex is the rules by what they apply to, each list in the order of
// the rule file, so that a reading is given only to the rules that can
// match it.
type ruleIndex struct {
	all    []*rule // by index
	byName map[string]*rule
	// By kind.
	offline, fault, aqi, waterClass, noise []*rule
	// hourly are the threshold rules on a window's mean.
	hourly []*rule
	// raw are the threshold rules on raw values, by metric.
	raw map[string][]*rule
	// inhibitors are the offline rules, then the sensor-fault rules.
	inhibitors []*rule
}

func newRuleIndex(set *rules.Set) ruleIndex {
	x := ruleIndex{byName: make(map[string]*rule, len(set.Rules)), raw: map[string][]*rule{}}
	for i, r := range set.Rules {
		ref := &rule{Rule: r, i: i}
		x.all = append(x.all, ref)
		x.byName[r.Name] = ref
		switch r.Kind {
		case rules.Threshold:
			m, _ := reading.LookupMetric(r.Metric)
			ref.unit = m.Unit
			if r.Window == rules.Raw {
				x.raw[r.Metric] = append(x.raw[r.Metric], ref)
			} else if r.Window.Hours() > 0 {
				x.hourly = append(x.hourly, ref)
			}
		case rules.AQI:
			x.aqi = append(x.aqi, ref)
		case rules.WaterClass:
			x.waterClass = append(x.waterClass, ref)
		case rules.Noise:
			x.noise = append(x.noise, ref)
		case rules.Offline:
			x.offline = append(x.offline, ref)
		case rules.SensorFault:
			x.fault = append(x.fault, ref)
		}
	}
	x.inhibitors = append(append([]*rule(nil), x.offline...), x.fault...)
	return x
}

// stationState is one station's evaluation state.
type stationState struct {
	id, point   string
	medium      reading.Medium
	info        StationInfo
	known       bool // info came from the registry
	owned       bool
	lastArrival time.Time
	lastEvent   time.Time
	willAt      time.Time // when its connection ended, if after its last arrival
	hourDone    time.Time // the last hour end the windowed rules were evaluated at
	hourRetry   bool      // that hour had no valid value yet: ask again by the clock
	dirty       bool
	tracks      map[string]*track // by rule name
	byRule      []*track          // the same tracks by rule index; nil for none yet
	metrics     map[string]*metricState
	metricList  []*metricState // metrics, in the order first seen
	// claimed is whether a reading said this engine owns the station,
	// and none said otherwise since: its stored episodes were loaded when
	// the first of them came (see reload), so that the engine holds the
	// episodes another replica opened while that one owned the station.
	claimed bool
}

// metricState is what the engine keeps of one metric of a station.
type metricState struct {
	name   string
	fault  fault
	raw    []*rule // the raw threshold rules of the metric
	recent recentRing
}

type sample struct {
	T time.Time `json:"time"`
	V float64   `json:"value"`
}

// recentRing holds the last recentN raw values of a metric.
type recentRing struct {
	start int // the oldest
	n     int
	buf   [recentN]sample
}

// fault tracks one metric for the sensor-fault rule.
type fault struct {
	flaggedSince time.Time
	flags        reading.Flags
	stuckSince   time.Time
	last         float64
	hasLast      bool
	// seen is whether the engine saw a reading of the metric before the
	// current run of equal clean values began (a flagged one, or one of
	// another value), or seeded the run from a stored episode. Until then,
	// and for StuckFor, it is unknown whether the metric is stuck: the run
	// may have begun before the engine started or took the station over.
	seen bool
}

// track is the evaluation state of one rule at one station.
type track struct {
	ep           *Episode  // the open episode, or nil
	lastEval     time.Time // evaluated through, in the rule's time
	lastResolved time.Time
}

// New returns an engine; it migrates the alerts tables and loads open
// episodes and station arrivals from the database, so that evaluation goes
// on where it stopped.
func New(ctx context.Context, cfg Config) (*Engine, error) {
	if err := cfg.check(); err != nil {
		return nil, err
	}
	if err := Migrate(ctx, cfg.DB); err != nil {
		return nil, err
	}
	def, err := time.LoadLocation("Asia/Shanghai")
	if err != nil {
		return nil, err
	}
	e := &Engine{
		cfg: cfg, db: cfg.DB, log: cfg.Logger, def: def,
		stations: map[string]*stationState{},
		rules:    newRuleIndex(cfg.Rules),
		nudge:    make(chan struct{}, 1),
		hub:      new(sse.Hub[Event]),
	}
	e.water = map[string]bool{}
	for _, p := range quality.WaterParameters() {
		e.water[p.Key] = true
	}
	e.metrics = newMetrics(e)
	if cfg.Registerer != nil {
		if err := e.metrics.register(cfg.Registerer); err != nil {
			return nil, err
		}
	}
	if err := e.load(ctx); err != nil {
		return nil, fmt.Errorf("alerts: load state: %w", err)
	}
	return e, nil
}

// load rebuilds the in-memory state from the database.
func (e *Engine) load(ctx context.Context) error {
	rows, err := e.db.SQL().QueryContext(ctx, `SELECT station, point, medium, last_arrival, last_event, will_at FROM alerts_stations`)
	if err != nil {
		return err
	}
	for rows.Next() {
		var id, point, medium string
		var arr, ev int64
		var will sql.NullInt64
		if err := rows.Scan(&id, &point, &medium, &arr, &ev, &will); err != nil {
			rows.Close()
			return err
		}
		st := e.station(id)
		st.point, st.medium = point, reading.Medium(medium)
		st.lastArrival, st.lastEvent, st.willAt = time.UnixMilli(arr).UTC(), time.UnixMilli(ev).UTC(), fromNull(will)
		st.owned = true // until a reading says otherwise
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	rows, err = e.db.SQL().QueryContext(ctx, loadEpisodes)
	if err != nil {
		return err
	}
	return e.adoptRows(rows, nil)
}

// loadEpisodes selects the stored episodes that load and reload adopt: the
// open episode of each rule and station, the newest resolved one (for
// replay: what was evaluated), and the newest resolved one that fired (for
// flap damping: min_resolved counts from it). The rows come in no fixed
// order; adopt does not depend on it.
const loadEpisodes = `SELECT ` + episodeCols + ` FROM alerts_episodes e
		WHERE (state <> 'resolved'
		OR resolved_at = (SELECT MAX(resolved_at) FROM alerts_episodes x WHERE x.rule = e.rule AND x.station = e.station)
		OR (fired = 1 AND resolved_at = (SELECT MAX(resolved_at) FROM alerts_episodes x WHERE x.rule = e.rule AND x.station = e.station AND x.fired = 1)))`

// adoptRows adopts the episodes of rows (of loadEpisodes) and closes rows.
// If only is not nil, the episodes are all of that station.
func (e *Engine) adoptRows(rows *sql.Rows, only *stationState) error {
	defer rows.Close()
	for rows.Next() {
		ep, err := scanEpisode(rows)
		if err != nil {
			return err
		}
		r := e.rules.byName[ep.Rule]
		if r == nil {
			continue
		}
		st := only
		if st == nil {
			st = e.station(ep.Station)
		}
		if st.point == "" {
			st.point = ep.Point
		}
		st.track(r).adopt(ep)
		if r.Kind == rules.SensorFault && ep.State != Resolved {
			e.seedFault(st, ep)
		}
	}
	return rows.Err()
}

// reload replaces what the engine holds of the station's episodes and
// sensor-fault tracking with what the database holds, as load does for
// every station: the station's readings have just become this engine's to
// evaluate, and another replica may have opened, moved or resolved its
// episodes meanwhile.
func (e *Engine) reload(ctx context.Context, st *stationState) error {
	rows, err := e.db.SQL().QueryContext(ctx, loadEpisodes+` AND e.station = $1`, st.id)
	if err != nil {
		return fmt.Errorf("alerts: load episodes of %s: %w", st.id, err)
	}
	for _, tr := range st.byRule {
		if tr != nil {
			tr.ep = nil // lastEval and lastResolved only move forward
		}
	}
	// What was tracked when the engine last owned the station is stale.
	for _, m := range st.metricList {
		m.fault, m.recent = fault{}, recentRing{}
	}
	if err := e.adoptRows(rows, st); err != nil {
		return fmt.Errorf("alerts: load episodes of %s: %w", st.id, err)
	}
	return nil
}

// faultEvidence is what seedFault reads of a sensor-fault episode's
// evidence (see evalFault).
type faultEvidence struct {
	Detail struct {
		Metric     string    `json:"metric"`
		Flags      []string  `json:"flags"`
		Stuck      bool      `json:"stuck"`
		Since      time.Time `json:"since"`
		StuckValue *float64  `json:"stuck_value"`
		Recent     []sample  `json:"recent"`
	} `json:"detail"`
}

// seedFault sets the fault tracking of the metric that an open
// sensor-fault episode of the station is about from the episode's
// evidence: the metric, since when it is stuck (or flagged) and the stuck
// value. Without it, a restarted engine would count a stuck metric as
// stuck only from its first reading, and resolve the episode of a sensor
// that is still stuck. Evidence written before the stuck value was
// recorded gives the newest of its recent values instead.
func (e *Engine) seedFault(st *stationState, ep *Episode) {
	var ev faultEvidence
	if json.Unmarshal(ep.Evidence, &ev) != nil || ev.Detail.Metric == "" {
		return
	}
	d := &ev.Detail
	since := d.Since
	if since.IsZero() {
		since = ep.StartedAt
	}
	f := &e.metric(st, d.Metric).fault
	if !d.Stuck {
		var flags reading.Flags
		for _, n := range d.Flags {
			if fl, err := reading.ParseFlag(n); err == nil {
				flags |= fl
			}
		}
		if flags != 0 && (f.flaggedSince.IsZero() || since.Before(f.flaggedSince)) {
			f.flaggedSince, f.flags = since, f.flags|flags
		}
		return
	}
	var v float64
	switch {
	case d.StuckValue != nil:
		v = *d.StuckValue
	case len(d.Recent) > 0:
		v = d.Recent[len(d.Recent)-1].V
	default:
		return // evalFault does not count the metric clear until it changes
	}
	if !f.hasLast || since.Before(f.stuckSince) {
		f.stuckSince, f.last, f.hasLast, f.seen = since, v, true, true
	}
}

// adopt adds a stored episode to the track's state, at load: an open
// episode becomes the track's, and a resolved one only moves lastEval and,
// if it fired, lastResolved forward. The result does not depend on the
// order the episodes are adopted in; in particular a resolved episode
// never clears the open one.
func (tr *track) adopt(ep *Episode) {
	for _, t := range []*time.Time{&ep.StartedAt, ep.FiringAt, ep.ResolvedAt, ep.ClearSince} {
		if t != nil && t.After(tr.lastEval) {
			tr.lastEval = *t
		}
	}
	if ep.State == Resolved {
		if ep.ResolvedAt != nil && ep.Fired && ep.ResolvedAt.After(tr.lastResolved) {
			tr.lastResolved = *ep.ResolvedAt
		}
		return
	}
	tr.ep = ep
}

func (e *Engine) station(id string) *stationState {
	st := e.stations[id]
	if st == nil {
		st = &stationState{id: id, tracks: map[string]*track{}, byRule: make([]*track, len(e.rules.all)), metrics: map[string]*metricState{}}
		e.stations[id] = st
	}
	return st
}

func (st *stationState) track(r *rule) *track {
	tr := st.byRule[r.i]
	if tr == nil {
		tr = &track{}
		st.byRule[r.i] = tr
		st.tracks[r.Name] = tr
	}
	return tr
}

// metric returns the state of metric name, creating it.
func (e *Engine) metric(st *stationState, name string) *metricState {
	m := st.metrics[name]
	if m == nil {
		m = &metricState{name: name, raw: e.rules.raw[name]}
		st.metrics[name] = m
		st.metricList = append(st.metricList, m)
	}
	return m
}

// metricsOf returns the states of the metrics of vs, in order, in the
// engine's scratch slice: it holds until the next call.
func (e *Engine) metricsOf(st *stationState, vs []reading.Value) []*metricState {
	out := e.scratch[:0]
	for i := range vs {
		// A station's readings list their metrics in the same order,
		// mostly: try the i-th first.
		if i < len(st.metricList) && st.metricList[i].name == vs[i].Metric {
			out = append(out, st.metricList[i])
		} else {
			out = append(out, e.metric(st, vs[i].Metric))
		}
	}
	e.scratch = out
	return out
}

// loc returns the station's time zone.
func (e *Engine) loc(st *stationState) *time.Location {
	if st.info.Location != nil {
		return st.info.Location
	}
	return e.def
}

// Name is the sink's and component's name.
func (e *Engine) Name() string { return "alerts" }

// Consume evaluates a batch of accepted readings (ingest.Sink). Readings of
// stations another replica owns only update the station's last arrival.
// Consuming a batch again changes nothing: each rule skips readings older
// than what it has evaluated, and transitions are conditional updates.
func (e *Engine) Consume(ctx context.Context, batch []ingest.Accepted) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	var errs []error
	var st *stationState
	for i := range batch {
		// A batch often holds a station's readings one after another.
		if st == nil || st.id != batch[i].Station {
			st = e.station(batch[i].Station)
		}
		if err := e.consume(ctx, st, &batch[i]); err != nil {
			errs = append(errs, err)
		}
	}
	// The stations' arrivals are saved at most every stationFlush: a
	// crash loses at most that much of them, which only makes offline
	// count from a moment earlier; saving them with every batch cost more
	// than evaluating it.
	if now := e.cfg.Now(); now.Sub(e.flushed) >= stationFlush {
		if err := e.flushStations(ctx); err != nil {
			errs = append(errs, err)
		} else {
			e.flushed = now
		}
	}
	return errors.Join(errs...)
}

// stationFlush is how often Consume saves the stations' last arrivals;
// the clock pass and stopping save them too.
const stationFlush = time.Second

func (e *Engine) consume(ctx context.Context, st *stationState, a *ingest.Accepted) error {
	if !st.known {
		if info, ok := e.cfg.Stations.StationInfo(a.Station); ok {
			st.info, st.known = info, true
		}
	}
	if a.Point != "" {
		st.point = a.Point
	}
	st.medium = a.Medium
	st.owned = a.Owned
	var reloadErr error
	if a.Owned && !st.claimed && e.cfg.Shared {
		// Newly this engine's: take over its stored episodes first.
		if reloadErr = e.reload(ctx, st); reloadErr != nil {
			st.owned = false // not taken over: the next reading tries again
		}
	}
	st.claimed = st.owned
	arrived := a.Arrived
	if arrived.IsZero() {
		arrived = e.cfg.Now()
	}
	if arrived.After(st.lastArrival) {
		st.lastArrival, st.dirty = arrived, true
	}
	if a.Time.After(st.lastEvent) {
		st.lastEvent, st.dirty = a.Time, true
	}
	if !st.willAt.IsZero() && !arrived.Before(st.willAt) {
		st.willAt, st.dirty = time.Time{}, true
	}
	if !st.owned {
		return reloadErr
	}
	e.metrics.evaluations.Add(1)
	var errs []error
	add := func(err error) {
		if err != nil {
			errs = append(errs, err)
		}
	}
	// Data is back: offline resolves at the arrival.
	for _, r := range e.rules.offline {
		add(e.step(ctx, st, r, input{breach: false, clear: true, at: arrived, value: 0, by: "reading"}, nil))
	}
	ms := e.metricsOf(st, a.Values)
	add(e.evalFault(ctx, st, a, ms))
	add(e.evalRaw(ctx, st, a, ms))
	// The hours that ended before this reading's hour are complete.
	loc := e.loc(st)
	t := a.Time.In(loc)
	y, mo, d := t.Date()
	hourEnd := time.Date(y, mo, d, t.Hour(), 0, 0, 0, loc)
	if hourEnd.After(st.hourDone) {
		st.hourDone = hourEnd
		st.hourRetry = !e.evalHour(ctx, st, hourEnd, add)
	}
	return errors.Join(errs...)
}

// flushStations persists the stations' last arrivals, in one transaction.
func (e *Engine) flushStations(ctx context.Context) error {
	var dirty []*stationState
	for _, st := range e.stations {
		if st.dirty {
			dirty = append(dirty, st)
		}
	}
	if len(dirty) == 0 {
		return nil
	}
	// In one order on every replica, so that two replicas' saves on one
	// PostgreSQL take the rows' locks in the same order and cannot deadlock.
	slices.SortFunc(dirty, func(a, b *stationState) int { return strings.Compare(a.id, b.id) })
	args := make([]any, 0, 6*min(len(dirty), flushRows))
	err := e.db.Tx(ctx, func(tx *sql.Tx) error {
		var full *sql.Stmt // the statement of flushRows stations
		defer func() {
			if full != nil {
				full.Close()
			}
		}()
		for rest := dirty; len(rest) > 0; {
			// flushRows at a time, then the rest by powers of two.
			n := flushRows
			for n > len(rest) {
				n /= 2
			}
			chunk := rest[:n]
			rest = rest[n:]
			args = args[:0]
			for _, st := range chunk {
				args = append(args, st.id, st.point, string(st.medium), ms(st.lastArrival), ms(st.lastEvent), nullMs(st.willAt))
			}
			var err error
			if n == flushRows {
				if full == nil {
					if full, err = tx.PrepareContext(ctx, e.saveStations(n)); err != nil {
						return err
					}
				}
				_, err = full.ExecContext(ctx, args...)
			} else {
				_, err = tx.ExecContext(ctx, e.saveStations(n), args...)
			}
			if err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("alerts: save station arrivals: %w", err)
	}
	for _, st := range dirty {
		st.dirty = false
	}
	return nil
}

// flushRows is the most stations one statement of flushStations saves:
// a statement per station cost more than the upsert itself (and on
// PostgreSQL a round trip each). At six parameters a station it stays far
// below the parameters a statement may have (SQLite 32,766, PostgreSQL
// 65,535). The rest are saved in statements of powers of two stations, so
// that there are few distinct statements (PostgreSQL's driver caches each
// one it has prepared).
const (
	flushShift = 7
	flushRows  = 1 << flushShift
)

// saveStations returns the upsert of n stations' arrivals, six parameters
// each; n is a power of two, at most flushRows.
func (e *Engine) saveStations(n int) string {
	k := bits.Len(uint(n)) - 1
	if q := e.saveQ[k]; q != "" {
		return q
	}
	// SQLite's parameters are anonymous: binding a numbered or named one
	// searches the statement's list of them, which for hundreds of them
	// costs more than the upsert.
	greatest, row := "GREATEST", func(k int) string {
		return fmt.Sprintf("($%d, $%d, $%d, $%d, $%d, $%d)", k+1, k+2, k+3, k+4, k+5, k+6)
	}
	if e.db.Engine() == db.SQLite {
		greatest, row = "MAX", func(int) string { return "(?, ?, ?, ?, ?, ?)" }
	}
	var b strings.Builder
	b.WriteString(`INSERT INTO alerts_stations (station, point, medium, last_arrival, last_event, will_at) VALUES `)
	for i := range n {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(row(6 * i))
	}
	b.WriteString(`
ON CONFLICT (station) DO UPDATE SET point = excluded.point, medium = excluded.medium,
	last_arrival = ` + greatest + `(alerts_stations.last_arrival, excluded.last_arrival),
	last_event = ` + greatest + `(alerts_stations.last_event, excluded.last_event),
	will_at = excluded.will_at`)
	e.saveQ[k] = b.String()
	return e.saveQ[k]
}

// StationDisconnected tells the engine that a station's connection ended
// (its last will, or a status message saying offline) at t, by arrival
// time. The offline rule fires for it at the next clock pass if nothing
// arrives after t.
func (e *Engine) StationDisconnected(ctx context.Context, point, station string, t time.Time) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	st := e.station(station)
	if point != "" {
		st.point = point
	}
	if t.Before(st.lastArrival) {
		return nil
	}
	st.willAt, st.dirty = t, true
	if st.lastArrival.IsZero() {
		st.lastArrival, st.lastEvent = t, t
	}
	return e.flushStations(ctx)
}

// Run runs the clock pass every Tick until ctx ends.
func (e *Engine) Run(ctx context.Context) error {
	t := time.NewTicker(e.cfg.Tick)
	defer t.Stop()
	for {
		if err := e.Tick(ctx); err != nil && ctx.Err() == nil {
			e.log.Warn("alerts clock pass", "err", err)
		}
		e.mu.Lock()
		err := e.flushStations(ctx)
		e.mu.Unlock()
		if err != nil && ctx.Err() == nil {
			e.log.Warn("alerts: saving station arrivals", "err", err)
		}
		select {
		case <-ctx.Done():
			e.mu.Lock()
			defer e.mu.Unlock()
			sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			defer cancel()
			return e.flushStations(sctx)
		case <-t.C:
		}
	}
}

// Tick runs one clock pass at Config.Now: offline, windowed rules whose
// hour was not yet answerable, and repeat notifications.
func (e *Engine) Tick(ctx context.Context) error {
	now := e.cfg.Now()
	e.mu.Lock()
	var errs []error
	add := func(err error) {
		if err != nil {
			errs = append(errs, err)
		}
	}
	for _, st := range e.stations {
		if !st.owned {
			continue
		}
		for _, r := range e.rules.offline {
			add(e.evalOffline(ctx, st, r, now))
		}
		if st.hourRetry {
			st.hourRetry = !e.evalHour(ctx, st, st.hourDone, add)
		}
	}
	e.mu.Unlock()
	add(e.repeats(ctx, now))
	return errors.Join(errs...)
}

func (e *Engine) evalOffline(ctx context.Context, st *stationState, r *rule, now time.Time) error {
	if st.lastArrival.IsZero() {
		return nil
	}
	silent := now.Sub(st.lastArrival)
	will := *r.LastWill && !st.willAt.IsZero()
	breach := will || silent > r.After
	since := st.lastArrival.Add(r.After)
	note := fmt.Sprintf("nothing received since %s", st.lastArrival.UTC().Format(time.RFC3339))
	if will {
		since = st.willAt
		note = fmt.Sprintf("connection ended at %s", st.willAt.UTC().Format(time.RFC3339))
	}
	if !breach {
		return nil
	}
	return e.step(ctx, st, r, input{breach: true, since: since, at: now, by: "clock", note: note,
		data: rules.Data{Since: silent.Round(time.Minute).String()}}, func() any {
		return map[string]any{"last_arrival": st.lastArrival, "last_event": st.lastEvent, "silent": silent.Round(time.Second).String(),
			"after": r.After.String(), "last_will": will, "will_at": tp(st.willAt)}
	})
}

// inhibitor returns the firing inhibitor rule (offline or sensor fault) of
// the station, if any.
func (e *Engine) inhibitor(st *stationState) string {
	for _, r := range e.rules.inhibitors {
		if tr := st.byRule[r.i]; tr != nil && tr.ep != nil && tr.ep.State == Firing {
			return r.Name
		}
	}
	return ""
}

// input is one evaluation of one rule at one station.
type input struct {
	breach, clear bool
	// since is when the breach began; at when by default.
	since, at time.Time
	value     float64
	by, note  string
	data      rules.Data
}

// An evidenceFunc returns the details of an evaluation for an episode's
// evidence; it is called only when a transition needs them. It is passed
// beside the input, not in it, so that it does not escape to the heap
// with the input's strings: most evaluations change nothing, and then the
// function costs no allocation.
type evidenceFunc func() any

// step runs the episode state machine of rule r at station st on in. When
// an inhibitor (offline, sensor fault) fires, the station's pending
// threshold-like episodes end at once, unfired: the inhibitor is the alert
// of the incident.
func (e *Engine) step(ctx context.Context, st *stationState, r *rule, in input, ev evidenceFunc) error {
	err := e.step1(ctx, st, r, in, ev)
	if err != nil || !r.Kind.Inhibitor() {
		return err
	}
	if tr := st.byRule[r.i]; tr == nil || tr.ep == nil || tr.ep.State != Firing {
		return nil
	}
	for i, other := range st.byRule {
		o := e.rules.all[i]
		if other == nil || o.Kind.Inhibitor() || other.ep == nil || other.ep.State != Pending {
			continue
		}
		if err := e.move(ctx, st, o, other, Pending, Resolved, input{at: in.at, by: in.by}, nil, "inhibited by "+r.Name); err != nil {
			return err
		}
	}
	return nil
}

func (e *Engine) step1(ctx context.Context, st *stationState, r *rule, in input, ev evidenceFunc) error {
	tr := st.track(r)
	if in.at.Before(tr.lastEval) {
		return nil // replayed or late: already evaluated
	}
	tr.lastEval = in.at
	if in.since.IsZero() || in.since.After(in.at) {
		in.since = in.at
	}
	inhibitedBy := ""
	if !r.Kind.Inhibitor() {
		inhibitedBy = e.inhibitor(st)
	}
	hold := tr.lastResolved.IsZero() || in.at.Sub(tr.lastResolved) >= r.MinResolved
	ep := tr.ep
	switch {
	case ep == nil:
		if !in.breach || inhibitedBy != "" {
			return nil
		}
		state := Pending
		if in.at.Sub(in.since) >= r.For && hold {
			state = Firing
		}
		return e.open(ctx, st, r, tr, state, in, ev)
	case ep.State == Pending:
		switch {
		case inhibitedBy != "":
			return e.move(ctx, st, r, tr, Pending, Resolved, in, ev, "inhibited by "+inhibitedBy)
		case !in.breach:
			return e.move(ctx, st, r, tr, Pending, Resolved, in, ev, "cleared before "+r.For.String())
		case in.at.Sub(ep.StartedAt) >= r.For && hold:
			return e.move(ctx, st, r, tr, Pending, Firing, in, ev, "")
		}
	case ep.State == Firing:
		if !in.clear {
			if ep.ClearSince != nil {
				return e.setClearSince(ctx, tr, time.Time{})
			}
			return nil
		}
		if ep.ClearSince == nil {
			if err := e.setClearSince(ctx, tr, in.at); err != nil || tr.ep == nil {
				return err
			}
		}
		if in.at.Sub(*tr.ep.ClearSince) >= r.ClearFor && (ep.FiringAt == nil || in.at.Sub(*ep.FiringAt) >= r.MinFiring) {
			return e.move(ctx, st, r, tr, Firing, Resolved, in, ev, "")
		}
	}
	return nil
}

func (e *Engine) labels(st *stationState, r *rule) map[string]string {
	l := make(map[string]string, len(r.Labels)+6)
	for k, v := range r.Labels {
		l[k] = v
	}
	l["alertname"], l["rule"], l["station"], l["point"], l["medium"], l["severity"] = r.Name, r.Name, st.id, st.point, string(r.Medium), string(r.Severity)
	if r.Medium == "" {
		l["medium"] = string(st.medium)
	}
	return l
}

type evidence struct {
	Rule    string     `json:"rule"`
	Kind    string     `json:"kind"`
	At      time.Time  `json:"at"`
	Value   float64    `json:"value"`
	Detail  any        `json:"detail,omitempty"`
	Summary rules.Data `json:"thresholds"`
}

func (e *Engine) evidenceOf(st *stationState, r *rule, in input, detail evidenceFunc) string {
	ev := evidence{Rule: r.Name, Kind: string(r.Kind), At: in.at.UTC(), Value: in.value, Summary: in.data}
	if detail != nil {
		ev.Detail = detail()
	}
	b, _ := json.Marshal(ev)
	return string(b)
}

// open inserts a new episode, pending or firing. If another replica holds
// the open episode of the rule and station, the unique index refuses the
// insert and the engine adopts that one.
func (e *Engine) open(ctx context.Context, st *stationState, r *rule, tr *track, state State, in input, detail evidenceFunc) error {
	now := e.cfg.Now()
	in.data.Rule, in.data.Station, in.data.Point, in.data.Value = r.Name, st.id, st.point, in.value
	labels, _ := json.Marshal(e.labels(st, r))
	annMap := r.Render(in.data)
	ann, _ := json.Marshal(annMap)
	ev := e.evidenceOf(st, r, in, detail)
	ep := &Episode{
		ID: "al-" + randomID(8), Rule: r.Name, Kind: string(r.Kind), Station: st.id, Point: st.point, Medium: e.labels(st, r)["medium"],
		Severity: string(r.Severity), State: state, Fired: state == Firing, Evidence: json.RawMessage(ev), Value: in.value,
		StartedAt: in.since.UTC(), Seq: 1,
	}
	json.Unmarshal(labels, &ep.Labels)
	ep.Annotations = annMap
	if state == Firing {
		ep.FiringAt = tp(in.at.UTC())
		ep.NotifiedAt = tp(now.UTC())
	}
	err := e.db.Tx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO alerts_episodes (`+episodeCols+`, created_at, updated_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, NULL, NULL, NULL, NULL, $16, 1, $17, $17)`,
			ep.ID, ep.Rule, ep.Kind, ep.Station, ep.Point, ep.Medium, ep.Severity, string(state), b2i(ep.Fired), string(labels), string(ann), ev, in.value,
			ms(ep.StartedAt), nullIf(in.at, state == Firing), nullIf(now, state == Firing), ms(now))
		if err != nil {
			return err
		}
		note := in.note
		if err := addTransition(ctx, tx, ep.ID, 1, "", string(state), in.at, now, "rule:"+r.Name+" ("+in.by+")", note); err != nil {
			return err
		}
		if state == Firing {
			return e.enqueue(ctx, tx, ep, notify.Firing, 1, now)
		}
		return nil
	})
	if db.IsUniqueViolation(err) {
		// Another replica opened it first: take its episode.
		other, gerr := openEpisode(ctx, e.db.SQL(), r.Name, st.id)
		if gerr != nil || other == nil {
			return fmt.Errorf("alerts: adopt open episode of %s at %s: %v", r.Name, st.id, gerr)
		}
		tr.ep = other
		if state == Firing && other.State == Pending {
			return e.move(ctx, st, r, tr, Pending, Firing, in, detail, "")
		}
		return nil
	}
	if err != nil {
		return fmt.Errorf("alerts: open %s at %s: %w", r.Name, st.id, err)
	}
	tr.ep = ep
	e.after(ep, "", state)
	return nil
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// nullIf returns t, or NULL unless cond.
func nullIf(t time.Time, cond bool) sql.NullInt64 {
	if !cond {
		return sql.NullInt64{}
	}
	return nullMs(t)
}

// move changes the open episode of tr from one state to another, with a
// conditional update: if another replica moved it first, nothing is done
// twice and the stored episode is adopted.
func (e *Engine) move(ctx context.Context, st *stationState, r *rule, tr *track, from, to State, in input, detail evidenceFunc, note string) error {
	ep := tr.ep
	now := e.cfg.Now()
	if note == "" {
		note = in.note
	}
	var moved *Episode
	err := e.db.Tx(ctx, func(tx *sql.Tx) error {
		moved = nil
		seq := ep.Seq + 1
		var res sql.Result
		var err error
		switch to {
		case Firing:
			ev := e.evidenceOf(st, r, in, detail)
			res, err = tx.ExecContext(ctx, `UPDATE alerts_episodes SET state = 'firing', fired = 1, firing_at = $1, notified_at = $2, evidence = $3, value = $4, seq = seq + 1, updated_at = $2
				WHERE id = $5 AND state = 'pending'`, ms(in.at), ms(now), ev, in.value, ep.ID)
		case Resolved:
			res, err = tx.ExecContext(ctx, `UPDATE alerts_episodes SET state = 'resolved', resolved_at = $1, acked_at = NULL, acked_by = NULL, seq = seq + 1, updated_at = $2
				WHERE id = $3 AND state = $4`, ms(in.at), ms(now), ep.ID, string(from))
		}
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return nil // moved by another replica
		}
		if err := tx.QueryRowContext(ctx, `SELECT seq FROM alerts_episodes WHERE id = $1`, ep.ID).Scan(&seq); err != nil {
			return err
		}
		if err := addTransition(ctx, tx, ep.ID, seq, string(from), string(to), in.at, now, "rule:"+r.Name+" ("+in.by+")", note); err != nil {
			return err
		}
		m, err := getEpisode(ctx, tx, ep.ID)
		if err != nil {
			return err
		}
		switch {
		case to == Firing:
			err = e.enqueue(ctx, tx, m, notify.Firing, seq, now)
		case to == Resolved && from == Firing:
			err = e.enqueue(ctx, tx, m, notify.Resolved, seq, now)
		}
		moved = m
		return err
	})
	if err != nil {
		return fmt.Errorf("alerts: %s %s at %s: %w", to, r.Name, st.id, err)
	}
	if moved == nil {
		cur, err := getEpisode(ctx, e.db.SQL(), ep.ID)
		if err != nil {
			return err
		}
		moved = cur
	} else {
		e.after(moved, from, to)
	}
	tr.adoptMoved(moved)
	return nil
}

func (tr *track) adoptMoved(ep *Episode) {
	if ep.State == Resolved {
		tr.ep = nil
		if ep.Fired && ep.ResolvedAt != nil {
			tr.lastResolved = *ep.ResolvedAt
		}
		return
	}
	tr.ep = ep
}

func (e *Engine) setClearSince(ctx context.Context, tr *track, t time.Time) error {
	if _, err := e.db.SQL().ExecContext(ctx, `UPDATE alerts_episodes SET clear_since = $1 WHERE id = $2 AND state = 'firing'`, nullMs(t), tr.ep.ID); err != nil {
		return fmt.Errorf("alerts: save clear time: %w", err)
	}
	tr.ep.ClearSince = tp(t)
	return nil
}

// after tells watchers of a committed transition.
func (e *Engine) after(ep *Episode, from, to State) {
	e.metrics.transitions.WithLabelValues(ep.Rule, string(to)).Inc()
	e.hub.Publish(Event{Type: string(to), Episode: ep})
	if to == Firing || (to == Resolved && from == Firing) {
		select {
		case e.nudge <- struct{}{}:
		default:
		}
	}
}
