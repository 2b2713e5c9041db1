package simulators

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/envmon/envmon/reading"
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
	// Stations is how many stations to simulate; Points how many service
	// points they are spread over (default Stations/4, at least 1).
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

// Station is one simulated station of a Layout.
type Station struct {
	ID, Point string
	Medium    reading.Medium
}

// Layout returns the stations a Config simulates: at each point two air
// stations, one water and one noise, in turn.
func Layout(cfg Config) []Station {
	points := cfg.Points
	if points <= 0 {
		points = max(1, cfg.Stations/4)
	}
	prefix := cfg.Prefix
	if prefix == "" {
		prefix = "st-"
	}
	media := []reading.Medium{reading.Air, reading.Air, reading.Water, reading.Noise}
	out := make([]Station, cfg.Stations)
	for i := range out {
		out[i] = Station{
			ID:     fmt.Sprintf("%s%d", prefix, i+1),
			Point:  fmt.Sprintf("p%d", i%points+1),
			Medium: media[(i/points)%len(media)],
		}
	}
	return out
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
	stations := make([]StationConfig, len(layout))
	for i, st := range layout {
		stations[i] = StationConfig{
			ID: st.ID, Point: st.Point, Type: Specialised, Media: []reading.Medium{st.Medium},
			Interval: interval,
			// Spread the stations' first messages over one interval.
			Offset:   time.Duration(int64(interval) * int64(i) / int64(len(layout))),
			Format:   cfg.Format,
			Seed:     cfg.Seed*1_000_003 + uint64(i),
			Location: cfg.Location,
		}
	}
	now := time.Now()
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
