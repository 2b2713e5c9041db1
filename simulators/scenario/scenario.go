// Package scenario runs scripted simulations: a YAML file describes
// service points and their stations, in a registry section of the station
// registry file format (package station), the episodes that happen to them
// (pollution, rain, night construction, outages, faulty sensors) and the
// outcomes expected through envmon's HTTP API. Run publishes the scenario
// over MQTT; Verify then checks each expectation and reports what happened
// and what did not.
//
// Expectations are pluggable: each kind (stored, latest, stat, qc, status,
// aqi) decodes its own YAML, and new kinds — alerts, cases — register with
// Kinds without changing the others. docs/SIMULATOR.md describes the
// format.
package scenario

import (
	"bytes"
	"errors"
	"fmt"
	"hash/fnv"
	"io/fs"
	"os"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"
	_ "time/tzdata" // scenarios name IANA time zones; not every host has them

	"gopkg.in/yaml.v3"

	"github.com/envmon/envmon/reading"
	"github.com/envmon/envmon/simulators"
	"github.com/envmon/envmon/station"
)

// Scenario is a parsed scenario file.
type Scenario struct {
	Name, Title, Description string
	// Location is the stations' time zone; clock times such as "10:00"
	// are in it.
	Location *time.Location
	// StartOfDay is the scenario's start as a time of day, and Duration
	// its length in simulated time.
	StartOfDay time.Duration
	Duration   time.Duration
	Seed       uint64
	// Registry is the scenario's registry section, as package station
	// reads a registry file.
	Registry station.File
	Points   []Point
	Episodes []Episode
	Expect   []Expectation
}

// Point is a service point of the registry section, with its stations
// and, for a mobile point, its route.
type Point struct {
	station.Point
	Route []Stop
	// Stations are the point's stations.
	Stations []Station
}

// Station is a station of the registry section, with how it publishes.
type Station struct {
	station.Station
	Interval time.Duration
	Format   simulators.Format
}

// Stop is a stop of a mobile point's route, at an offset from the start.
type Stop struct {
	simulators.Position
	Arrive time.Duration
	Stay   time.Duration
}

// Episode is an episode of the scenario, at offsets from its start, for
// the stations it names.
type Episode struct {
	Stations []string // nil: every station
	// Episode holds the kind and parameters; its From and To are unset.
	simulators.Episode
	// At and Until are offsets from the start; Until zero is the end.
	At, Until time.Duration
	HasUntil  bool
}

// file is the YAML of a scenario.
type file struct {
	Name        string        `yaml:"name"`
	Title       string        `yaml:"title"`
	Description string        `yaml:"description"`
	Timezone    string        `yaml:"timezone"`
	Start       string        `yaml:"start"`
	Duration    time.Duration `yaml:"duration"`
	Interval    time.Duration `yaml:"interval"`
	Seed        uint64        `yaml:"seed"`
	Format      string        `yaml:"format"`
	// Registry is a station registry, in the registry file format.
	Registry yaml.Node `yaml:"registry"`
	// Publish sets how stations publish, by station id.
	Publish map[string]publishYAML `yaml:"publish"`
	// Routes are the mobile points' routes, by point id.
	Routes   map[string][]stopYAML `yaml:"routes"`
	Episodes []episodeYAML         `yaml:"episodes"`
	Expect   []yaml.Node           `yaml:"expect"`
}

type publishYAML struct {
	Interval time.Duration `yaml:"interval"`
	Format   string        `yaml:"format"`
}

type stopYAML struct {
	Lat    float64       `yaml:"lat"`
	Lon    float64       `yaml:"lon"`
	Arrive string        `yaml:"arrive"`
	Stay   time.Duration `yaml:"stay"`
}

type episodeYAML struct {
	Kind        string        `yaml:"kind"`
	Station     string        `yaml:"station"`
	Stations    []string      `yaml:"stations"`
	Medium      string        `yaml:"medium"`
	Metric      string        `yaml:"metric"`
	Metrics     []string      `yaml:"metrics"`
	At          string        `yaml:"at"`
	For         time.Duration `yaml:"for"`
	Until       string        `yaml:"until"`
	Probability float64       `yaml:"probability"`
	Value       float64       `yaml:"value"`
	Ramp        time.Duration `yaml:"ramp"`
	Skew        time.Duration `yaml:"skew"`
	Buffer      bool          `yaml:"buffer"`
	Conflict    bool          `yaml:"conflict"`
	Count       int           `yaml:"count"`
}

