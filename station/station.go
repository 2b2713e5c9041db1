package station

import (
	"cmp"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"
	_ "time/tzdata" // registry files name IANA time zones; not every host has them

	"github.com/envmon/envmon/reading"
)

// ValidID reports whether s is a well-formed station, point or team id: 1
// to 64 letters, digits, '_', '.' or '-', starting with a letter or digit.
// (It accepts what ^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$ matches; a test holds
// it to that.)
func ValidID(s string) bool {
	if len(s) == 0 || len(s) > 64 || idByte[s[0]] != idAlnum {
		return false
	}
	for i := 1; i < len(s); i++ {
		if idByte[s[i]] == 0 {
			return false
		}
	}
	return true
}

// idByte classifies the bytes of an id: idAlnum for ASCII letters and
// digits, idPunct for '_', '.' and '-', zero for any other.
var idByte = func() (t [256]byte) {
	for c := range t {
		switch {
		case 'A' <= c && c <= 'Z', 'a' <= c && c <= 'z', '0' <= c && c <= '9':
			t[c] = idAlnum
		case c == '_', c == '.', c == '-':
			t[c] = idPunct
		}
	}
	return t
}()

const (
	idAlnum = 1 + iota
	idPunct
)

// ErrUnknownStation is returned by Admit for a station the registry file
// does not list.
var ErrUnknownStation = errors.New("unknown station")

// meta is a station's static entry. It is never changed once stored: a
// change stores a new one.
type meta struct {
	st         Station
	registered bool
}

// live is a station's live entry.
type live struct {
	Live
	// latest holds each metric's latest value, by pointer so that
	// Observe updates it in place with one map access.
	latest map[string]*reading.Latest
}

// DefaultMaxUnregistered is how many stations a registry registers on first
// sight unless told otherwise (MaxUnregistered).
const DefaultMaxUnregistered = 1000

// Registry is the station registry: static metadata (points, stations,
// teams, MQTT accounts) under one lock and live state (status, last seen,
// latest values) under another. It is safe for concurrent use. Where both
// locks are taken, mu is taken first.
type Registry struct {
	fixed  bool
	zone   *time.Location
	logger *slog.Logger

	mu              sync.RWMutex // guards the static metadata below
	stations        map[string]*meta
	points          map[string]Point
	teams           []Team
	readers         map[string]Reader
	unregistered    int // entries not listed in the registry file
	maxUnregistered int

	liveMu sync.Mutex // guards live
	live   map[string]*live
}

// An Option configures a Registry beyond its stations.
type Option func(*Registry)

// WithReaders gives the registry the read-only MQTT users of its file,
// for Lookup.
func WithReaders(rs []Reader) Option {
	return func(r *Registry) {
		for _, rd := range rs {
			r.readers[rd.Username] = rd
		}
	}
}

// WithFile gives the registry a registry file's points, teams and readers;
// its stations are New's first argument.
func WithFile(f File) Option {
	return func(r *Registry) {
		for _, p := range f.Points {
			r.points[p.ID] = p
		}
		r.teams = append(r.teams, f.Teams...)
		WithReaders(f.Readers)(r)
	}
}

// WithDefaultZone sets the time zone of stations that name none, those
// registered on first sight included; the default is DefaultZone.
func WithDefaultZone(loc *time.Location) Option {
	return func(r *Registry) {
		if loc != nil {
			r.zone = loc
		}
	}
}

// MaxUnregistered bounds how many stations the registry registers on first
// sight (or on a first status message); beyond it Admit and SetStatus
// refuse a new station with ErrTooManyStations. The default is
// DefaultMaxUnregistered; 0 registers none.
func MaxUnregistered(n int) Option {
	return func(r *Registry) { r.maxUnregistered = max(n, 0) }
}

