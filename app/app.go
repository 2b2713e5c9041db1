package app

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/envmon/envmon/api"
	"github.com/envmon/envmon/db"
	"github.com/envmon/envmon/ingest"
	"github.com/envmon/envmon/ingest/qc"
	"github.com/envmon/envmon/ingest/spool"
	"github.com/envmon/envmon/internal/broker"
	"github.com/envmon/envmon/internal/config"
	"github.com/envmon/envmon/internal/secret"
	"github.com/envmon/envmon/station"
	"github.com/envmon/envmon/store"
	"github.com/envmon/envmon/store/influx"
	"github.com/envmon/envmon/store/sqlite"
)

// Options are how a command asks App to start, beyond the configuration.
type Options struct {
	Logger *slog.Logger
	// MovePorts lets App listen on a free port when a default port is taken
	// (envmon demo); a port the user chose is never moved. Chosen reports
	// whether the user chose a setting, by its flag name.
	MovePorts bool
	Chosen    func(flag string) bool
	// Stations, if set, is the station registry to use when stations.file
	// is empty (envmon demo's embedded one). Stations it does not list are
	// registered on first sight.
	Stations *station.File
	// WrapStore, if set, wraps the readings store the configuration opens:
	// tests count the writes that reach it.
	WrapStore func(store.Store) store.Store
}

// App is a running envmon service.
type App struct {
	cfg       config.Config
	log       *slog.Logger
	reg       *prometheus.Registry
	broker    *broker.Broker
	brokerURL string
	store     store.Store
	spool     *spool.Spool
	storeDown bool // unreachable at start: latest values are rebuilt once it answers
	stations  *station.Registry
	statusLog *station.StatusLog
	db        *db.DB // components' shared SQL storage
	plat      platform
	collector *ingest.Collector
	httpLn    net.Listener
	httpSrv   *http.Server
	extra     []Component // components between ingest and HTTP
	closeOnce sync.Once
}