// Parse parses a scenario file. Its expectations are decoded by kinds
// (nil: the built-in kinds).
func Parse(data []byte, kinds *Kinds) (*Scenario, error) { return parse("", data, kinds) }

// parse parses a scenario file called name ("" for the scenario's name
// and .yaml) in errors.
func parse(name string, data []byte, kinds *Kinds) (*Scenario, error) {
	if kinds == nil {
		kinds = NewKinds()
	}
	var f file
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("scenario: %w", err)
	}
	where := "scenario"
	if f.Name != "" {
		where = "scenario " + f.Name
	}
	fail := func(format string, args ...any) (*Scenario, error) {
		return nil, fmt.Errorf("%s: %s", where, fmt.Sprintf(format, args...))
	}
	if f.Name == "" {
		return fail("name is required")
	}
	if name == "" {
		name = f.Name + ".yaml"
	}
	s := &Scenario{Name: f.Name, Title: f.Title, Description: strings.TrimSpace(f.Description), Duration: f.Duration, Seed: f.Seed}
	tz := f.Timezone
	if tz == "" {
		tz = "Asia/Shanghai"
	}
	var err error
	if s.Location, err = loadLocation(tz); err != nil {
		return fail("timezone: %v", err)
	}
	if f.Start == "" {
		f.Start = "00:00"
	}
	if s.StartOfDay, err = parseClock(f.Start); err != nil {
		return fail("start: %v", err)
	}
	if s.Duration <= 0 {
		return fail("duration must be positive, e.g. 12h")
	}
	if s.Duration > 24*time.Hour {
		return fail("duration %s is longer than a day: envmon flags readings more than 48 h old, and a scenario must end before now", s.Duration)
	}
	interval := f.Interval
	if interval == 0 {
		interval = 5 * time.Minute
	}
	if interval < time.Second {
		return fail("interval %s is shorter than a second", interval)
	}
	format, err := simulators.ParseFormat(f.Format)
	if err != nil {
		return fail("%v", err)
	}
	ctx := &Context{s: s}

	if f.Registry.Kind == 0 {
		return fail("registry is required: its points and stations, as in a station registry file")
	}
	if s.Registry, err = station.DecodeNode(name, &f.Registry); err != nil {
		return fail("registry: %v", err)
	}
	ids := map[string]bool{}
	byPoint := map[string][]Station{}
	for _, st := range s.Registry.Stations {
		x := Station{Station: st, Interval: interval, Format: format}
		if pub, ok := f.Publish[st.ID]; ok {
			if pub.Interval != 0 {
				x.Interval = pub.Interval
			}
			if pub.Format != "" {
				if x.Format, err = simulators.ParseFormat(pub.Format); err != nil {
					return fail("publish: %s: %v", st.ID, err)
				}
			}
		}
		ids[st.ID] = true
		byPoint[st.Point] = append(byPoint[st.Point], x)
	}
	for id := range f.Publish {
		if !ids[id] {
			return fail("publish: station %s is not in the registry section", id)
		}
	}
	routes := map[string]bool{}
	for _, p := range s.Registry.Points {
		pt := Point{Point: p, Stations: byPoint[p.ID]}
		for j, st := range f.Routes[p.ID] {
			at, err := ctx.Offset(st.Arrive)
			if err != nil {
				return fail("routes: %s[%d]: arrive: %v", p.ID, j, err)
			}
			pt.Route = append(pt.Route, Stop{Position: simulators.Position{Lat: st.Lat, Lon: st.Lon}, Arrive: at, Stay: st.Stay})
		}
		routes[p.ID] = true
		if len(pt.Stations) == 0 {
			return fail("point %s has no stations", p.ID)
		}
		s.Points = append(s.Points, pt)
	}
	for id := range f.Routes {
		if !routes[id] {
			return fail("routes: point %s is not in the registry section", id)
		}
	}
	if len(ids) == 0 {
		return fail("no stations: list points and their stations")
	}
	for i, e := range f.Episodes {
		ep, err := ctx.episode(e, ids)
		if err != nil {
			return fail("episodes[%d] (%s): %v", i, e.Kind, err)
		}
		s.Episodes = append(s.Episodes, ep)
	}
	for i := range f.Expect {
		x, err := kinds.decode(ctx, &f.Expect[i])
		if err != nil {
			return fail("expect[%d]: %v", i, err)
		}
		s.Expect = append(s.Expect, x)
	}
	// Check the stations as the simulator will see them.
	for _, sc := range s.stations(time.Date(2026, 1, 1, 0, 0, 0, 0, s.Location)) {
		if err := sc.Validate(); err != nil {
			return fail("%v", err)
		}
	}
	return s, nil
}

