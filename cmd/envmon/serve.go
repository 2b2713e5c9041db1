package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime/debug"

	"github.com/envmon/envmon/app"
	"github.com/envmon/envmon/internal/config"
	"github.com/envmon/envmon/internal/logx"
	"github.com/envmon/envmon/simulators"
	"github.com/envmon/envmon/station"
)

// defaults returns the settings before any file, variable or flag; tests
// replace it to move the default ports onto ports they hold.
var defaults = config.Default

func serve(ctx context.Context, args []string, stdout, stderr io.Writer, demo bool) int {
	name := "serve"
	if demo {
		name = "demo"
	}
	fs := flag.NewFlagSet("envmon "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	base := defaults()
	if demo {
		// The simulated stations and the printed mosquitto_pub come
		// without credentials.
		base.MQTT.OpenRegistration = true
	}
	loader := config.Register(fs, base)
	var simStations int
	var simRate float64
	if demo {
		fs.IntVar(&simStations, "sim-stations", 20, "simulated stations")
		fs.Float64Var(&simRate, "sim-rate", 10, "simulated messages per second over all stations")
	}
	fs.Usage = func() {
		if demo {
			fmt.Fprint(fs.Output(), "Usage: envmon demo [flags]\n\nRuns envmon serve with about 20 simulated stations at 5 service points\nand prints the URL to open. A taken default port is replaced by a free one.\n\n")
		} else {
			fmt.Fprint(fs.Output(), "Usage: envmon serve [flags]\n\nWith no configuration, runs everything in one process: an embedded MQTT\nbroker on 127.0.0.1:1883, SQLite storage under ./data and the HTTP API on :8080.\nSettings come from --config FILE, ENVMON_* variables and flags; flags\noverride variables, which override the file.\n\n")
		}
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "envmon %s: unexpected argument %q\n", name, fs.Arg(0))
		return 2
	}
	cfg, err := loader.Load(os.Getenv)
	if err != nil {
		fmt.Fprintf(stderr, "envmon %s: %v\n", name, err)
		return 2
	}
	logger := newLogger(cfg.Log, stderr)
	tuneRuntime(cfg.Runtime)
	if !demo && cfg.MQTT.OpenRegistration && cfg.MQTT.Broker == "" {
		logger.Warn("open registration is on: any client that reaches the embedded MQTT broker may publish as any station without a password in the registry; provision passwords and turn mqtt.open_registration off (docs/MQTT.md)",
			"addr", cfg.MQTT.Addr)
	}

	opts := app.Options{
		Logger:    logger,
		MovePorts: demo,
		Chosen:    func(flag string) bool { return loader.Set(flag, os.Getenv) },
	}
	var simRegistry *station.File
	if demo {
		// The demo's stations are its embedded registry's, or those of
		// the registry file given.
		simRegistry = demoRegistry()
		if cfg.Stations.File == "" {
			opts.Stations = simRegistry
		} else if f, err := station.Load(cfg.Stations.File); err == nil {
			simRegistry = &f
		} // else app.New reports the file's problems
	}
	a, err := app.New(ctx, cfg, opts)
	if err != nil {
		fmt.Fprintf(stderr, "envmon %s: %v\n", name, err)
		return 1
	}
	if demo {
		simCfg := demoSim(a.BrokerURL(), simRegistry, simStations, simRate, logger)
		go func() {
			if err := simulators.Run(ctx, simCfg, nil); err != nil {
				logger.Error("simulator stopped", "err", err)
			}
		}()
		demoBanner(stdout, a.HTTPURL(), a.BrokerURL(), simStations)
	}
	if err := a.Run(ctx); err != nil {
		logger.Error("envmon stopped", "err", err)
		return 1
	}
	return 0
}

// newLogger returns the service's logger. Every line is bounded (package
// logx): no message or attribute carries more than logx.DefaultMax bytes,
// whatever a station sends.
func newLogger(c config.Log, w io.Writer) *slog.Logger {
	var lvl slog.Level
	_ = lvl.UnmarshalText([]byte(c.Level)) // validated by config
	opts := &slog.HandlerOptions{Level: lvl}
	var h slog.Handler = slog.NewTextHandler(w, opts)
	if c.Format == "json" {
		h = slog.NewJSONHandler(w, opts)
	}
	return slog.New(logx.New(h, logx.DefaultMax))
}

func version() string {
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "devel"
}

// tuneRuntime applies runtime.gc_percent and runtime.memory_limit, unless
// the GOGC and GOMEMLIMIT variables say otherwise.
func tuneRuntime(c config.Runtime) {
	if os.Getenv("GOGC") == "" && c.GCPercent != 0 {
		debug.SetGCPercent(c.GCPercent)
	}
	if os.Getenv("GOMEMLIMIT") == "" && c.MemoryLimit > 0 {
		debug.SetMemoryLimit(c.MemoryLimit)
	}
}
