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
	"github.com/envmon/envmon/simulators"
)

func serve(ctx context.Context, args []string, stdout, stderr io.Writer, demo bool) int {
	name := "serve"
	if demo {
		name = "demo"
	}
	fs := flag.NewFlagSet("envmon "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	loader := config.Register(fs, config.Default())
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
			fmt.Fprint(fs.Output(), "Usage: envmon serve [flags]\n\nWith no configuration, runs everything in one process: an embedded MQTT\nbroker on :1883, SQLite storage under ./data and the HTTP API on :8080.\nSettings come from --config FILE, ENVMON_* variables and flags; flags\noverride variables, which override the file.\n\n")
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

	a, err := app.New(ctx, cfg, app.Options{
		Logger:    logger,
		MovePorts: demo,
		Chosen:    func(flag string) bool { return loader.Set(flag, os.Getenv) },
	})
	if err != nil {
		fmt.Fprintf(stderr, "envmon %s: %v\n", name, err)
		return 1
	}
	if demo {
		go func() {
			err := simulators.Run(ctx, simulators.Config{
				Broker:   a.BrokerURL(),
				Stations: simStations,
				Points:   max(1, simStations/4),
				Rate:     simRate,
				QoS:      1,
				Seed:     1,
				Logger:   logger,
			}, nil)
			if err != nil {
				logger.Error("simulator stopped", "err", err)
			}
		}()
		fmt.Fprintf(stdout, "envmon demo: %d simulated stations publishing to %s\nOpen %s/ in a browser (API: %s/api/v1/stations). Ctrl-C stops.\n",
			simStations, a.BrokerURL(), a.HTTPURL(), a.HTTPURL())
	}
	if err := a.Run(ctx); err != nil {
		logger.Error("envmon stopped", "err", err)
		return 1
	}
	return 0
}

func newLogger(c config.Log, w io.Writer) *slog.Logger {
	var lvl slog.Level
	_ = lvl.UnmarshalText([]byte(c.Level)) // validated by config
	opts := &slog.HandlerOptions{Level: lvl}
	if c.Format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

func version() string {
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "devel"
}
