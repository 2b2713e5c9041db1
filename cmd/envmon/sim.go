package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/envmon/envmon/simulators"
	"github.com/envmon/envmon/simulators/scenario"
)

const simUsage = `Usage: envmon sim [flags]

Simulated micro-stations publishing to any MQTT broker in the contract of
docs/MQTT.md. Four modes; docs/SIMULATOR.md is the guide.

Continuous (default): stations publish plausible air, water and noise
readings in real time until stopped, two air, one water and one noise
station at each service point.
  envmon sim --broker tcp://127.0.0.1:1883 --stations 20 --rate 10
  envmon sim --broker ssl://mqtt.example.org:8883 --tls-ca ca.pem \
      --username sim --password secret --format senml --duration 5m

Scenario: a scripted day (stations, episodes such as pollution, rain, night
construction, outages and sensor faults) and, with --verify, a check of the
expected outcomes through envmon's API. Exits 1 listing what did not
happen. Time can run faster than real time; the simulated clock starts in
the past so it never runs ahead of the wall clock, on the latest day on
which the scenario ends by the time the run does (or on --start).
  envmon sim --list-scenarios
  envmon sim --scenario pollution-episode --speed 600 --verify http://127.0.0.1:8080
  envmon sim --scenario ./my-scenario.yaml --speed 60 --start 2026-11-20

  Shipped scenarios: ` + "%s" + `

Load: many stations multiplexed over a pool of connections, paced to a
fixed or ramped rate, with a progress line every second and a summary of
the achieved rate and publish latency percentiles. Exits 1 if the rate was
not sustained within 5%%, saying why.
  envmon sim --load --stations 10000 --rate 20000 --ramp 30s --duration 2m --connections 8
  envmon sim --load --rate 5000 --qos 0 --format senml --values 11 --duration 1m

Replay: readings from a CSV file (columns station, time, metric, value, and
optionally point and medium; rows of one station and time are one message),
at the recorded pace times --speed.
  envmon sim --replay readings.csv --speed 10
  envmon sim --replay last-year.csv --speed 3600 --rebase

Flags:
`

// simFlags are envmon sim's settings.
type simFlags struct {
	tr            simulators.Transport
	qos           uint
	format        string
	stations      int
	points        int
	rate          float64
	duration      time.Duration
	seed          uint64
	prefix        string
	scenario      string
	list          bool
	verify        string
	verifyTimeout time.Duration
	speed         float64
	start         string
	load          bool
	ramp          time.Duration
	connections   int
	maxInFlight   int
	values        int
	replay        string
	rebase        bool
}