func (c *Context) episode(e episodeYAML, ids map[string]bool) (Episode, error) {
	ep := Episode{Episode: simulators.Episode{
		Kind: simulators.EpisodeKind(e.Kind), Probability: e.Probability, For: e.For, Medium: reading.Medium(e.Medium),
		Metrics: e.Metrics, Value: e.Value, Ramp: e.Ramp, Skew: e.Skew, Buffer: e.Buffer, Conflict: e.Conflict, Count: e.Count,
	}}
	if e.Metric != "" {
		ep.Metrics = append([]string{e.Metric}, ep.Metrics...)
	}
	switch {
	case e.Station == "*":
	case e.Station != "":
		ep.Stations = []string{e.Station}
	case len(e.Stations) > 0:
		ep.Stations = e.Stations
	default:
		return Episode{}, errors.New(`name its station (station: st-1), stations, or every one (station: "*")`)
	}
	for _, id := range ep.Stations {
		if !ids[id] {
			return Episode{}, fmt.Errorf("station %s is not in the scenario", id)
		}
	}
	var err error
	if e.At != "" {
		if ep.At, err = c.Offset(e.At); err != nil {
			return Episode{}, fmt.Errorf("at: %v", err)
		}
	}
	switch {
	case e.Until != "" && e.For != 0 && ep.Probability == 0:
		return Episode{}, errors.New("give for or until, not both")
	case e.Until != "":
		if ep.Until, err = c.Offset(e.Until); err != nil {
			return Episode{}, fmt.Errorf("until: %v", err)
		}
		ep.HasUntil = true
	case e.For != 0 && ep.Probability == 0:
		ep.Until, ep.HasUntil = ep.At+e.For, true
		ep.For = 0
	}
	if ep.HasUntil && ep.Until <= ep.At {
		return Episode{}, errors.New("it ends before it starts")
	}
	check := ep.Episode
	check.From = time.Unix(0, 0).Add(ep.At)
	if ep.HasUntil {
		check.To = time.Unix(0, 0).Add(ep.Until)
	}
	if err := check.Validate(); err != nil {
		return Episode{}, err
	}
	return ep, nil
}

// stations returns the simulator's stations for a run starting at start.
func (s *Scenario) stations(start time.Time) []simulators.StationConfig {
	var out []simulators.StationConfig
	for _, p := range s.Points {
		var route []simulators.Stop
		for _, st := range p.Route {
			route = append(route, simulators.Stop{Position: st.Position, Arrive: start.Add(st.Arrive), Stay: st.Stay})
		}
		for _, st := range p.Stations {
			sc := simulators.StationConfigFor(st.Station, p.Point)
			sc.Interval, sc.Route, sc.Format, sc.Seed = st.Interval, route, st.Format, stationSeed(s.Seed, st.ID)
			if sc.Location == nil {
				sc.Location = s.Location
			}
			for _, e := range s.Episodes {
				if e.Stations != nil && !slices.Contains(e.Stations, st.ID) {
					continue
				}
				ep := e.Episode
				ep.From = start.Add(e.At)
				if e.HasUntil {
					ep.To = start.Add(e.Until)
				}
				sc.Episodes = append(sc.Episodes, ep)
			}
			out = append(out, sc)
		}
	}
	return out
}

// StationIDs returns the scenario's station ids in file order.
func (s *Scenario) StationIDs() []string {
	var ids []string
	for _, p := range s.Points {
		for _, st := range p.Stations {
			ids = append(ids, st.ID)
		}
	}
	return ids
}

// stationSeed derives a station's seed from the scenario's and its id, so
// that adding a station leaves the others' values unchanged.
func stationSeed(seed uint64, id string) uint64 {
	h := fnv.New64a()
	fmt.Fprintf(h, "%d/%s", seed, id)
	return h.Sum64()
}

