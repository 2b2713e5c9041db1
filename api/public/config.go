package public

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"time"

	"github.com/envmon/envmon/quality"
	"github.com/envmon/envmon/reading"
	"github.com/envmon/envmon/store"
	"github.com/envmon/envmon/windows"
)

// Windows is what the public resources read of the hourly windows;
// *windows.Windows satisfies it.
type Windows interface {
	// Hourly returns the hours whose end is in (from, to], oldest first.
	Hourly(station, metric string, from, to time.Time) []windows.Hour
	// Moving returns the n-hour moving mean labelled at.
	Moving(station, metric string, n int, at time.Time) (windows.Mean, bool)
	// Daily returns the daily values of the day holding day.
	Daily(station, metric string, day time.Time) (windows.Day, bool)
}

// Changes tells of every hour of the windows that changes;
// *windows.Windows satisfies it.
type Changes interface {
	Subscribe(fn func(windows.Change)) (cancel func())
}

// Stations lists the stations the public resources show. The lead's
// adapter maps the station registry to StationInfo, so that this package
// does not depend on the registry's internals.
type Stations interface {
	Stations() []StationInfo
}

// StationsFunc adapts a function to Stations.
type StationsFunc func() []StationInfo

// Stations calls f.
func (f StationsFunc) Stations() []StationInfo { return f() }

// Name is a name in Chinese and English; either may be empty.
type Name struct{ Zh, En string }

// Coordinates are a WGS 84 position in degrees.
type Coordinates struct{ Lat, Lon float64 }

// StationInfo is the static description of one station, as this package
// consumes it.
type StationInfo struct {
	ID        string
	Point     string
	Name      Name
	PointName Name
	PointType string // comprehensive, specialised, mobile; may be empty
	Address   string
	Medium    reading.Medium
	// Coordinates is nil when the position is not known (absent is not
	// 0,0).
	Coordinates *Coordinates
	// Location is the station's time zone; nil means Asia/Shanghai.
	Location *time.Location
	// NoiseZone is the GB 3096-2008 zone of a noise station; 0 if none.
	NoiseZone quality.NoiseZone
	// WaterTarget is the GB 3838-2002 target class of a water station;
	// quality.Unclassed if none.
	WaterTarget quality.WaterClass
	// WaterBody is river or lake (GB 3838-2002 phosphorus limits).
	WaterBody quality.WaterBody
}

// Station states, as StationStatus.State gives them.
const (
	StateOnline  = "online"
	StateOffline = "offline"
	StateUnknown = "unknown"
)

// StationStatus is a station's last reported status.
type StationStatus struct {
	State string    // StateOnline, StateOffline or StateUnknown
	Since time.Time // when it was reported; zero if never
}

// Statuses gives the live status of stations.
type Statuses interface {
	Status(id string) (StationStatus, bool)
}

// StatusFunc adapts a function to Statuses.
type StatusFunc func(id string) (StationStatus, bool)

// Status calls f.
func (f StatusFunc) Status(id string) (StationStatus, bool) { return f(id) }

// Latest gives the latest value of every metric of a station; the station
// registry satisfies it. Water classes are computed from it.
type Latest interface {
	Latest(id string) ([]reading.Latest, bool)
}

// Aggregator answers downsampled store queries; store.Aggregator. It is
// used for the night Lmax of noise stations, which the windows (means
// only) cannot give.
type Aggregator = store.Aggregator

// Defaults of Config.
const (
	DefaultRateLimit  = 600
	DefaultRateWindow = time.Minute
	DefaultDebounce   = time.Second
	DefaultMaxAge     = 60 * time.Second
	DefaultNear       = 5
	MaxNear           = 100
	// MaxHistoryHourly and MaxHistoryDaily bound the range of
	// /api/v1/stations/{id}/aqi.
	MaxHistoryHourly = 31 * 24 * time.Hour
	MaxHistoryDaily  = 366 * 24 * time.Hour
	// NoiseDays is how many days /api/v1/noise shows: today and the days
	// before it that the windows' retention holds.
	NoiseDays = 3
)

// Config configures the public resources.
type Config struct {
	Windows Windows // required
	// Changes, optional, tells when to recompute the snapshot; when nil,
	// Windows is used if it is a Changes, else the snapshot is
	// recomputed only at each hour.
	Changes  Changes
	Stations Stations // required
	Statuses Statuses // optional: without it every station's state is unknown
	Latest   Latest   // optional: without it /api/v1/water has no values
	// Aggregates, optional, gives the night Lmax of noise stations.
	Aggregates Aggregator
	// Standard is the default standard of /api/v1/aqi; zero chooses by
	// the data's time (quality.StandardAt: HJ 633-2026 from 2026-03-01,
	// HJ 633-2012 before).
	Standard quality.Standard
	// Retention is how far back the windows hold hours
	// (windows.DefaultRetention when zero).
	Retention time.Duration
	// RateLimit requests per RateWindow per client; negative disables
	// limiting. DefaultRateLimit per DefaultRateWindow when zero.
	RateLimit  int
	RateWindow time.Duration
	// TrustedProxies are the peers whose X-Forwarded-For names the
	// client. From any other peer the header is ignored.
	TrustedProxies []netip.Prefix
	// Debounce is how long a late reading waits before the snapshot is
	// recomputed, so that a burst costs one computation.
	Debounce time.Duration
	// MaxAge caps Cache-Control's max-age, so that a late reading that
	// revises the current hour is seen within MaxAge.
	MaxAge time.Duration
	// Now is the clock; time.Now when nil.
	Now    func() time.Time
	Logger *slog.Logger
}

func (c Config) withDefaults() (Config, error) {
	if c.Windows == nil || c.Stations == nil {
		return c, fmt.Errorf("public: Config.Windows and Config.Stations are required")
	}
	if c.Standard != 0 && !c.Standard.Valid() {
		return c, fmt.Errorf("public: standard %v is not supported", c.Standard)
	}
	if c.Retention == 0 {
		c.Retention = windows.DefaultRetention
	}
	if c.RateLimit == 0 {
		c.RateLimit = DefaultRateLimit
	}
	if c.RateWindow <= 0 {
		c.RateWindow = DefaultRateWindow
	}
	if c.Debounce <= 0 {
		c.Debounce = DefaultDebounce
	}
	if c.MaxAge <= 0 {
		c.MaxAge = DefaultMaxAge
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Changes == nil {
		c.Changes, _ = c.Windows.(Changes)
	}
	if c.Statuses == nil {
		c.Statuses = StatusFunc(func(string) (StationStatus, bool) { return StationStatus{}, false })
	}
	return c, nil
}

// noAggregates answers no aggregate query.
func noAggregates(context.Context, store.AggregateQuery) ([]store.Bucket, error) { return nil, nil }
