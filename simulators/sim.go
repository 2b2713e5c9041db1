package simulators

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"sync/atomic"
	"time"

	"github.com/envmon/envmon/reading"
	"github.com/envmon/envmon/station"
)

// Config configures a continuous simulation: stations publishing in real
// time until stopped (envmon demo, envmon sim without a scenario).
type Config struct {
	Broker   string
	Username string
	Password string
	// TLSCA, TLSInsecure and ClientIDPrefix are as in Transport.
	TLSCA          string
	TLSInsecure    bool
	ClientIDPrefix string
	// Registry, if set, lists the stations to simulate, as a station
	// registry file does (package station): each publishes as its id at
	// its point, in its media, time zone and noise zone. Stations counts
	// them: the first Stations of the registry, and generated ones
	// (Layout) beyond it at the registry's points.
	Registry *station.File
	// Stations is how many stations to simulate; Points how many service
	// points generated stations are spread over (default Stations/4, at
	// least 1).
	Stations int
	Points   int
	// Rate is the total messages per second over all stations.
	Rate float64
	// Duration ends the run; zero runs until ctx is done.
	Duration time.Duration
	QoS      byte
	Format   Format
	Seed     uint64
	// Prefix starts every station id; default "st-".
	Prefix string
	// Location is the stations' time zone for daily cycles; default Local.
	Location *time.Location
	Logger   *slog.Logger
}

// Layout returns the stations a Config simulates, as registry entries:
// the first cfg.Stations of cfg.Registry, then generated ones. Generated
// stations are numbered on from the registry's (Prefix, default "st-",
// then N) and placed in turn, at each point, as two air stations, one
// water and one noise.
func Layout(cfg Config) []station.Station {
	var out []station.Station
	var points []string
	if cfg.Registry != nil {
		out = append(out, cfg.Registry.Stations[:min(cfg.Stations, len(cfg.Registry.Stations))]...)
		for _, p := range cfg.Registry.Points {
			points = append(points, p.ID)
		}
	}
	if len(points) == 0 {
		n := cfg.Points
		if n <= 0 {
			n = max(1, cfg.Stations/4)
		}
		for i := range n {
			points = append(points, fmt.Sprintf("p%d", i+1))
		}
	}
	prefix := cfg.Prefix
	if prefix == "" {
		prefix = "st-"
	}
	taken := map[string]bool{}
	for _, s := range out {
		taken[s.ID] = true
	}
	media := []reading.Medium{reading.Air, reading.Air, reading.Water, reading.Noise}
	for i, n := 0, 0; len(out) < cfg.Stations; n++ {
		id := fmt.Sprintf("%s%d", prefix, n+1)
		if taken[id] {
			continue
		}
		out = append(out, station.Station{
			ID:    id,
			Point: points[i%len(points)],
			Media: []reading.Medium{media[(i/len(points))%len(media)]},
		})
		i++
	}
	return out
}

// StationConfigFor returns the simulator's configuration of a registry
// station at point p (zero for a point the registry does not list): its
// id, point, point type, media, noise zone and time zone. The caller sets
// the timing, route, episodes and seed.
func StationConfigFor(s station.Station, p station.Point) StationConfig {
	return StationConfig{
		ID: s.ID, Point: s.Point, Type: p.Type, Media: s.Media,
		NoiseZone: s.NoiseZone, Location: s.TimeZone,
	}
}

// Stats counts what a run published.
type Stats struct {
	Published atomic.Int64
	Errors    atomic.Int64
}

// Run publishes readings for cfg.Stations stations, in real time, until
// cfg.Duration has passed or ctx is done. Each station has its own client,
// with a last will that marks it offline; on a clean stop the stations say
// offline themselves.
func Run(ctx context.Context, cfg Config, stats *Stats) error {
	if cfg.Stations <= 0 {
		return errors.New("sim: stations must be positive")
	}
	if cfg.Rate <= 0 {
		return errors.New("sim: rate must be positive")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Location == nil {
		cfg.Location = time.Local
	}
	if stats == nil {
		stats = new(Stats)
	}
	if cfg.Duration > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, cfg.Duration)
		defer cancel()
	}
	interval := time.Duration(float64(time.Second) * float64(cfg.Stations) / cfg.Rate)
	layout := Layout(cfg)
	points := map[string]station.Point{}
	if cfg.Registry != nil {
		for _, p := range cfg.Registry.Points {
			points[p.ID] = p
		}
	}
	now := time.Now()
	stations := make([]StationConfig, len(layout))
	for i, st := range layout {
		sc := StationConfigFor(st, points[st.Point])
		if sc.Type == "" {
			sc.Type = station.Specialised
		}
		if sc.Location == nil {
			sc.Location = cfg.Location
		}
		if sc.Type == station.Mobile {
			sc.Route = patrol(now, st, i)
		}
		sc.Interval = interval
		// Spread the stations' first messages over one interval.
		sc.Offset = time.Duration(int64(interval) * int64(i) / int64(len(layout)))
		sc.Format = cfg.Format
		sc.Seed = cfg.Seed*1_000_003 + uint64(i)
		stations[i] = sc
	}
	f, err := NewFleet(FleetConfig{
		Transport: Transport{Broker: cfg.Broker, Username: cfg.Username, Password: cfg.Password, QoS: cfg.QoS,
			TLSCA: cfg.TLSCA, TLSInsecure: cfg.TLSInsecure, ClientIDPrefix: cfg.ClientIDPrefix},
		Clock:    Clock{Start: now, Wall: now, Speed: 1},
		Stations: stations,
		Record: func(s Sent) {
			switch {
			case s.Delivered:
				stats.Published.Add(1)
			case s.Err != nil && ctx.Err() == nil:
				stats.Errors.Add(1)
			}
		},
		Logger: cfg.Logger,
	})
	if err != nil {
		return fmt.Errorf("sim: %w", err)
	}
	err = f.Run(ctx)
	f.Close(true)
	if err != nil {
		return fmt.Errorf("sim: %w", err)
	}
	return nil
}

// patrol returns a week of stops for a mobile station of a continuous
// run: around its base (its coordinates, or a default base), 40 minutes
// at each stop and 20 on the road, starting at start. The k-th station's
// stops differ from the others'.
func patrol(start time.Time, s station.Station, k int) []Stop {
	base := Position{Lat: 30.6571, Lon: 104.0658}
	if s.Coordinates != nil {
		base = Position{Lat: s.Coordinates.Lat, Lon: s.Coordinates.Lon}
	}
	var stops []Stop
	for i := range 7 * 24 {
		a := float64(i*5+k) * 0.7
		stops = append(stops, Stop{
			Position: Position{Lat: base.Lat + 0.02*math.Sin(a), Lon: base.Lon + 0.02*math.Cos(a)},
			Arrive:   start.Add(time.Duration(i) * time.Hour),
			Stay:     40 * time.Minute,
		})
	}
	return stops
}