// New returns a registry of the given stations. If fixed, only they are
// admitted; otherwise new stations are registered on first sight, up to
// MaxUnregistered of them, with the defaults: the default time zone, and
// the grid cell of their point if the registry knows it.
func New(stations []Station, fixed bool, logger *slog.Logger, opts ...Option) *Registry {
	if logger == nil {
		logger = slog.Default()
	}
	r := &Registry{fixed: fixed, logger: logger,
		stations: map[string]*meta{}, points: map[string]Point{}, readers: map[string]Reader{},
		live: map[string]*live{}, maxUnregistered: DefaultMaxUnregistered}
	for _, o := range opts {
		o(r)
	}
	if r.zone == nil {
		var err error
		if r.zone, err = time.LoadLocation(DefaultZone); err != nil {
			panic(err) // time/tzdata is embedded
		}
	}
	for _, s := range stations {
		s = s.clone()
		if s.TimeZone == nil {
			s.TimeZone = r.zone
		}
		r.stations[s.ID] = &meta{st: s, registered: true}
	}
	return r
}

// ErrTooManyStations is returned by Admit and SetStatus for a new station
// once MaxUnregistered stations have been registered on first sight.
var ErrTooManyStations = errors.New("too many stations registered on first sight")

// admitNew checks that one more station may be registered on first sight;
// r.mu must be held.
func (r *Registry) admitNew(id string) error {
	if r.unregistered >= r.maxUnregistered {
		return fmt.Errorf("%w: station %q would be number %d, over the limit stations.max_unregistered = %d; list it in the station registry file (stations.file) or raise the limit",
			ErrTooManyStations, id, r.unregistered+1, r.maxUnregistered)
	}
	return nil
}

// firstSight stores a station registered on first sight, with the
// defaults; r.mu must be held for writing.
func (r *Registry) firstSight(point, id string, media []reading.Medium) *meta {
	m := &meta{st: Station{ID: id, Point: point, Media: media, TimeZone: r.zone}}
	r.stations[id] = m
	r.unregistered++
	return m
}

