package alerts

import (
	"errors"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/envmon/envmon/alerts/notify"
	"github.com/envmon/envmon/alerts/rules"
	"github.com/envmon/envmon/db"
	"github.com/envmon/envmon/quality"
	"github.com/envmon/envmon/reading"
	"github.com/envmon/envmon/windows"
)

// StationInfo is what alerts needs of a station in the registry.
type StationInfo struct {
	ID, Point string
	Media     []reading.Medium
	// Location is the station's time zone; nil means Asia/Shanghai.
	Location *time.Location
	// NoiseZone is the GB 3096-2008 zone; zero: none, so no noise rule.
	NoiseZone quality.NoiseZone
	// WaterTarget is the GB 3838-2002 target class; Unclassed: none.
	WaterTarget quality.WaterClass
	WaterBody   quality.WaterBody
}

// Stations looks stations up in the registry. The service adapts
// station's registry to it.
type Stations interface {
	StationInfo(id string) (StationInfo, bool)
}

// StationsFunc adapts a function to Stations.
type StationsFunc func(id string) (StationInfo, bool)

// StationInfo calls f.
func (f StationsFunc) StationInfo(id string) (StationInfo, bool) { return f(id) }

// Teams tells which enforcement teams are responsible for a station, as
// package cases routes a case: the teams whose grid cells contain the grid
// cell of the station's point. The service adapts the station registry to
// it. Acknowledging and silencing are scoped by it (docs/ALERTS.md).
type Teams interface {
	// TeamsOf returns the ids of the teams covering station and the
	// station's grid cell path, "county/township/village" (it may stop at
	// any level); none and "" for a station the registry does not place.
	TeamsOf(station string) (teams []string, grid string)
}

// TeamsFunc adapts a function to Teams.
type TeamsFunc func(station string) ([]string, string)

// TeamsOf calls f.
func (f TeamsFunc) TeamsOf(station string) ([]string, string) { return f(station) }

// Windows is what alerts reads of package windows; *windows.Windows is one.
type Windows interface {
	Moving(station, metric string, n int, at time.Time) (windows.Mean, bool)
	Hourly(station, metric string, from, to time.Time) []windows.Hour
}

// Receiver is a named notifier.
type Receiver struct {
	Name     string
	Notifier notify.Notifier
}

// Config configures the Engine and Dispatcher.
type Config struct {
	DB    *db.DB
	Rules *rules.Set
	// Windows answers the windowed rules; nil disables them.
	Windows  Windows
	Stations Stations
	// Teams places stations in the teams' grid cells; when nil, only an
	// admin may acknowledge or silence, as no station is known to be any
	// team's.
	Teams Teams
	// Receivers get every firing, repeat and resolved notification.
	Receivers []Receiver
	// Replica names this process in leases and attempts; a random name
	// when empty.
	Replica string
	// Shared says that replicas share the stations (ingest's shared
	// subscription), so that a station's ownership moves when one joins
	// or leaves: the first owned reading of a station after start, or
	// after another replica owned it, then reloads its stored episodes,
	// which the other replica may have changed. One process alone never
	// needs to.
	Shared bool
	// Now is the clock of arrivals, offline, repeats and the outbox;
	// time.Now when nil. Evaluation of readings uses their event time.
	Now func() time.Time
	// Tick is the interval of the clock pass and of the dispatcher's
	// poll; DefaultTick when zero.
	Tick time.Duration
	// Retry is the outbox retry policy.
	Retry Retry
	// ExternalURL is the service's public base URL, for links.
	ExternalURL string
	Logger      *slog.Logger
	// Registerer registers the metrics; none when nil.
	Registerer prometheus.Registerer
}

// DefaultTick is the default interval of the clock pass.
const DefaultTick = 5 * time.Second

// Retry is the outbox's retry policy: attempt n (from 1) failing is retried
// after Base·2^(n-1), at most Max, until Attempts have failed; the row is
// then dead-lettered.
type Retry struct {
	Base     time.Duration
	Max      time.Duration
	Attempts int
	// Lease is how long a dispatcher holds a claimed row.
	Lease time.Duration
}

func (r Retry) withDefaults() Retry {
	if r.Base == 0 {
		r.Base = 10 * time.Second
	}
	if r.Max == 0 {
		r.Max = 10 * time.Minute
	}
	if r.Attempts == 0 {
		r.Attempts = 8
	}
	if r.Lease == 0 {
		r.Lease = time.Minute
	}
	return r
}

// Delay returns the wait after failed attempt n.
func (r Retry) Delay(n int) time.Duration {
	d := r.Base << min(n-1, 20)
	if d > r.Max || d <= 0 {
		d = r.Max
	}
	return d
}

func (c *Config) check() error {
	if c.DB == nil {
		return errors.New("alerts: no database")
	}
	if c.Rules == nil {
		c.Rules = rules.Default()
	}
	if c.Stations == nil {
		c.Stations = StationsFunc(func(string) (StationInfo, bool) { return StationInfo{}, false })
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Tick == 0 {
		c.Tick = DefaultTick
	}
	if c.Replica == "" {
		c.Replica = "replica-" + randomID(4)
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	c.Retry = c.Retry.withDefaults()
	return nil
}