// New opens everything that can fail at start — listeners, the store, the
// station registry — and reports the first failure clearly. Run starts the
// work; Close releases what New opened if Run is never called.
func New(ctx context.Context, cfg config.Config, opts Options) (_ *App, err error) {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Chosen == nil {
		opts.Chosen = func(string) bool { return true }
	}
	a := &App{cfg: cfg, log: opts.Logger, reg: prometheus.NewRegistry()}
	a.reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	defer func() {
		if err != nil {
			a.Close()
		}
	}()

	if a.httpLn, err = listen(a.log, cfg.HTTP.Addr, "HTTP server", "http-addr", opts.MovePorts && !opts.Chosen("http-addr")); err != nil {
		return nil, err
	}

	var mqttLn net.Listener
	if cfg.MQTT.Broker != "" {
		a.brokerURL = cfg.MQTT.Broker
	} else {
		mqttLn, err = listen(a.log, cfg.MQTT.Addr, "embedded MQTT broker", "mqtt-addr", opts.MovePorts && !opts.Chosen("mqtt-addr"))
		if err != nil {
			if errors.Is(err, syscall.EADDRINUSE) {
				err = fmt.Errorf("%w; or use the broker already there with --mqtt-broker tcp://%s", err, broker.LocalHostPort(mustTCPAddr(cfg.MQTT.Addr)))
			}
			return nil, err
		}
		a.brokerURL = "tcp://" + broker.LocalHostPort(mqttLn.Addr())
		defer func() {
			if a.broker == nil {
				mqttLn.Close()
			}
		}()
	}

	if a.store, err = a.openStore(ctx, cfg); err != nil {
		return nil, err
	}
	dbc := cfg.DBConfig()
	dbc.Logger = a.log
	if a.db, err = db.Open(ctx, dbc); err != nil {
		return nil, fmt.Errorf("open the shared database (db.dsn, data_dir): %w", err)
	}
	if opts.WrapStore != nil {
		a.store = opts.WrapStore(a.store)
	}

	var listed station.File // points, stations, teams, and the embedded broker's readers
	if opts.Stations != nil {
		listed = *opts.Stations
	}
	if cfg.Stations.File != "" {
		if listed, err = station.Load(cfg.Stations.File); err != nil {
			return nil, err // file:line of every problem
		}
	}
	a.stations = station.New(listed.Stations, cfg.Stations.File != "", a.log,
		station.WithFile(listed), station.MaxUnregistered(cfg.Stations.MaxUnregistered))
	if !a.storeDown {
		if err := a.seedLatest(ctx); err != nil {
			return nil, err
		}
	}

	statusPath := filepath.Join(cfg.DataDir, "station-status.jsonl")
	var statuses []station.StatusRecord
	if a.statusLog, statuses, err = station.OpenStatusLog(statusPath); err != nil {
		return nil, fmt.Errorf("open %s (data_dir): %w", statusPath, err)
	}
	for _, st := range statuses {
		_ = a.stations.SetStatus(st.Point, st.Station, st.Status, st.At) // a station no longer listed stays out
	}

	sync := spool.SyncAlways
	if cfg.Ingest.SpoolSync == "interval" {
		sync = spool.SyncInterval
	}
	spoolDir := filepath.Join(cfg.DataDir, "spool")
	if a.spool, err = spool.Open(spoolDir, spool.Options{MaxBytes: cfg.Ingest.SpoolMaxBytes, Sync: sync, Logger: a.log, Registerer: a.reg}); err != nil {
		return nil, fmt.Errorf("open ingest spool %s (data_dir): %w", spoolDir, err)
	}
	if n := a.spool.Len(); n > 0 {
		a.log.Info("spool holds readings from the last run; writing them first", "records", n)
	}

	sinks, comps, mounts, err := a.buildPlatform(ctx, cfg)
	if err != nil {
		return nil, err
	}
	a.extra = comps

	a.collector, err = ingest.New(ingest.Config{
		Spool:             a.spool,
		Broker:            cfg.MQTT.Broker, // empty: the embedded broker delivers
		Sinks:             sinks,
		Live:              []func([]ingest.Accepted){a.feedWindows},
		ClientID:          cfg.MQTT.ClientID,
		Username:          cfg.MQTT.Username,
		Password:          cfg.MQTT.Password.Reveal(),
		BatchSize:         cfg.Ingest.BatchSize,
		Writers:           cfg.Ingest.Writers,
		FlushInterval:     cfg.Ingest.FlushInterval,
		AckLinger:         cfg.Ingest.AckLinger,
		SharedGroup:       cfg.Ingest.SharedGroup,
		Limits:            ingest.Limits{MaxPayload: cfg.Ingest.MaxPayload},
		QC:                qc.New(qcConfig(cfg.QC)),
		DeadLetters:       ingest.NewDeadLetters(cfg.Ingest.DeadLetters),
		RepublishRejected: cfg.Ingest.RepublishRejected,
		Store:             a.store,
		Stations:          a.stations,
		OnOffline:         a.stationOffline,
		Statuses:          a.statusLog,
		Registerer:        a.reg,
		Logger:            a.log,
	})
	if err != nil {
		return nil, err
	}

	if mqttLn != nil {
		// The collector takes each station message inside the broker,
		// before its PUBACK: a PUBACK from the embedded broker means the
		// readings are spooled (docs/GUARANTEES.md).
		if a.broker, err = broker.Start(broker.Config{
			Listener:      mqttLn,
			Logger:        quiet(a.log),
			Inbound:       inbound{a.collector},
			InboundPrefix: ingest.TopicPrefix + "/",
			// The collector keeps the order of a client's connections, so
			// that an old connection's end, heard late, does not undo what
			// a newer one said. Off the broker's goroutine: marking the
			// station offline saves its status and tells alerts.
			OnConnected:   a.collector.ConnectionStarted,
			OnStationGone: func(clientID, _ string, conn any, _ bool) { go a.collector.ConnectionGone(clientID, conn) },

			// Stations log in with the registry's passwords (docs/MQTT.md).
			Accounts:         a.stations,
			OpenRegistration: cfg.MQTT.OpenRegistration,
			ClientID:         cfg.MQTT.ClientID,
			TLS:              brokerTLS(cfg.MQTT),
		}); err != nil {
			return nil, err
		}
		a.log.Info("embedded MQTT broker listening", "addr", a.broker.Addr().String())
	}

	a.httpSrv = &http.Server{
		Handler: api.Handler(api.Config{
			Stations: a.stations,
			Readings: a.store,
			Ready: []api.Check{
				{Name: "broker", Check: func(context.Context) error {
					if !a.collector.Connected() {
						return errors.New("not connected to " + secret.RedactURL(a.brokerURL))
					}
					return nil
				}},
				{Name: "store", Check: a.store.Ping},
				{Name: "db", Check: func(ctx context.Context) error { return a.db.SQL().PingContext(ctx) }},
			},
			DeadLetters: a.collector.DeadLetters(),
			AdminToken:  cfg.API.AdminToken,
			Gatherer:    a.reg,
			Registerer:  a.reg,
			Logger:      a.log,
			Mounts:      mounts,
		}),
		// Every phase of a request is bounded, so that a client that sends
		// slowly or stops reading cannot hold a connection or a response's
		// memory for long (docs/GUARANTEES.md).
		ReadHeaderTimeout: min(10*time.Second, cfg.HTTP.ReadTimeout),
		ReadTimeout:       cfg.HTTP.ReadTimeout,
		WriteTimeout:      cfg.HTTP.WriteTimeout,
		IdleTimeout:       cfg.HTTP.IdleTimeout,
		MaxHeaderBytes:    cfg.HTTP.MaxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(a.log.Handler(), slog.LevelWarn),
	}
	return a, nil
}