func sim(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("envmon sim", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var f simFlags
	fs.StringVar(&f.tr.Broker, "broker", "tcp://127.0.0.1:1883", "MQTT broker URL: tcp://, ssl:// (or tls://, mqtts://), ws://, wss://")
	fs.StringVar(&f.tr.Username, "username", "", "MQTT username")
	fs.StringVar(&f.tr.Password, "password", "", "MQTT password")
	fs.StringVar(&f.tr.TLSCA, "tls-ca", "", "PEM file of CA certificates to trust for a TLS broker (default: the system's)")
	fs.BoolVar(&f.tr.TLSInsecure, "tls-insecure", false, "do not verify the TLS broker's certificate (testing only)")
	fs.StringVar(&f.tr.ClientIDPrefix, "client-id-prefix", "envmon-sim-", "MQTT client ids are this plus the station id (or load-N for a load connection)")
	fs.UintVar(&f.qos, "qos", 1, "MQTT QoS of readings: 0, 1 or 2")
	fs.StringVar(&f.format, "format", "json", "payload format: json (docs/MQTT.md) or senml (RFC 8428)")
	fs.IntVar(&f.stations, "stations", 20, "number of simulated stations (continuous and load; load default 1000 when not set)")
	fs.IntVar(&f.points, "points", 0, "number of service points (default stations/4)")
	fs.Float64Var(&f.rate, "rate", 10, "messages per second over all stations (continuous and load)")
	fs.DurationVar(&f.duration, "duration", 0, "how long to run (0: until interrupted; a scenario runs its own length)")
	fs.Uint64Var(&f.seed, "seed", 1, "random seed; the same seed and start give the same readings")
	fs.StringVar(&f.prefix, "prefix", "", `station id prefix (default "st-", or "load-" with --load)`)
	fs.StringVar(&f.scenario, "scenario", "", "run a scenario: a shipped one by name, or a YAML file")
	fs.BoolVar(&f.list, "list-scenarios", false, "list the shipped scenarios and exit")
	fs.StringVar(&f.verify, "verify", "", "after the scenario, check its expectations through envmon's API at this URL, e.g. http://127.0.0.1:8080")
	fs.DurationVar(&f.verifyTimeout, "verify-timeout", 30*time.Second, "how long to keep checking expectations not met yet")
	fs.Float64Var(&f.speed, "speed", 1, "how many times faster than real time simulated time runs (scenario, replay)")
	fs.StringVar(&f.start, "start", "", "a scenario's simulated start: a date (2026-11-20, at the scenario's start time) or an RFC 3339 time (default: the latest day that ends before now)")
	fs.BoolVar(&f.load, "load", false, "load mode: stations multiplexed over --connections, paced to --rate")
	fs.DurationVar(&f.ramp, "ramp", 0, "load: rise linearly from 0 to --rate over this long first")
	fs.IntVar(&f.connections, "connections", 4, "load: connections in the pool")
	fs.IntVar(&f.maxInFlight, "max-inflight", 256, "load: messages awaiting acknowledgement per connection")
	fs.IntVar(&f.values, "values", 6, "load: values per message (6: the pollutants; up to 11 with meteorology)")
	fs.StringVar(&f.replay, "replay", "", "replay readings from this CSV file")
	fs.BoolVar(&f.rebase, "rebase", false, "replay: shift timestamps so the replay ends now instead of when recorded")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), simUsage, strings.Join(scenario.Names(), ", "))
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	usageErr := func(format string, a ...any) int {
		fmt.Fprintf(stderr, "envmon sim: "+format+"\n", a...)
		return 2
	}
	if fs.NArg() > 0 {
		return usageErr("unexpected argument %q", fs.Arg(0))
	}
	if f.qos > 2 {
		return usageErr("--qos %d is not 0, 1 or 2", f.qos)
	}
	f.tr.QoS = byte(f.qos)
	format, err := simulators.ParseFormat(f.format)
	if err != nil {
		return usageErr("--format: %v", err)
	}
	if f.list {
		for _, n := range scenario.Names() {
			s, err := scenario.Open(n, nil)
			if err != nil {
				fmt.Fprintf(stderr, "envmon sim: %v\n", err)
				return 1
			}
			fmt.Fprintf(stdout, "%-20s %s (%s from %s)\n", n, s.Title, s.Duration, startClock(s))
		}
		return 0
	}
	modes := 0
	for _, on := range []bool{f.scenario != "", f.load, f.replay != ""} {
		if on {
			modes++
		}
	}
	if modes > 1 {
		return usageErr("choose one of --scenario, --load and --replay")
	}
	if f.verify != "" && f.scenario == "" {
		return usageErr("--verify checks a --scenario's expectations")
	}
	if f.speed <= 0 {
		return usageErr("--speed must be positive")
	}
	set := map[string]bool{}
	fs.Visit(func(fl *flag.Flag) { set[fl.Name] = true })
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	if err := f.tr.Validate(); err != nil {
		return usageErr("%v", err)
	}

	switch {
	case f.scenario != "":
		return simScenario(ctx, f, format, set, stdout, stderr, logger)
	case f.load:
		return simLoad(ctx, f, format, set, stdout, stderr)
	case f.replay != "":
		return simReplay(ctx, f, format, stdout, stderr, logger)
	}
	cfg := simulators.Config{
		Broker: f.tr.Broker, Username: f.tr.Username, Password: f.tr.Password,
		TLSCA: f.tr.TLSCA, TLSInsecure: f.tr.TLSInsecure, ClientIDPrefix: f.tr.ClientIDPrefix,
		Stations: f.stations, Points: f.points, Rate: f.rate, Duration: f.duration,
		QoS: f.tr.QoS, Format: format, Seed: f.seed, Prefix: f.prefix, Logger: logger,
	}
	var stats simulators.Stats
	start := time.Now()
	err = simulators.Run(ctx, cfg, &stats)
	elapsed := time.Since(start)
	fmt.Fprintf(stdout, "published %d messages in %s (%.1f/s), %d errors\n",
		stats.Published.Load(), elapsed.Round(time.Millisecond), float64(stats.Published.Load())/elapsed.Seconds(), stats.Errors.Load())
	if err != nil {
		fmt.Fprintf(stderr, "envmon sim: %v\n", err)
		return 1
	}
	return 0
}

func startClock(s *scenario.Scenario) string {
	return fmt.Sprintf("%02d:%02d", int(s.StartOfDay/time.Hour), int(s.StartOfDay%time.Hour/time.Minute))
}