// Context is what an expectation's decoder may ask of its scenario.
type Context struct{ s *Scenario }

// Offset parses a scenario time: a clock time "10:00" or "10:00:30" (the
// first such time at or after the scenario's start), "start", "end", or
// an offset from the start such as "+90m". It returns the offset from the
// start.
func (c *Context) Offset(s string) (time.Duration, error) {
	switch s = strings.TrimSpace(s); {
	case s == "" || s == "start":
		return 0, nil
	case s == "end":
		return c.s.Duration, nil
	case strings.HasPrefix(s, "+"):
		d, err := time.ParseDuration(s[1:])
		if err != nil || d < 0 {
			return 0, fmt.Errorf("%q is not an offset like +90m", s)
		}
		if d > c.s.Duration {
			return 0, fmt.Errorf("%s is after the scenario's end (+%s)", s, c.s.Duration)
		}
		return d, nil
	}
	tod, err := parseClock(s)
	if err != nil {
		return 0, err
	}
	d := tod - c.s.StartOfDay
	if d < 0 {
		d += 24 * time.Hour
	}
	if d > c.s.Duration {
		return 0, fmt.Errorf("%s is not within the scenario (%s for %s)", s, clockString(c.s.StartOfDay), c.s.Duration)
	}
	return d, nil
}

// HasStation reports whether the scenario has station id.
func (c *Context) HasStation(id string) bool { return slices.Contains(c.s.StationIDs(), id) }

// Scenario returns the scenario being parsed, as far as it is parsed.
func (c *Context) Scenario() *Scenario { return c.s }

// parseClock parses "HH:MM" or "HH:MM:SS".
func parseClock(s string) (time.Duration, error) {
	parts := strings.Split(s, ":")
	if len(parts) < 2 || len(parts) > 3 {
		return 0, fmt.Errorf("%q is not a time of day like 10:00, start, end or +90m", s)
	}
	var n [3]int
	for i, p := range parts {
		v, err := strconv.Atoi(p)
		if err != nil || v < 0 || len(p) != 2 {
			return 0, fmt.Errorf("%q is not a time of day like 10:00, start, end or +90m", s)
		}
		n[i] = v
	}
	if n[0] > 23 || n[1] > 59 || n[2] > 59 {
		return 0, fmt.Errorf("%q is not a time of day", s)
	}
	return time.Duration(n[0])*time.Hour + time.Duration(n[1])*time.Minute + time.Duration(n[2])*time.Second, nil
}

func clockString(d time.Duration) string {
	return fmt.Sprintf("%02d:%02d", int(d/time.Hour), int(d%time.Hour/time.Minute))
}

func loadLocation(name string) (*time.Location, error) {
	if name == "UTC" || name == "Local" {
		return time.LoadLocation(name)
	}
	if t, err := time.Parse("-07:00", name); err == nil {
		_, off := t.Zone()
		return time.FixedZone(name, off), nil
	}
	return time.LoadLocation(name)
}

// Names returns the names of the shipped scenarios.
func Names() []string {
	entries, _ := fs.ReadDir(simulators.Library(), ".")
	var names []string
	for _, e := range entries {
		if n, ok := strings.CutSuffix(e.Name(), ".yaml"); ok {
			names = append(names, n)
		}
	}
	return names
}

// Open reads a scenario by name from the shipped library, or else from a
// file path.
func Open(nameOrPath string, kinds *Kinds) (*Scenario, error) {
	if !strings.ContainsAny(nameOrPath, `/\`) && path.Ext(nameOrPath) == "" {
		if data, err := fs.ReadFile(simulators.Library(), nameOrPath+".yaml"); err == nil {
			return parse("simulators/scenarios/"+nameOrPath+".yaml", data, kinds)
		}
		if _, err := os.Stat(nameOrPath); err != nil {
			return nil, fmt.Errorf("scenario %q is neither a shipped scenario (%s) nor a file", nameOrPath, strings.Join(Names(), ", "))
		}
	}
	data, err := os.ReadFile(nameOrPath)
	if err != nil {
		return nil, fmt.Errorf("scenario: %w", err)
	}
	return parse(nameOrPath, data, kinds)
}