// inbound hands the embedded broker's messages to the collector.
type inbound struct{ c *ingest.Collector }

func (in inbound) Deliver(m *broker.Message) { in.c.Deliver(m) }

// brokerTLS is the embedded broker's TLS listener, or nil for none.
func brokerTLS(c config.MQTT) *broker.TLS {
	if c.TLSAddr == "" {
		return nil
	}
	return &broker.TLS{Addr: c.TLSAddr, CertFile: c.TLSCert, KeyFile: c.TLSKey, ClientCAFile: c.TLSClientCA}
}

// qcConfig turns the configuration's QC section into package qc's, keeping
// the defaults of whatever is not set.
func qcConfig(c config.QC) qc.Config {
	out := qc.Default()
	out.StuckFor = cmp.Or(c.StuckFor, out.StuckFor)
	out.SpikeGap = cmp.Or(c.SpikeGap, out.SpikeGap)
	out.MaxFuture = cmp.Or(c.MaxFuture, out.MaxFuture)
	out.MaxPast = cmp.Or(c.MaxPast, out.MaxPast)
	out.HumidityRH = cmp.Or(c.HumidityRH, out.HumidityRH)
	out.DuplicateWindow = cmp.Or(c.DuplicateWindow, out.DuplicateWindow)
	for m, v := range c.Spike {
		out.Spike[m] = v
	}
	for m, r := range c.Range {
		out.Ranges[m] = qc.Range{Min: r[0], Max: r[1]}
	}
	return out
}

// seedLatest rebuilds the registry's latest values from the store.
func (a *App) seedLatest(ctx context.Context) error {
	latest, err := a.store.Latest(ctx)
	if err != nil {
		return fmt.Errorf("rebuild latest values from the store: %w", err)
	}
	a.stations.Seed(latest)
	a.log.Info("rebuilt latest values from the store", "values", len(latest), "stations", len(a.stations.List()))
	return nil
}

// seedWhenUp retries seedLatest until the store answers: the service runs,
// spooling, while InfluxDB is down at start.
func (a *App) seedWhenUp(ctx context.Context) {
	for wait := time.Second; ; wait = min(2*wait, 30*time.Second) {
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
		if err := a.seedLatest(ctx); err == nil {
			return
		}
	}
}

func (a *App) openStore(ctx context.Context, cfg config.Config) (store.Store, error) {
	if cfg.Influx.URL != "" {
		s, err := influx.Open(influx.Config{URL: cfg.Influx.URL, Org: cfg.Influx.Org, Bucket: cfg.Influx.Bucket, Token: cfg.Influx.Token})
		if err != nil {
			return nil, fmt.Errorf("InfluxDB store (influx.*): %w", err)
		}
		cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		switch err := s.Check(cctx); {
		case errors.Is(err, influx.ErrUnreachable):
			// Start anyway: readings are spooled until InfluxDB is back.
			a.storeDown = true
			a.log.Warn("InfluxDB is not reachable; starting anyway, spooling readings until it is", "url", secret.RedactURL(cfg.Influx.URL), "err", err)
		case err != nil:
			s.Close()
			return nil, fmt.Errorf("InfluxDB store (influx.url, influx.bucket, influx.token): %w", err)
		}
		return s, nil
	}
	path := filepath.Join(cfg.DataDir, "envmon.db")
	s, err := sqlite.Open(ctx, path)
	if err != nil {
		return nil, fmt.Errorf("open embedded store %s (data_dir): %w", path, err)
	}
	return s, nil
}