// Admit checks a message's station before its readings are accepted. An
// unregistered station is registered, or rejected with ErrUnknownStation if
// the registry is fixed. A station that reports under a different point or
// medium than registered is rejected too.
func (r *Registry) Admit(point, id string, m reading.Medium) error {
	r.mu.RLock()
	e, ok := r.stations[id]
	r.mu.RUnlock()
	if ok {
		return e.check(point, m)
	}
	if r.fixed {
		return fmt.Errorf("%w %q", ErrUnknownStation, id)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if e, ok := r.stations[id]; ok { // registered since the read lock
		return e.check(point, m)
	}
	if err := r.admitNew(id); err != nil {
		return err
	}
	r.firstSight(point, id, []reading.Medium{m})
	r.logger.Info("registered station on first sight", "station", id, "point", point, "medium", m)
	return nil
}

func (e *meta) check(point string, m reading.Medium) error {
	if e.st.Point != point {
		return fmt.Errorf("station %q belongs to point %q, not %q", e.st.ID, e.st.Point, point)
	}
	if e.registered && !slices.Contains(e.st.Media, m) {
		return fmt.Errorf("station %q is not registered for %s", e.st.ID, m)
	}
	return nil
}

// ensure returns the static entry for id, creating it; r.mu must be held
// for writing. Stations seeded or observed are counted, not limited.
func (r *Registry) ensure(point, id string, m reading.Medium) {
	e, ok := r.stations[id]
	if !ok {
		r.firstSight(point, id, []reading.Medium{m})
		return
	}
	if !slices.Contains(e.st.Media, m) {
		n := *e
		n.st.Media = append(slices.Clone(e.st.Media), m)
		r.stations[id] = &n
	}
}

// known reports whether every station of rs is in the registry with the
// reading's medium; r.mu must be held.
func (r *Registry) known(n int, at func(int) (id string, m reading.Medium)) bool {
	var prevID string
	var prevM reading.Medium
	for i := range n {
		id, m := at(i)
		if i > 0 && id == prevID && m == prevM {
			continue // a station's readings often come one after another
		}
		prevID, prevM = id, m
		e, ok := r.stations[id]
		if !ok || !slices.Contains(e.st.Media, m) {
			return false
		}
	}
	return true
}

// liveOf returns the live entry for id, creating it; r.liveMu must be held.
func (r *Registry) liveOf(id string) *live {
	l, ok := r.live[id]
	if !ok {
		l = &live{Live: Live{Status: Unknown}, latest: map[string]*reading.Latest{}}
		r.live[id] = l
	}
	return l
}

// Observe records stored readings as the stations' latest values.
func (r *Registry) Observe(rs []reading.Reading) {
	at := func(i int) (string, reading.Medium) { return rs[i].Station, rs[i].Medium }
	r.mu.RLock()
	ok := r.known(len(rs), at)
	r.mu.RUnlock()
	if !ok {
		r.mu.Lock()
		for _, rd := range rs {
			r.ensure(rd.Point, rd.Station, rd.Medium)
		}
		r.mu.Unlock()
	}
	r.liveMu.Lock()
	defer r.liveMu.Unlock()
	var e *live
	for i := range rs {
		rd := &rs[i]
		if e == nil || rd.Station != rs[i-1].Station {
			e = r.liveOf(rd.Station)
		}
		if rd.Time.After(e.LastSeen) {
			e.LastSeen = rd.Time
		}
		for _, v := range rd.Values {
			old := e.latest[v.Metric]
			if old != nil && old.Time.After(rd.Time) {
				continue // a late reading does not replace a newer one
			}
			if old == nil {
				old = new(reading.Latest)
				e.latest[v.Metric] = old
			}
			*old = reading.Latest{Point: rd.Point, Station: rd.Station, Medium: rd.Medium, Metric: v.Metric, Time: rd.Time, Value: v.Value, QC: v.QC}
		}
	}
}

// Seed rebuilds the latest values from a store at start.
func (r *Registry) Seed(ls []reading.Latest) {
	r.mu.Lock()
	kept := ls[:0:0]
	for _, l := range ls {
		if _, ok := r.stations[l.Station]; !ok && r.fixed {
			continue // stored before the registry file dropped it
		}
		r.ensure(l.Point, l.Station, l.Medium)
		kept = append(kept, l)
	}
	r.mu.Unlock()
	r.liveMu.Lock()
	defer r.liveMu.Unlock()
	for _, l := range kept {
		e := r.liveOf(l.Station)
		if old, ok := e.latest[l.Metric]; !ok || l.Time.After(old.Time) {
			v := l
			e.latest[l.Metric] = &v
		}
		if l.Time.After(e.LastSeen) {
			e.LastSeen = l.Time
		}
	}
}

// SetStatus records a station's status message, received at at. Status from an unknown
// station of a fixed registry is ignored and reported.
func (r *Registry) SetStatus(point, id string, st Status, at time.Time) error {
	r.mu.RLock()
	_, ok := r.stations[id]
	r.mu.RUnlock()
	if !ok {
		if r.fixed {
			return fmt.Errorf("%w %q", ErrUnknownStation, id)
		}
		r.mu.Lock()
		if _, ok := r.stations[id]; !ok {
			if err := r.admitNew(id); err != nil {
				r.mu.Unlock()
				return err
			}
			r.firstSight(point, id, nil)
		}
		r.mu.Unlock()
	}
	r.liveMu.Lock()
	defer r.liveMu.Unlock()
	e := r.liveOf(id)
	e.Status, e.StatusAt = st, at
	return nil
}

// view returns the view of e, without its live state; r.mu must be held.
func (r *Registry) view(e *meta) View {
	pt, ok := r.points[e.st.Point]
	if !ok {
		pt = Point{ID: e.st.Point}
	}
	return View{Station: e.st.clone(), ServicePoint: pt, Registered: e.registered, Live: Live{Status: Unknown}}
}

// List returns every station, sorted by point and id.
func (r *Registry) List() []View {
	r.mu.RLock()
	out := make([]View, 0, len(r.stations))
	for _, e := range r.stations {
		out = append(out, r.view(e))
	}
	r.mu.RUnlock()
	r.liveMu.Lock()
	for i := range out {
		if l, ok := r.live[out[i].ID]; ok {
			out[i].Live = l.Live
		}
	}
	r.liveMu.Unlock()
	sort.Slice(out, func(i, j int) bool {
		if out[i].Point != out[j].Point {
			return out[i].Point < out[j].Point
		}
		return out[i].ID < out[j].ID
	})
	return out
}

// Page returns up to limit stations that follow the station (afterPoint,
// afterID) in List's order (all of them from the start when both are
// empty), and how many stations there are. Only the page is copied, so a
// page of a large registry costs little.
func (r *Registry) Page(afterPoint, afterID string, limit int) ([]View, int) {
	type key struct{ point, id string }
	r.mu.RLock()
	keys := make([]key, 0, len(r.stations))
	for id, e := range r.stations {
		keys = append(keys, key{e.st.Point, id})
	}
	r.mu.RUnlock()
	cmpKey := func(a, b key) int { return cmp.Or(strings.Compare(a.point, b.point), strings.Compare(a.id, b.id)) }
	slices.SortFunc(keys, cmpKey)
	start := 0
	if afterPoint != "" || afterID != "" {
		after := key{afterPoint, afterID}
		var found bool
		if start, found = slices.BinarySearchFunc(keys, after, cmpKey); found {
			start++
		}
	}
	keys = keys[start:min(start+max(limit, 0), len(keys))]
	out := make([]View, 0, len(keys))
	for _, k := range keys {
		if v, ok := r.Get(k.id); ok {
			out = append(out, v)
		}
	}
	return out, len(r.stations)
}

// Get returns one station.
func (r *Registry) Get(id string) (View, bool) {
	r.mu.RLock()
	e, ok := r.stations[id]
	var v View
	if ok {
		v = r.view(e)
	}
	r.mu.RUnlock()
	if !ok {
		return View{}, false
	}
	r.liveMu.Lock()
	if l, ok := r.live[id]; ok {
		v.Live = l.Live
	}
	r.liveMu.Unlock()
	return v, true
}

// Location returns station id's time zone, or the registry's default for
// a station it does not know. windows and alerts count hours and days in
// it.
func (r *Registry) Location(id string) *time.Location {
	r.mu.RLock()
	defer r.mu.RUnlock()
	if e, ok := r.stations[id]; ok && e.st.TimeZone != nil {
		return e.st.TimeZone
	}
	return r.zone
}

// Latest returns the latest value of each metric of station id, sorted by
// metric name.
func (r *Registry) Latest(id string) ([]reading.Latest, bool) {
	r.mu.RLock()
	_, ok := r.stations[id]
	r.mu.RUnlock()
	if !ok {
		return nil, false
	}
	r.liveMu.Lock()
	defer r.liveMu.Unlock()
	l := r.live[id]
	if l == nil {
		return []reading.Latest{}, true
	}
	out := make([]reading.Latest, 0, len(l.latest))
	for _, v := range l.latest {
		out = append(out, *v)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Metric < out[j].Metric })
	return out, true
}

// Points returns the service points of the registry file, sorted by id.
func (r *Registry) Points() []Point {
	r.mu.RLock()
	defer r.mu.RUnlock()
	out := make([]Point, 0, len(r.points))
	for _, p := range r.points {
		out = append(out, p)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// Teams returns the teams whose cells contain place g, the one with the
// most specific cell first (a village's team before its township's), then
// by id. Their contacts are personal data: keep them off public routes
// and out of logs.
func (r *Registry) Teams(g Grid) []Team {
	r.mu.RLock()
	defer r.mu.RUnlock()
	var out []Team
	for _, t := range r.teams {
		if t.Covers(g) > 0 {
			t.Cells = slices.Clone(t.Cells)
			t.Contacts = slices.Clone(t.Contacts)
			out = append(out, t)
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		if di, dj := out[i].Covers(g), out[j].Covers(g); di != dj {
			return di > dj
		}
		return out[i].ID < out[j].ID
	})
	return out
}
