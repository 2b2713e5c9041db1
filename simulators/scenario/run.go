package scenario

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"
	"sync"
	"time"

	"github.com/envmon/envmon/simulators"
)

// RunConfig configures a scenario run.
type RunConfig struct {
	// Transport is how the stations reach the broker. Unless it sets a
	// ClientIDSuffix, each run gets a random one, so that the run's client
	// ids are its own.
	Transport simulators.Transport
	// Dial, if set, replaces MQTT (dry runs, tests).
	Dial simulators.Dialer
	// Speed is how many times faster than real time simulated time runs;
	// default 1.
	Speed float64
	// Start is the simulated start. Zero picks the latest day on which the
	// scenario, started at its time of day, ends before the wall clock
	// does, so that no timestamp is ever in the future.
	Start time.Time
	// Now is the wall clock; default time.Now.
	Now    func() time.Time
	Logger *slog.Logger
}

// Result is a scenario that has run: when it ran in simulated time, what
// every station sent, and the stations' connections, kept open as the
// scenario left them until Close.
type Result struct {
	Scenario   *Scenario
	Start, End time.Time
	// Began is the wall-clock time the run began.
	Began  time.Time
	Ledger *Ledger
	fleet  *simulators.Fleet
}

// Run publishes the scenario and returns once every station has sent its
// last reading (or ctx is done).
func Run(ctx context.Context, s *Scenario, cfg RunConfig) (*Result, error) {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Speed <= 0 {
		cfg.Speed = 1
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	wall := cfg.Now()
	start := cfg.Start
	if start.IsZero() {
		start = simulators.LatestDayStart(wall, s.Location, s.StartOfDay, s.Duration, cfg.Speed)
	}
	clock := simulators.Clock{Start: start, Wall: wall, Speed: cfg.Speed}
	if err := clock.Check(s.Duration); err != nil {
		return nil, fmt.Errorf("scenario %s: %w", s.Name, err)
	}
	r := &Result{Scenario: s, Start: start, End: start.Add(s.Duration), Began: wall, Ledger: &Ledger{}}
	tr := cfg.Transport
	if tr.ClientIDSuffix == "" {
		// A run of its own: a second run, or one that is still connected,
		// cannot take these sessions over.
		tr.ClientIDSuffix = fmt.Sprintf("-%06x", rand.Uint32()&0xffffff)
	}
	f, err := simulators.NewFleet(simulators.FleetConfig{
		Transport: tr,
		Dial:      cfg.Dial,
		Clock:     clock,
		End:       r.End,
		Stations:  s.stations(start),
		Record:    r.Ledger.Record,
		Logger:    cfg.Logger,
	})
	if err != nil {
		return nil, fmt.Errorf("scenario %s: %w", s.Name, err)
	}
	r.fleet = f
	cfg.Logger.Info("scenario starting", "scenario", s.Name, "simulated_start", start.Format(time.RFC3339),
		"simulated_end", r.End.Format(time.RFC3339), "speed", cfg.Speed, "wall_duration", (time.Duration(float64(s.Duration) / cfg.Speed)).Round(time.Second))
	if err := f.Run(ctx); err != nil {
		return nil, fmt.Errorf("scenario %s: %w", s.Name, err)
	}
	return r, nil
}

// Close disconnects the stations still connected, cleanly, so that they
// stay as the scenario left them: the broker discards their wills.
func (r *Result) Close() { r.fleet.Close(false) }

// Published and Errors count the messages the run published and failed.
func (r *Result) Published() int64 { return r.fleet.Published() }
func (r *Result) Errors() int64    { return r.fleet.Errors() }

// Ledger records what every station sent. It is safe for concurrent use.
type Ledger struct {
	mu   sync.Mutex
	sent []simulators.Sent
}

// Record adds one reading's fate.
func (l *Ledger) Record(s simulators.Sent) {
	l.mu.Lock()
	l.sent = append(l.sent, s)
	l.mu.Unlock()
}

// Sent returns what station sent, in the order it sent it.
func (l *Ledger) Sent(station string) []simulators.Sent {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []simulators.Sent
	for _, s := range l.sent {
		if s.Station == station {
			out = append(out, s)
		}
	}
	return out
}

// Delivered returns the readings of station that carried metric, reached
// the broker whole, and are timestamped in [from, to), in the order sent.
func (l *Ledger) Delivered(station, metric string, from, to time.Time) []simulators.Sent {
	var out []simulators.Sent
	for _, s := range l.Sent(station) {
		if !s.Delivered || s.Malformed || s.TS.Before(from) || !s.TS.Before(to) {
			continue
		}
		if _, ok := s.Value(metric); ok {
			out = append(out, s)
		}
	}
	return out
}

// Timestamps returns the distinct payload timestamps of ss, in order.
func Timestamps(ss []simulators.Sent) []time.Time {
	var ts []time.Time
	for _, s := range ss {
		ts = append(ts, s.TS)
	}
	slices.SortFunc(ts, func(a, b time.Time) int { return a.Compare(b) })
	return slices.CompactFunc(ts, time.Time.Equal)
}