func simScenario(ctx context.Context, f simFlags, format simulators.Format, set map[string]bool, stdout, stderr io.Writer, logger *slog.Logger) int {
	for _, fl := range []string{"stations", "points", "rate", "duration", "prefix"} {
		if set[fl] {
			fmt.Fprintf(stderr, "envmon sim: --%s does not apply to a scenario, which lists its own stations\n", fl)
			return 2
		}
	}
	s, err := scenario.Open(f.scenario, nil)
	if err != nil {
		fmt.Fprintf(stderr, "envmon sim: %v\n", err)
		return 2
	}
	if set["seed"] {
		s.Seed = f.seed
	}
	if set["format"] {
		for i := range s.Points {
			for j := range s.Points[i].Stations {
				s.Points[i].Stations[j].Format = format
			}
		}
	}
	var start time.Time
	if f.start != "" {
		if d, err := time.ParseInLocation("2006-01-02", f.start, s.Location); err == nil {
			start = d.Add(s.StartOfDay)
		} else if start, err = time.Parse(time.RFC3339, f.start); err != nil {
			fmt.Fprintf(stderr, "envmon sim: --start %q is neither a date (2026-11-20) nor an RFC 3339 time\n", f.start)
			return 2
		}
	}
	fmt.Fprintf(stdout, "scenario %s: %s\n", s.Name, s.Title)
	r, err := scenario.Run(ctx, s, scenario.RunConfig{Transport: f.tr, Speed: f.speed, Start: start, Logger: logger})
	if err != nil {
		fmt.Fprintf(stderr, "envmon sim: %v\n", err)
		return 1
	}
	defer r.Close()
	fmt.Fprintf(stdout, "simulated %s to %s; published %d messages, %d errors\n",
		r.Start.Format(time.RFC3339), r.End.Format(time.RFC3339), r.Published(), r.Errors())
	if ctx.Err() != nil {
		return 1
	}
	if f.verify == "" {
		return 0
	}
	rep := r.Verify(ctx, f.verify, f.verifyTimeout)
	rep.WriteTo(stdout)
	if rep.Failed() > 0 {
		return 1
	}
	return 0
}

func simLoad(ctx context.Context, f simFlags, format simulators.Format, set map[string]bool, stdout, stderr io.Writer) int {
	stations := f.stations
	if !set["stations"] {
		stations = 1000
	}
	cfg := simulators.LoadConfig{
		Transport: f.tr, Stations: stations, Points: f.points, Prefix: f.prefix,
		Rate: f.rate, Ramp: f.ramp, Duration: f.duration, Connections: f.connections, MaxInFlight: f.maxInFlight,
		Format: format, Values: f.values, Seed: f.seed,
	}
	fmt.Fprintf(stdout, "load: %d stations over %d connections to %s, target %.0f messages/s", cfg.Stations, min(cfg.Connections, cfg.Stations), f.tr.Broker, cfg.Rate)
	if cfg.Ramp > 0 {
		fmt.Fprintf(stdout, " after a %s ramp", cfg.Ramp)
	}
	fmt.Fprintln(stdout)
	sum, err := simulators.Load(ctx, cfg, func(p simulators.Progress) { fmt.Fprintln(stdout, p) })
	if err != nil {
		fmt.Fprintf(stderr, "envmon sim: %v\n", err)
		return 1
	}
	fmt.Fprint(stdout, sum)
	if !sum.Sustained {
		return 1
	}
	return 0
}

func simReplay(ctx context.Context, f simFlags, format simulators.Format, stdout, stderr io.Writer, logger *slog.Logger) int {
	file, err := os.Open(f.replay)
	if err != nil {
		fmt.Fprintf(stderr, "envmon sim: %v\n", err)
		return 2
	}
	defer file.Close()
	st, err := simulators.Replay(ctx, file, simulators.ReplayConfig{Transport: f.tr, Speed: f.speed, Rebase: f.rebase, Format: format, Logger: logger})
	if err != nil {
		fmt.Fprintf(stderr, "envmon sim: %v\n", err)
		return 1
	}
	fmt.Fprintf(stdout, "replayed %d rows as %d messages (%d published, %d errors)", st.Rows, st.Messages, st.Published, st.Errors)
	if st.Published > 0 {
		fmt.Fprintf(stdout, ", timestamps %s to %s", st.From.Format(time.RFC3339), st.To.Format(time.RFC3339))
	}
	fmt.Fprintln(stdout)
	if st.Errors > 0 {
		return 1
	}
	return 0
}
