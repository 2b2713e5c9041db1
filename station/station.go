package station

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/envmon/envmon/reading"
)

// Station describes one micro-station at a service point.
type Station struct {
	ID    string           `yaml:"id" json:"id"`
	Point string           `yaml:"point" json:"point"`
	Name  string           `yaml:"name" json:"name,omitempty"`
	Lat   float64          `yaml:"lat" json:"lat,omitempty"`
	Lon   float64          `yaml:"lon" json:"lon,omitempty"`
	Media []reading.Medium `yaml:"media" json:"media"`
	Grid  Grid             `yaml:"grid" json:"grid"`
	// NoiseZone is the GB 3096-2008 zone class: 0, 1, 2, 3, 4a or 4b.
	NoiseZone string `yaml:"noise_zone" json:"noise_zone,omitempty"`
	// WaterTarget is the GB 3838-2002 class the water body must meet: I-V.
	WaterTarget string `yaml:"water_target" json:"water_target,omitempty"`
	// MQTTPasswordHash is the bcrypt hash of the password the station logs
	// in to the embedded MQTT broker with, its id as the username. It never
	// leaves the process: the API's JSON omits it and it prints redacted.
	MQTTPasswordHash Hash `yaml:"mqtt_password_hash" json:"-"`
}

// Grid places a station in the supervision grid.
type Grid struct {
	County   string `yaml:"county" json:"county,omitempty"`
	Township string `yaml:"township" json:"township,omitempty"`
	Village  string `yaml:"village" json:"village,omitempty"`
}

// Status is what the station last said on its status topic.
type Status string

// Station statuses. Unknown is a station that has not said.
const (
	Unknown Status = "unknown"
	Online  Status = "online"
	Offline Status = "offline"
)

// ParseStatus parses a status payload.
func ParseStatus(s string) (Status, error) {
	switch st := Status(strings.TrimSpace(s)); st {
	case Online, Offline:
		return st, nil
	}
	return "", fmt.Errorf("status %q is not online or offline", s)
}

var idPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$`)

// ValidID reports whether s is a well-formed station or point id: 1 to 64
// letters, digits, '_', '.' or '-', starting with a letter or digit.
func ValidID(s string) bool { return idPattern.MatchString(s) }

// ErrUnknownStation is returned by Admit for a station the registry file
// does not list.
var ErrUnknownStation = errors.New("unknown station")

// View is a station with its live state, as the API shows it.
type View struct {
	Station
	Registered bool      `json:"registered"` // listed in the registry file
	Status     Status    `json:"status"`
	StatusAt   time.Time `json:"status_at,omitzero"` // when the status message arrived
	LastSeen   time.Time `json:"last_seen,omitzero"`
}

type entry struct {
	View
	latest map[string]reading.Latest
}

// DefaultMaxUnregistered is how many stations a registry registers on first
// sight unless told otherwise (MaxUnregistered).
const DefaultMaxUnregistered = 1000

// Registry is safe for concurrent use.
type Registry struct {
	mu              sync.RWMutex
	fixed           bool
	stations        map[string]*entry
	readers         map[string]Reader
	unregistered    int // entries not listed in the registry file
	maxUnregistered int
	logger          *slog.Logger
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

// MaxUnregistered bounds how many stations the registry registers on first
// sight (or on a first status message); beyond it Admit and SetStatus
// refuse a new station with ErrTooManyStations. The default is
// DefaultMaxUnregistered; 0 registers none.
func MaxUnregistered(n int) Option {
	return func(r *Registry) { r.maxUnregistered = max(n, 0) }
}

// New returns a registry of the given stations. If fixed, only they are
// admitted; otherwise new stations are registered on first sight, up to
// MaxUnregistered of them.
func New(stations []Station, fixed bool, logger *slog.Logger, opts ...Option) *Registry {
	if logger == nil {
		logger = slog.Default()
	}
	r := &Registry{fixed: fixed, stations: map[string]*entry{}, readers: map[string]Reader{}, maxUnregistered: DefaultMaxUnregistered, logger: logger}
	for _, s := range stations {
		r.stations[s.ID] = &entry{View: View{Station: s, Registered: true, Status: Unknown}, latest: map[string]reading.Latest{}}
	}
	for _, o := range opts {
		o(r)
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
	r.stations[id] = &entry{View: View{Station: Station{ID: id, Point: point, Media: []reading.Medium{m}}, Status: Unknown}, latest: map[string]reading.Latest{}}
	r.unregistered++
	r.logger.Info("registered station on first sight", "station", id, "point", point, "medium", m)
	return nil
}

func (e *entry) check(point string, m reading.Medium) error {
	if e.Point != point {
		return fmt.Errorf("station %q belongs to point %q, not %q", e.ID, e.Point, point)
	}
	if e.Registered && !slices.Contains(e.Media, m) {
		return fmt.Errorf("station %q is not registered for %s", e.ID, m)
	}
	return nil
}

// Observe records stored readings as the stations' latest values.
func (r *Registry) Observe(rs []reading.Reading) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, rd := range rs {
		e := r.ensure(rd.Point, rd.Station, rd.Medium)
		if rd.Time.After(e.LastSeen) {
			e.LastSeen = rd.Time
		}
		for _, v := range rd.Values {
			if old, ok := e.latest[v.Metric]; ok && old.Time.After(rd.Time) {
				continue // a late reading does not replace a newer one
			}
			e.latest[v.Metric] = reading.Latest{Point: rd.Point, Station: rd.Station, Medium: rd.Medium, Metric: v.Metric, Time: rd.Time, Value: v.Value, QC: v.QC}
		}
	}
}

// Seed rebuilds the latest values from a store at start.
func (r *Registry) Seed(ls []reading.Latest) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, l := range ls {
		if r.fixed {
			if _, ok := r.stations[l.Station]; !ok {
				continue // stored before the registry file dropped it
			}
		}
		e := r.ensure(l.Point, l.Station, l.Medium)
		if old, ok := e.latest[l.Metric]; !ok || l.Time.After(old.Time) {
			e.latest[l.Metric] = l
		}
		if l.Time.After(e.LastSeen) {
			e.LastSeen = l.Time
		}
	}
}

// ensure returns the entry for id, creating it; r.mu must be held.
func (r *Registry) ensure(point, id string, m reading.Medium) *entry {
	e, ok := r.stations[id]
	if !ok {
		e = &entry{View: View{Station: Station{ID: id, Point: point}, Status: Unknown}, latest: map[string]reading.Latest{}}
		r.stations[id] = e
		r.unregistered++ // seeded or observed: counted, not limited
	}
	if !slices.Contains(e.Media, m) {
		e.Media = append(slices.Clone(e.Media), m)
	}
	return e
}

// SetStatus records a station's status message, received at at. Status from an unknown
// station of a fixed registry is ignored and reported.
func (r *Registry) SetStatus(point, id string, st Status, at time.Time) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	e, ok := r.stations[id]
	if !ok {
		if r.fixed {
			return fmt.Errorf("%w %q", ErrUnknownStation, id)
		}
		if err := r.admitNew(id); err != nil {
			return err
		}
		e = &entry{View: View{Station: Station{ID: id, Point: point}}, latest: map[string]reading.Latest{}}
		r.stations[id] = e
		r.unregistered++
	}
	e.Status, e.StatusAt = st, at
	return nil
}

// List returns every station, sorted by point and id.
func (r *Registry) List() []View {
	r.mu.RLock()
	defer r.mu.RUnlock()
	out := make([]View, 0, len(r.stations))
	for _, e := range r.stations {
		v := e.View
		v.Media = slices.Clone(v.Media)
		out = append(out, v)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Point != out[j].Point {
			return out[i].Point < out[j].Point
		}
		return out[i].ID < out[j].ID
	})
	return out
}

// Get returns one station.
func (r *Registry) Get(id string) (View, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	e, ok := r.stations[id]
	if !ok {
		return View{}, false
	}
	v := e.View
	v.Media = slices.Clone(v.Media)
	return v, true
}

// Latest returns the latest value of each metric of station id, sorted by
// metric name.
func (r *Registry) Latest(id string) ([]reading.Latest, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	e, ok := r.stations[id]
	if !ok {
		return nil, false
	}
	out := make([]reading.Latest, 0, len(e.latest))
	for _, l := range e.latest {
		out = append(out, l)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Metric < out[j].Metric })
	return out, true
}

// File is the content of a station registry file.
type File struct {
	Stations []Station `yaml:"stations"`
	// Readers are read-only users of the embedded MQTT broker.
	Readers []Reader `yaml:"readers"`
}

// LoadFile reads a registry file's stations; see Load.
func LoadFile(path string) ([]Station, error) {
	f, err := Load(path)
	return f.Stations, err
}

// Load reads a registry file: a YAML list of stations under the key
// "stations" and of read-only MQTT users under "readers". Every station
// needs a valid id, a point and known media; a password hash must be a
// bcrypt hash.
func Load(path string) (File, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return File{}, fmt.Errorf("station registry: %w", err)
	}
	var doc File
	dec := yaml.NewDecoder(strings.NewReader(string(data)))
	dec.KnownFields(true)
	if err := dec.Decode(&doc); err != nil {
		return File{}, fmt.Errorf("station registry %s: %w", path, err)
	}
	if err := doc.check(path); err != nil {
		return File{}, err
	}
	return doc, nil
}

func (doc File) check(path string) error {
	seen := map[string]bool{}
	for i, s := range doc.Stations {
		where := fmt.Sprintf("station registry %s: stations[%d]", path, i)
		switch {
		case !ValidID(s.ID):
			return fmt.Errorf("%s: id %q is not a valid station id", where, s.ID)
		case seen[s.ID]:
			return fmt.Errorf("%s: id %q is listed twice", where, s.ID)
		case !ValidID(s.Point):
			return fmt.Errorf("%s (%s): point %q is not a valid point id", where, s.ID, s.Point)
		case len(s.Media) == 0:
			return fmt.Errorf("%s (%s): media must list air, water or noise", where, s.ID)
		case !(s.Lat >= -90 && s.Lat <= 90) || !(s.Lon >= -180 && s.Lon <= 180): // NaN fails both
			return fmt.Errorf("%s (%s): lat %v, lon %v: want |lat| ≤ 90 and |lon| ≤ 180", where, s.ID, s.Lat, s.Lon)
		}
		for _, m := range s.Media {
			if _, err := reading.ParseMedium(string(m)); err != nil {
				return fmt.Errorf("%s (%s): %w", where, s.ID, err)
			}
		}
		switch s.NoiseZone {
		case "", "0", "1", "2", "3", "4a", "4b":
		default:
			return fmt.Errorf("%s (%s): noise_zone %q is not a GB 3096-2008 class (0, 1, 2, 3, 4a, 4b)", where, s.ID, s.NoiseZone)
		}
		switch s.WaterTarget {
		case "", "I", "II", "III", "IV", "V":
		default:
			return fmt.Errorf("%s (%s): water_target %q is not a GB 3838-2002 class (I-V)", where, s.ID, s.WaterTarget)
		}
		if err := s.MQTTPasswordHash.check(); err != nil {
			return fmt.Errorf("%s (%s): mqtt_password_hash: %w", where, s.ID, err)
		}
		seen[s.ID] = true
	}
	for i, rd := range doc.Readers {
		where := fmt.Sprintf("station registry %s: readers[%d]", path, i)
		switch {
		case !ValidID(rd.Username):
			return fmt.Errorf("%s: username %q is not valid (1 to 64 letters, digits, '_', '.' or '-')", where, rd.Username)
		case seen[rd.Username]:
			return fmt.Errorf("%s: username %q is listed twice, or is a station id", where, rd.Username)
		case rd.PasswordHash == "":
			return fmt.Errorf("%s (%s): password_hash must be set (envmon passwd prints one)", where, rd.Username)
		case len(rd.Read) == 0:
			return fmt.Errorf("%s (%s): read must list the topic filters the user may subscribe to", where, rd.Username)
		}
		if err := rd.PasswordHash.check(); err != nil {
			return fmt.Errorf("%s (%s): password_hash: %w", where, rd.Username, err)
		}
		for _, f := range rd.Read {
			if !validFilter(f) {
				return fmt.Errorf("%s (%s): read: %q is not an MQTT topic filter", where, rd.Username, f)
			}
		}
		seen[rd.Username] = true
	}
	return nil
}
