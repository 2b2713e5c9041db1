package station

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/envmon/envmon/quality"
	"github.com/envmon/envmon/reading"
)

// DefaultZone is the time zone of a station that names none, unless the
// deployment chooses another (WithDefaultZone).
const DefaultZone = "Asia/Shanghai"

// Name is a name in Chinese and English. A registry file may give one name
// for both.
type Name struct {
	Zh, En string
}

// IsZero reports whether n has no name in either language.
func (n Name) IsZero() bool { return n.Zh == "" && n.En == "" }

// PointType is the kind of an eco-environmental service point.
type PointType string

// The service points' types.
const (
	// Comprehensive points are fixed and measure several media.
	Comprehensive PointType = "comprehensive"
	// Specialised points are fixed and measure one medium.
	Specialised PointType = "specialised"
	// Mobile points move along a route and publish only at their stops,
	// with their position.
	Mobile PointType = "mobile"
)

// ParsePointType returns the point type written s.
func ParsePointType(s string) (PointType, error) {
	switch t := PointType(s); t {
	case Comprehensive, Specialised, Mobile:
		return t, nil
	}
	return "", fmt.Errorf("point type %q is not comprehensive, specialised or mobile", s)
}

// Grid is a cell of the supervision grid (网格): a county (区县), a
// township or street (乡镇/街道) in it, and a village or community
// (村/社区) in that. A cell may stop at any level: a county alone is the
// whole county.
type Grid struct {
	County, Township, Village string
}

// IsZero reports whether g names no cell.
func (g Grid) IsZero() bool { return g == Grid{} }

// Contains reports whether place g lies within cell c: c names the same
// county, and the same township and village where c names them. A cell
// that names nothing contains nothing.
func (c Grid) Contains(g Grid) bool {
	return c.County != "" && c.County == g.County &&
		(c.Township == "" || c.Township == g.Township) &&
		(c.Village == "" || c.Village == g.Village)
}

// Depth is how many levels c names: 0 to 3.
func (c Grid) Depth() int {
	switch {
	case c.Village != "":
		return 3
	case c.Township != "":
		return 2
	case c.County != "":
		return 1
	}
	return 0
}

// String writes the cell as a path: county/township/village.
func (c Grid) String() string {
	parts := []string{c.County, c.Township, c.Village}
	return strings.Join(parts[:c.Depth()], "/")
}

// Point is an eco-environmental service point (生态环境服务点): a place
// with one or more stations.
type Point struct {
	ID      string
	Name    Name
	Type    PointType
	Address string
	Grid    Grid
}

// Coordinates are a fixed station's position, WGS 84 degrees. A station
// without them has a nil *Coordinates, never 0,0.
type Coordinates struct {
	Lat, Lon float64
}

// Station is what the registry knows of a station that does not change
// while it runs: its static metadata. A station's grid cell is its
// point's.
type Station struct {
	ID    string
	Point string
	Name  Name
	Media []reading.Medium
	// Coordinates are nil when the registry does not give them.
	Coordinates *Coordinates
	// TimeZone is the zone the station's hours and days are counted in:
	// the registry's default (DefaultZone) unless the file names one. A
	// Registry never returns a station without one.
	TimeZone *time.Location
	// NoiseZone is a noise station's GB 3096-2008 zone class; zero when
	// not given.
	NoiseZone quality.NoiseZone
	// WaterTarget is the GB 3838-2002 class a water station's water body
	// must meet; quality.Unclassed when not given.
	WaterTarget quality.WaterClass
	// WaterBody is the kind of water a water station samples. A water
	// station listed in a registry file always gives it; one registered
	// on first sight has the zero value, quality.River.
	WaterBody quality.WaterBody
	// Metrics are the metrics the station measures; empty means any
	// metric of its media (docs/MQTT.md).
	Metrics []string
	// MQTTPasswordHash is the bcrypt hash of the password the station logs
	// in to the embedded MQTT broker with, its id as the username. It never
	// leaves the process: it prints redacted.
	MQTTPasswordHash Hash `json:"-"`
}

// Measures reports whether the station measures metric: its metrics list
// it, or it lists none and the metric is one of its media's.
func (s Station) Measures(metric string) bool {
	if len(s.Metrics) > 0 {
		return slices.Contains(s.Metrics, metric)
	}
	m, ok := reading.LookupMetric(metric)
	if !ok {
		return false
	}
	return slices.ContainsFunc(s.Media, m.Reports)
}

// clone returns s with its own slices.
func (s Station) clone() Station {
	s.Media = slices.Clone(s.Media)
	s.Metrics = slices.Clone(s.Metrics)
	if s.Coordinates != nil {
		c := *s.Coordinates
		s.Coordinates = &c
	}
	return s
}

// Team is a local enforcement team: the grid cells it covers and how to
// reach it. Its contacts are personal data: they never appear in public
// responses or logs.
type Team struct {
	ID   string
	Name Name
	// Cells are the grid cells the team covers.
	Cells    []Grid
	Contacts []Contact `json:"-"`
}

// Covers reports whether the team covers place g, and how closely: the
// depth of its most specific cell that contains g (1 to 3), or 0.
func (t Team) Covers(g Grid) int {
	best := 0
	for _, c := range t.Cells {
		if c.Contains(g) {
			best = max(best, c.Depth())
		}
	}
	return best
}

// Contact is a person to reach in a team. Every field is Personal: it
// prints, logs and marshals as "<personal>".
type Contact struct {
	Name, Phone, Email Personal
}

// Personal is personal data, such as a phone number. It prints as
// <personal> under every fmt verb, in slog and in JSON; Reveal gives the
// value to the code that must use it (a notifier that calls the number).
type Personal string

const redacted = "<personal>"

// Reveal returns the value itself.
func (p Personal) Reveal() string { return string(p) }

// String returns "<personal>", or "" when empty.
func (p Personal) String() string {
	if p == "" {
		return ""
	}
	return redacted
}

// Format prints p as String does, for every verb.
func (p Personal) Format(f fmt.State, _ rune) { fmt.Fprint(f, p.String()) }

// LogValue keeps the value out of slog output.
func (p Personal) LogValue() slog.Value { return slog.StringValue(p.String()) }

// MarshalJSON writes "<personal>": marshalling personal data by mistake
// gives nothing away.
func (p Personal) MarshalJSON() ([]byte, error) { return json.Marshal(p.String()) }

// MarshalText writes "<personal>", for encoders that use text.
func (p Personal) MarshalText() ([]byte, error) { return []byte(p.String()), nil }

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

// Live is a station's live state: what it last said and when it last
// reported. It is kept apart from the static Station, under its own lock.
type Live struct {
	Status   Status
	StatusAt time.Time // when the status message arrived
	LastSeen time.Time // the newest reading's time
}

// View is a station as the registry shows it: its static metadata, its
// service point, whether a registry file lists it, and its live state.
// View is internal: the API maps it to its own public types.
type View struct {
	Station
	ServicePoint Point
	// Registered is set for a station listed in the registry file; a
	// station registered on first sight has only the defaults.
	Registered bool
	Live
}