// listen listens on addr, naming the flag to change it when the port is
// taken; with move, a taken port is replaced by a free one.
func listen(log *slog.Logger, addr, what, flag string, move bool) (net.Listener, error) {
	ln, err := net.Listen("tcp", addr)
	if err == nil {
		return ln, nil
	}
	if !errors.Is(err, syscall.EADDRINUSE) {
		return nil, fmt.Errorf("%s: listen on %s: %w", what, addr, err)
	}
	host, port, _ := net.SplitHostPort(addr)
	if move {
		if ln, err2 := net.Listen("tcp", net.JoinHostPort(host, "0")); err2 == nil {
			log.Warn("default port is taken; using a free one instead", "component", what, "taken", port,
				"using", ln.Addr().(*net.TCPAddr).Port, "flag", "--"+flag)
			return ln, nil
		}
	}
	return nil, fmt.Errorf("%s: port %s is already in use; choose another with --%s (%s): %w",
		what, port, flag, config.EnvFor(flag), err)
}

func mustTCPAddr(addr string) net.Addr {
	_, port, _ := net.SplitHostPort(addr)
	p, _ := strconv.Atoi(port)
	return &net.TCPAddr{Port: p}
}

// quiet drops the embedded broker's per-connection info logs to debug.
func quiet(l *slog.Logger) *slog.Logger {
	return slog.New(levelShift{l.Handler()})
}

type levelShift struct{ slog.Handler }

func (h levelShift) Enabled(ctx context.Context, lvl slog.Level) bool {
	if lvl < slog.LevelWarn {
		lvl = slog.LevelDebug
	}
	return h.Handler.Enabled(ctx, lvl)
}

func (h levelShift) Handle(ctx context.Context, r slog.Record) error {
	if r.Level < slog.LevelWarn {
		r.Level = slog.LevelDebug
	}
	return h.Handler.Handle(ctx, r)
}

func (h levelShift) WithAttrs(as []slog.Attr) slog.Handler {
	return levelShift{h.Handler.WithAttrs(as)}
}
func (h levelShift) WithGroup(n string) slog.Handler { return levelShift{h.Handler.WithGroup(n)} }

// HTTPURL is the base URL of the HTTP server, reachable from this host.
func (a *App) HTTPURL() string { return "http://" + broker.LocalHostPort(a.httpLn.Addr()) }

// BrokerURL is the MQTT broker the collector uses.
func (a *App) BrokerURL() string { return a.brokerURL }

// Registry is the app's Prometheus registry.
func (a *App) Registry() *prometheus.Registry { return a.reg }

// Run serves until ctx is done, then shuts down gracefully: the HTTP server
// stops taking requests, the collector stores and acknowledges what it has
// queued, and the store and broker close.
func (a *App) Run(ctx context.Context) error {
	defer a.Close()
	a.log.Info("envmon serving", "http", a.HTTPURL(), "mqtt", secret.RedactURL(a.brokerURL))
	return runGroup(ctx, a.log, a.components())
}

// components lists the service's parts in the order they start; they stop
// in the reverse order. The broker is stopped after ingest, so that the
// collector spools and acknowledges what it took before the broker closes
// (every acknowledgement stays a promise); HTTP stops first.
func (a *App) components() []Component {
	var cs []Component
	if a.broker != nil {
		cs = append(cs, ComponentFunc{"broker", func(ctx context.Context) error {
			<-ctx.Done()
			return a.broker.Close()
		}})
	}
	if a.storeDown {
		cs = append(cs, ComponentFunc{"latest", func(ctx context.Context) error { a.seedWhenUp(ctx); return nil }})
	}
	// The collector, stopping, leaves what the broker hands it
	// unacknowledged, for the stations to send again.
	cs = append(cs, ComponentFunc{"ingest", a.collector.Run})
	cs = append(cs, a.extra...)
	cs = append(cs, httpComponent{srv: a.httpSrv, serve: func() error { return a.httpSrv.Serve(a.httpLn) }, log: a.log, grace: httpShutdownGrace})
	return cs
}

// httpShutdownGrace is how long requests in progress may take to finish
// when envmon stops.
const httpShutdownGrace = 2 * time.Second

// Close releases the store and the broker. Run calls it on return.
func (a *App) Close() {
	a.closeOnce.Do(func() {
		if a.httpLn != nil {
			a.httpLn.Close()
		}
		if a.broker != nil {
			a.broker.Close()
		}
		if a.statusLog != nil {
			a.statusLog.Close()
		}
		if a.db != nil {
			a.db.Close()
		}
		if a.spool != nil {
			if err := a.spool.Close(); err != nil {
				a.log.Warn("close spool", "err", err)
			}
		}
		if a.store != nil {
			if err := a.store.Close(); err != nil {
				a.log.Warn("close store", "err", err)
			}
		}
	})
}
