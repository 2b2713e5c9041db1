// Package config loads envmon's configuration from a YAML file, ENVMON_*
// environment variables and command-line flags. Flags override variables,
// which override the file, which overrides the defaults.
//
// Every setting has one YAML key, one variable and one flag, listed in a
// single table (settings), so the three can never drift apart. A bad value
// stops start-up with an error that names the key.
//
// The defaults of a component's settings are the component's own
// (ingest.DefaultBatchSize, say), so they are stated once.
package config

import (
	_ "embed"
	"errors"
	"flag"
	"fmt"
	"math"
	"net"
	"net/netip"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/envmon/envmon/db"
	"github.com/envmon/envmon/ingest"
	"github.com/envmon/envmon/internal/secret"
	"github.com/envmon/envmon/quality"
)

// Secret is a password or token from the configuration. It prints as
// <secret> everywhere (see package secret); Reveal returns the text at the
// point of use.
type Secret = secret.String

// Config is the whole of envmon's configuration. The zero value is not
// useful; start from Default.
type Config struct {
	HTTP     HTTP     `yaml:"http"`
	MQTT     MQTT     `yaml:"mqtt"`
	DataDir  string   `yaml:"data_dir"`
	Influx   Influx   `yaml:"influx"`
	Stations Stations `yaml:"stations"`
	DB       DB       `yaml:"db"`
	Ingest   Ingest   `yaml:"ingest"`
	Alerts   Alerts   `yaml:"alerts"`
	Cases    Cases    `yaml:"cases"`
	Public   Public   `yaml:"public"`
	QC       QC       `yaml:"qc"`
	API      API      `yaml:"api"`
	Log      Log      `yaml:"log"`
	Runtime  Runtime  `yaml:"runtime"`
}

// API configures the HTTP API beyond its address.
type API struct {
	// AdminToken guards operators' endpoints (/api/v1/ingest/...); empty
	// disables them.
	AdminToken Secret `yaml:"admin_token"`
}

// QC holds the quality-control thresholds (package ingest/qc); zero values
// mean the documented defaults. Spike and Range set per-metric limits and
// are read from the YAML file only (qc.spike.pm25: 150, qc.range.pm25:
// "0,1000").
type QC struct {
	StuckFor        time.Duration         `yaml:"stuck_for"`
	SpikeGap        time.Duration         `yaml:"spike_gap"`
	MaxFuture       time.Duration         `yaml:"max_future"`
	MaxPast         time.Duration         `yaml:"max_past"`
	HumidityRH      float64               `yaml:"humidity_rh"`
	DuplicateWindow int                   `yaml:"duplicate_window"`
	Spike           map[string]float64    `yaml:"spike"`
	Range           map[string][2]float64 `yaml:"range"`
}

// HTTP configures the API server.
type HTTP struct {
	Addr string `yaml:"addr"`
	// ReadTimeout bounds reading a whole request, WriteTimeout writing a
	// response, and IdleTimeout how long a kept-alive connection waits for
	// its next request; a client that stops reading cannot hold a response
	// (and its memory) longer than WriteTimeout.
	ReadTimeout  time.Duration `yaml:"read_timeout"`
	WriteTimeout time.Duration `yaml:"write_timeout"`
	IdleTimeout  time.Duration `yaml:"idle_timeout"`
	// MaxHeaderBytes bounds a request's header.
	MaxHeaderBytes int `yaml:"max_header_bytes"`
}

// MQTT configures the embedded broker and the collector's connection.
type MQTT struct {
	// Addr is the embedded broker's listener; unused when Broker is set.
	Addr string `yaml:"addr"`
	// Broker is an external broker's URL; empty means the embedded one.
	Broker   string `yaml:"broker"`
	Username string `yaml:"username"`
	Password Secret `yaml:"password"`
	ClientID string `yaml:"client_id"`
	// OpenRegistration lets clients without credentials onto the embedded
	// broker, to publish as any station that has no password; demo turns
	// it on, serve warns. Off, stations log in with the password whose
	// hash the station registry holds.
	OpenRegistration bool `yaml:"open_registration"`
	// TLSAddr, if set, is the embedded broker's TLS listener, with the
	// certificate and key in TLSCert and TLSKey. TLSClientCA, if set,
	// holds the CAs whose client certificates authenticate a station by
	// their common name.
	TLSAddr     string `yaml:"tls_addr"`
	TLSCert     string `yaml:"tls_cert"`
	TLSKey      string `yaml:"tls_key"`
	TLSClientCA string `yaml:"tls_client_ca"`
}

// Influx configures InfluxDB; an empty URL means the embedded SQLite store.
type Influx struct {
	URL    string `yaml:"url"`
	Token  Secret `yaml:"token"`
	Org    string `yaml:"org"`
	Bucket string `yaml:"bucket"`
}

// DB configures the shared SQL database that components such as alerts
// and cases keep their state in (package db): SQLite under data_dir by
// default, PostgreSQL when DSN is a postgres:// URL, which replicas share.
type DB struct {
	DSN          Secret        `yaml:"dsn"`
	BusyTimeout  time.Duration `yaml:"busy_timeout"`
	MaxOpenConns int           `yaml:"max_open_conns"`
}

// Alerts configures the alerts (package alerts, docs/ALERTS.md).
type Alerts struct {
	// Rules is a YAML rule file; empty means the embedded defaults on the
	// national standards.
	Rules string `yaml:"rules"`
	// WebhookURL, if set, gets every notification, signed with
	// WebhookSecret (X-Envmon-Signature).
	WebhookURL    string `yaml:"webhook_url"`
	WebhookSecret Secret `yaml:"webhook_secret"`
	// MQTT also publishes notifications on envmon/alerts/{point}/{station}.
	MQTT bool `yaml:"mqtt"`
}

// Cases configures the complaint queue (package cases, docs/CASES.md).
type Cases struct {
	// KeyFile holds the keys that seal complainants' personal data; empty
	// means $ENVMON_PII_KEYS, or a key generated in data_dir on first run.
	KeyFile string `yaml:"key_file"`
	// DefaultTeam takes cases no team's grid cells cover.
	DefaultTeam string `yaml:"default_team"`
	// Open311Jurisdiction is the jurisdiction_id served (empty: any);
	// Open311APIKeys, comma-separated, are the keys a POST must give.
	Open311Jurisdiction string `yaml:"open311_jurisdiction"`
	Open311APIKeys      Secret `yaml:"open311_api_keys"`
	// Open311RateLimit is how many service requests one client may POST
	// a minute; negative: no limit; 0: open311.DefaultRateLimit.
	Open311RateLimit int `yaml:"open311_rate_limit"`
}

// Public configures the public air-quality API (package api/public).
type Public struct {
	// History is how far back the hourly windows, and so the public AQI
	// history, reach; 0 means windows.DefaultRetention (72 h). Each day
	// held costs about 7.5 KB a station (docs/BENCHMARKS.md).
	History time.Duration `yaml:"history"`
	// Standard is the default standard of /api/v1/aqi: hj633-2026,
	// hj633-2012 or epa-2024; empty chooses by the data's time.
	Standard string `yaml:"standard"`
	// TrustedProxies, comma-separated CIDRs, are the peers whose
	// X-Forwarded-For names the client.
	TrustedProxies string `yaml:"trusted_proxies"`
	// RateLimit is requests per minute per client; negative: none; 0: the
	// default.
	RateLimit int `yaml:"rate_limit"`
}

// Stations configures the station registry.
type Stations struct {
	// File is a YAML station registry; empty means any well-formed station
	// is registered on first sight.
	File string `yaml:"file"`
	// MaxUnregistered bounds how many stations are registered on first
	// sight, so that anonymous clients cannot grow the registry without
	// limit.
	MaxUnregistered int `yaml:"max_unregistered"`
}

// Ingest tunes the collector.
type Ingest struct {
	BatchSize int `yaml:"batch_size"`
	// Writers is how many store writes run at once (committed in order).
	Writers int `yaml:"writers"`
	// FlushInterval is how long a store write waits for its batch to fill.
	FlushInterval time.Duration `yaml:"flush_interval"`
	// AckLinger is how long received messages may gather before they are
	// spooled (one fsync) and acknowledged.
	AckLinger time.Duration `yaml:"ack_linger"`
	// SharedGroup makes replicas share the work through the MQTT shared
	// subscription $share/<group>/envmon/+/+/+.
	SharedGroup string `yaml:"shared_group"`
	// DeadLetters is how many rejected messages are kept for inspection;
	// RepublishRejected also publishes them on envmon/_rejected/<reason>/...
	DeadLetters       int  `yaml:"dead_letters"`
	RepublishRejected bool `yaml:"republish_rejected"`
	// MaxPayload is the largest message accepted, in bytes.
	MaxPayload int `yaml:"max_payload"`
	// SpoolMaxBytes bounds the write-ahead spool under data_dir/spool;
	// SpoolSync is its fsync policy: always (before a message is
	// acknowledged) or interval (every second; a power cut may lose up to a
	// second of acknowledged readings, a process crash loses none).
	SpoolMaxBytes int64  `yaml:"spool_max_bytes"`
	SpoolSync     string `yaml:"spool_sync"`
}

// Runtime tunes Go's garbage collector.
type Runtime struct {
	// GCPercent is the collector's target heap growth (GOGC), unless the
	// GOGC variable is set; 0 keeps Go's default (100). envmon's heap is
	// mostly short-lived message buffers: a higher value spends less CPU
	// on collection for a larger heap (docs/BENCHMARKS.md).
	GCPercent int `yaml:"gc_percent"`
	// MemoryLimit, if not 0, is a soft limit on the heap in bytes
	// (GOMEMLIMIT): near it the collector works harder.
	MemoryLimit int64 `yaml:"memory_limit"`
}

// Log configures log/slog output.
type Log struct {
	Level  string `yaml:"level"`
	Format string `yaml:"format"`
}

// Default returns the embedded defaults: everything in one process.
func Default() Config {
	return Config{
		HTTP:    HTTP{Addr: ":8080", ReadTimeout: 30 * time.Second, WriteTimeout: 60 * time.Second, IdleTimeout: 2 * time.Minute, MaxHeaderBytes: 64 << 10},
		MQTT:    MQTT{Addr: "127.0.0.1:1883", ClientID: "envmon"},
		DataDir: "./data",
		Influx:  Influx{Org: "envmon", Bucket: "envmon"},
		Ingest: Ingest{BatchSize: ingest.DefaultBatchSize, DeadLetters: ingest.DefaultDeadLetters, MaxPayload: 64 << 10, SpoolMaxBytes: 1 << 30,
			SpoolSync: "always", Writers: ingest.DefaultWriters, FlushInterval: ingest.DefaultFlushInterval, AckLinger: ingest.DefaultAckLinger},
		Log: Log{Level: "info", Format: "text"},

		// Bounds what anonymous clients can make the registry hold.
		Stations: Stations{MaxUnregistered: 1000},
	}
}

// setting binds one configuration value to its YAML key, variable and flag.
type setting struct {
	key   string // YAML key, dotted
	flag  string
	usage string
	value func(c *Config) flag.Value
}

// Env is the environment variable for the setting: ENVMON_ and the key in
// capitals with dots as underscores (http.addr → ENVMON_HTTP_ADDR).
func (s setting) env() string {
	return "ENVMON_" + strings.ToUpper(strings.ReplaceAll(s.key, ".", "_"))
}

var settings = []setting{
	{"http.addr", "http-addr", "HTTP listen address", func(c *Config) flag.Value { return (*stringValue)(&c.HTTP.Addr) }},
	{"http.read_timeout", "http-read-timeout", "longest time to read a whole request", func(c *Config) flag.Value { return (*durationValue)(&c.HTTP.ReadTimeout) }},
	{"http.write_timeout", "http-write-timeout", "longest time to write a response; a client that stops reading is cut off after it", func(c *Config) flag.Value { return (*durationValue)(&c.HTTP.WriteTimeout) }},
	{"http.idle_timeout", "http-idle-timeout", "how long an idle kept-alive connection stays open", func(c *Config) flag.Value { return (*durationValue)(&c.HTTP.IdleTimeout) }},
	{"http.max_header_bytes", "http-max-header-bytes", "largest request header accepted, in bytes", func(c *Config) flag.Value { return (*intValue)(&c.HTTP.MaxHeaderBytes) }},
	{"mqtt.addr", "mqtt-addr", "embedded MQTT broker's listen address", func(c *Config) flag.Value { return (*stringValue)(&c.MQTT.Addr) }},
	{"mqtt.broker", "mqtt-broker", "external MQTT broker URL, e.g. tcp://host:1883 (empty: embedded broker)", func(c *Config) flag.Value { return (*stringValue)(&c.MQTT.Broker) }},
	{"mqtt.username", "mqtt-username", "MQTT username", func(c *Config) flag.Value { return (*stringValue)(&c.MQTT.Username) }},
	{"mqtt.password", "mqtt-password", "MQTT password", func(c *Config) flag.Value { return (*secretValue)(&c.MQTT.Password) }},
	{"mqtt.client_id", "mqtt-client-id", "MQTT client id of the collector (unique per replica)", func(c *Config) flag.Value { return (*stringValue)(&c.MQTT.ClientID) }},
	{"mqtt.open_registration", "mqtt-open-registration", "let clients without credentials onto the embedded broker to publish as any station without a password (demo: on)", func(c *Config) flag.Value { return (*boolValue)(&c.MQTT.OpenRegistration) }},
	{"mqtt.tls_addr", "mqtt-tls-addr", "embedded MQTT broker's TLS listen address, e.g. 127.0.0.1:8883 (empty: none)", func(c *Config) flag.Value { return (*stringValue)(&c.MQTT.TLSAddr) }},
	{"mqtt.tls_cert", "mqtt-tls-cert", "PEM certificate (chain) of the TLS listener", func(c *Config) flag.Value { return (*stringValue)(&c.MQTT.TLSCert) }},
	{"mqtt.tls_key", "mqtt-tls-key", "PEM private key of the TLS listener", func(c *Config) flag.Value { return (*stringValue)(&c.MQTT.TLSKey) }},
	{"mqtt.tls_client_ca", "mqtt-tls-client-ca", "PEM CA certificates whose client certificates authenticate a station by common name (empty: passwords only)", func(c *Config) flag.Value { return (*stringValue)(&c.MQTT.TLSClientCA) }},
	{"data_dir", "data-dir", "directory for embedded storage", func(c *Config) flag.Value { return (*stringValue)(&c.DataDir) }},
	{"influx.url", "influx-url", "InfluxDB URL, e.g. http://localhost:8086 (empty: embedded SQLite store)", func(c *Config) flag.Value { return (*stringValue)(&c.Influx.URL) }},
	{"influx.token", "influx-token", "InfluxDB token (1.8: user:password)", func(c *Config) flag.Value { return (*secretValue)(&c.Influx.Token) }},
	{"influx.org", "influx-org", "InfluxDB organisation", func(c *Config) flag.Value { return (*stringValue)(&c.Influx.Org) }},
	{"influx.bucket", "influx-bucket", "InfluxDB bucket (1.8: database/retention-policy)", func(c *Config) flag.Value { return (*stringValue)(&c.Influx.Bucket) }},
	{"db.dsn", "db-dsn", "shared database: a postgres:// URL shared by replicas (empty: SQLite under data_dir)", func(c *Config) flag.Value { return (*secretValue)(&c.DB.DSN) }},
	{"db.busy_timeout", "db-busy-timeout", "SQLite: how long a statement waits for another writer's lock (0: 10s)", func(c *Config) flag.Value { return (*durationValue)(&c.DB.BusyTimeout) }},
	{"db.max_open_conns", "db-max-open-conns", "shared database's connection pool size (0: 8)", func(c *Config) flag.Value { return (*intValue)(&c.DB.MaxOpenConns) }},
	{"alerts.rules", "rules", "alert rules YAML file (empty: the embedded defaults on the national standards)", func(c *Config) flag.Value { return (*stringValue)(&c.Alerts.Rules) }},
	{"alerts.webhook_url", "alerts-webhook-url", "URL that gets every alert notification (Alertmanager webhook v4 shape)", func(c *Config) flag.Value { return (*stringValue)(&c.Alerts.WebhookURL) }},
	{"alerts.webhook_secret", "alerts-webhook-secret", "shared secret the webhook's X-Envmon-Signature is made with", func(c *Config) flag.Value { return (*secretValue)(&c.Alerts.WebhookSecret) }},
	{"alerts.mqtt", "alerts-mqtt", "also publish alert notifications on envmon/alerts/{point}/{station}", func(c *Config) flag.Value { return (*boolValue)(&c.Alerts.MQTT) }},
	{"cases.key_file", "cases-key-file", "file with the keys that seal complainants' personal data (empty: $ENVMON_PII_KEYS, or generated in data_dir)", func(c *Config) flag.Value { return (*stringValue)(&c.Cases.KeyFile) }},
	{"cases.default_team", "cases-default-team", "team that takes cases no team covers", func(c *Config) flag.Value { return (*stringValue)(&c.Cases.DefaultTeam) }},
	{"cases.open311_jurisdiction", "open311-jurisdiction", "Open311 jurisdiction_id served (empty: any)", func(c *Config) flag.Value { return (*stringValue)(&c.Cases.Open311Jurisdiction) }},
	{"cases.open311_rate_limit", "open311-rate-limit", "Open311 service requests one client may POST a minute (0: 10; negative: none)", func(c *Config) flag.Value { return (*intValue)(&c.Cases.Open311RateLimit) }},
	{"cases.open311_api_keys", "open311-api-keys", "comma-separated api_keys an Open311 POST must give (empty: none needed)", func(c *Config) flag.Value { return (*secretValue)(&c.Cases.Open311APIKeys) }},
	{"public.history", "aqi-history", "how far back the hourly windows and the public AQI history reach (0: 72h, the least)", func(c *Config) flag.Value { return (*durationValue)(&c.Public.History) }},
	{"public.standard", "aqi-standard", "default AQI standard: hj633-2026, hj633-2012 or epa-2024 (empty: by the data's time)", func(c *Config) flag.Value { return (*stringValue)(&c.Public.Standard) }},
	{"public.trusted_proxies", "trusted-proxies", "comma-separated CIDRs of proxies whose X-Forwarded-For names the client", func(c *Config) flag.Value { return (*stringValue)(&c.Public.TrustedProxies) }},
	{"public.rate_limit", "rate-limit", "public API requests per minute per client (0: 600; negative: none)", func(c *Config) flag.Value { return (*intValue)(&c.Public.RateLimit) }},
	{"stations.file", "stations", "station registry YAML file (empty: register stations on first sight)", func(c *Config) flag.Value { return (*stringValue)(&c.Stations.File) }},
	{"stations.max_unregistered", "max-unregistered-stations", "most stations registered on first sight", func(c *Config) flag.Value { return (*intValue)(&c.Stations.MaxUnregistered) }},
	{"ingest.batch_size", "batch-size", "readings per store write", func(c *Config) flag.Value { return (*intValue)(&c.Ingest.BatchSize) }},
	{"ingest.writers", "writers", "store writes at once (committed in order)", func(c *Config) flag.Value { return (*intValue)(&c.Ingest.Writers) }},
	{"ingest.ack_linger", "ack-linger", "how long received messages may gather before one fsync spools them all (0: take what is waiting)", func(c *Config) flag.Value { return (*durationValue)(&c.Ingest.AckLinger) }},
	{"ingest.flush_interval", "flush-interval", "how long a store write waits for its batch to fill (0: write at once)", func(c *Config) flag.Value { return (*durationValue)(&c.Ingest.FlushInterval) }},
	{"ingest.shared_group", "shared-group", "MQTT shared subscription group, for several replicas (empty: none)", func(c *Config) flag.Value { return (*stringValue)(&c.Ingest.SharedGroup) }},
	{"ingest.dead_letters", "dead-letters", "rejected messages kept for inspection", func(c *Config) flag.Value { return (*intValue)(&c.Ingest.DeadLetters) }},
	{"ingest.republish_rejected", "republish-rejected", "also publish rejected messages on envmon/_rejected/<reason>/<topic>", func(c *Config) flag.Value { return (*boolValue)(&c.Ingest.RepublishRejected) }},
	{"ingest.max_payload", "max-payload", "largest MQTT payload accepted, in bytes", func(c *Config) flag.Value { return (*intValue)(&c.Ingest.MaxPayload) }},
	{"ingest.spool_max_bytes", "spool-max-bytes", "largest the write-ahead spool may grow before ingest applies backpressure", func(c *Config) flag.Value { return (*int64Value)(&c.Ingest.SpoolMaxBytes) }},
	{"ingest.spool_sync", "spool-sync", "spool fsync policy: always or interval", func(c *Config) flag.Value { return (*stringValue)(&c.Ingest.SpoolSync) }},
	{"qc.stuck_for", "qc-stuck-for", "flag a value repeated exactly for this long (0: default 2h)", func(c *Config) flag.Value { return (*durationValue)(&c.QC.StuckFor) }},
	{"qc.spike_gap", "qc-spike-gap", "compare consecutive readings for spikes only this close (0: default 1h)", func(c *Config) flag.Value { return (*durationValue)(&c.QC.SpikeGap) }},
	{"qc.max_future", "qc-max-future", "flag readings timestamped this far ahead of arrival (0: default 5m)", func(c *Config) flag.Value { return (*durationValue)(&c.QC.MaxFuture) }},
	{"qc.max_past", "qc-max-past", "flag readings timestamped this far behind arrival (0: default 48h)", func(c *Config) flag.Value { return (*durationValue)(&c.QC.MaxPast) }},
	{"qc.humidity_rh", "qc-humidity-rh", "flag optical PM at or above this relative humidity, % (0: default 95)", func(c *Config) flag.Value { return (*floatValue)(&c.QC.HumidityRH) }},
	{"qc.duplicate_window", "qc-duplicate-window", "recent timestamps remembered per station for duplicates (0: default 256)", func(c *Config) flag.Value { return (*intValue)(&c.QC.DuplicateWindow) }},
	{"api.admin_token", "admin-token", "bearer token for operators' endpoints (empty: disabled)", func(c *Config) flag.Value { return (*secretValue)(&c.API.AdminToken) }},
	{"runtime.gc_percent", "gc-percent", "garbage collector's target heap growth, as GOGC (0: Go's default, 100; the GOGC variable wins)", func(c *Config) flag.Value { return (*intValue)(&c.Runtime.GCPercent) }},
	{"runtime.memory_limit", "memory-limit", "soft limit on the Go heap in bytes, as GOMEMLIMIT (0: none)", func(c *Config) flag.Value { return (*int64Value)(&c.Runtime.MemoryLimit) }},
	{"log.level", "log-level", "debug, info, warn or error", func(c *Config) flag.Value { return (*stringValue)(&c.Log.Level) }},
	{"log.format", "log-format", "text or json", func(c *Config) flag.Value { return (*stringValue)(&c.Log.Format) }},
}

// EnvFor returns the environment variable of the setting whose flag is
// flagName, or "" if there is none.
func EnvFor(flagName string) string {
	for _, s := range settings {
		if s.flag == flagName {
			return s.env()
		}
	}
	return ""
}

// Loader registers the configuration flags on a FlagSet and, once the flags
// are parsed, builds the Config from file, environment and flags.
type Loader struct {
	file  string
	flags map[string]string // flag name → raw value, for flags set on the command line
	fs    *flag.FlagSet
	base  Config
}

// Register adds --config and every setting's flag to fs. base supplies the
// defaults; commands may adjust it (demo, for example).
func Register(fs *flag.FlagSet, base Config) *Loader {
	l := &Loader{flags: map[string]string{}, fs: fs, base: base}
	fs.StringVar(&l.file, "config", "", "YAML configuration file (also ENVMON_CONFIG)")
	for _, s := range settings {
		def := s.value(&base).String()
		_, isBool := s.value(&base).(*boolValue)
		fs.Var(&rawValue{name: s.flag, into: l.flags, def: def, isBool: isBool}, s.flag, s.usage+" ("+s.env()+")")
	}
	return l
}

// Load builds the configuration: defaults, then the file (--config or
// ENVMON_CONFIG), then ENVMON_* variables, then flags. getenv is os.Getenv in
// production and a map in tests.
func (l *Loader) Load(getenv func(string) string) (Config, error) {
	cfg := l.base
	file := l.file
	if file == "" {
		file = getenv("ENVMON_CONFIG")
	}
	if file != "" {
		data, err := os.ReadFile(file)
		if err != nil {
			return cfg, fmt.Errorf("config: %w", err)
		}
		if err := decodeYAML(data, &cfg); err != nil {
			return cfg, fmt.Errorf("config %s: %w", file, err)
		}
	}
	for _, s := range settings {
		if v := getenv(s.env()); v != "" {
			if err := s.value(&cfg).Set(v); err != nil {
				return cfg, fmt.Errorf("config: %s (%s): %w", s.key, s.env(), err)
			}
		}
	}
	for _, s := range settings {
		if v, ok := l.flags[s.flag]; ok {
			if err := s.value(&cfg).Set(v); err != nil {
				return cfg, fmt.Errorf("config: %s (--%s): %w", s.key, s.flag, err)
			}
		}
	}
	return cfg, cfg.Validate()
}

// Set reports whether the setting with the given flag name was given on the
// command line or in the environment, so a command can tell a default from
// a choice (demo moves a default port that is taken, never a chosen one).
func (l *Loader) Set(flagName string, getenv func(string) string) bool {
	if _, ok := l.flags[flagName]; ok {
		return true
	}
	env := EnvFor(flagName)
	return env != "" && getenv(env) != ""
}

// decodeYAML applies a YAML file through the same setters as variables and
// flags, so a bad value or an unknown key is reported by its dotted key.
func decodeYAML(data []byte, cfg *Config) error {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return err
	}
	if len(doc.Content) == 0 {
		return nil // an empty file
	}
	flat := map[string]*yaml.Node{}
	if err := flatten("", doc.Content[0], flat); err != nil {
		return err
	}
	byKey := map[string]setting{}
	for _, s := range settings {
		byKey[s.key] = s
	}
	for key, n := range flat {
		if done, err := perMetric(cfg, key, n.Value); done {
			if err != nil {
				return fmt.Errorf("line %d: %s: %w", n.Line, key, err)
			}
			continue
		}
		s, ok := byKey[key]
		if !ok {
			return fmt.Errorf("line %d: unknown key %s", n.Line, key)
		}
		if err := s.value(cfg).Set(n.Value); err != nil {
			return fmt.Errorf("line %d: %s: %w", n.Line, key, err)
		}
	}
	return nil
}

// perMetric applies qc.spike.<metric> and qc.range.<metric>; done says
// whether key was one of them.
func perMetric(cfg *Config, key, val string) (done bool, err error) {
	if m, ok := strings.CutPrefix(key, "qc.spike."); ok {
		var f floatValue
		if err := f.Set(val); err != nil || f <= 0 {
			return true, fmt.Errorf("%q is not a positive rate per minute", val)
		}
		if cfg.QC.Spike == nil {
			cfg.QC.Spike = map[string]float64{}
		}
		cfg.QC.Spike[m] = float64(f)
		return true, nil
	}
	if m, ok := strings.CutPrefix(key, "qc.range."); ok {
		lo, hi, found := strings.Cut(val, ",")
		var a, b floatValue
		if !found || a.Set(strings.TrimSpace(lo)) != nil || b.Set(strings.TrimSpace(hi)) != nil || a > b {
			return true, fmt.Errorf("%q is not \"min,max\"", val)
		}
		if cfg.QC.Range == nil {
			cfg.QC.Range = map[string][2]float64{}
		}
		cfg.QC.Range[m] = [2]float64{float64(a), float64(b)}
		return true, nil
	}
	return false, nil
}

func flatten(prefix string, n *yaml.Node, into map[string]*yaml.Node) error {
	switch n.Kind {
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			key := n.Content[i].Value
			if prefix != "" {
				key = prefix + "." + key
			}
			if err := flatten(key, n.Content[i+1], into); err != nil {
				return err
			}
		}
		return nil
	case yaml.ScalarNode:
		if prefix == "" {
			return fmt.Errorf("line %d: the file must be a mapping of keys to values", n.Line)
		}
		into[prefix] = n
		return nil
	case yaml.SequenceNode:
		if !listKeys[prefix] {
			return fmt.Errorf("line %d: %s: want a single value", n.Line, prefix)
		}
		// A list is the comma-separated value its flag and variable take.
		var items []string
		for _, it := range n.Content {
			if it.Kind != yaml.ScalarNode || strings.Contains(it.Value, ",") {
				return fmt.Errorf("line %d: %s: want a list of single values without commas", it.Line, prefix)
			}
			items = append(items, it.Value)
		}
		into[prefix] = &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: strings.Join(items, ","), Line: n.Line, Column: n.Column}
		return nil
	default:
		return fmt.Errorf("line %d: %s: want a single value", n.Line, prefix)
	}
}

// listKeys are the settings a file may give as a YAML list; the flag and
// the variable take the same values comma-separated.
var listKeys = map[string]bool{
	"public.trusted_proxies": true,
	"cases.open311_api_keys": true,
}

// TrustedProxies parses public.trusted_proxies.
func (c Config) TrustedProxies() ([]netip.Prefix, error) {
	var out []netip.Prefix
	for f := range strings.SplitSeq(c.Public.TrustedProxies, ",") {
		if f = strings.TrimSpace(f); f == "" {
			continue
		}
		p, err := netip.ParsePrefix(f)
		if err != nil {
			a, err2 := netip.ParseAddr(f)
			if err2 != nil {
				return nil, fmt.Errorf("%q is not a CIDR or an address", f)
			}
			p = netip.PrefixFrom(a, a.BitLen())
		}
		out = append(out, p)
	}
	return out, nil
}

// DBConfig is the configuration of package db that c describes.
func (c Config) DBConfig() db.Config {
	return db.Config{DSN: c.DB.DSN.Reveal(), DataDir: c.DataDir, BusyTimeout: c.DB.BusyTimeout, MaxOpenConns: c.DB.MaxOpenConns}
}

// Validate checks every setting and names the key of the first bad one.
func (c Config) Validate() error {
	var errs []error
	bad := func(key, format string, args ...any) {
		errs = append(errs, fmt.Errorf("config: %s: %s", key, fmt.Sprintf(format, args...)))
	}
	if err := checkAddr(c.HTTP.Addr); err != nil {
		bad("http.addr", "%v", err)
	}
	if err := c.DBConfig().Validate(); err != nil {
		errs = append(errs, fmt.Errorf("config: %w", err))
	}
	if c.Alerts.WebhookURL != "" {
		if err := checkURL(c.Alerts.WebhookURL, "http", "https"); err != nil {
			bad("alerts.webhook_url", "%v", err)
		}
		if c.Alerts.WebhookSecret.Reveal() == "" {
			bad("alerts.webhook_secret", "required with alerts.webhook_url, to sign the requests")
		}
	}
	if c.Public.History != 0 && c.Public.History < 72*time.Hour {
		bad("public.history", "%v is below 72h, which the 24 h means need (GB 3095: 20 valid hours)", c.Public.History)
	}
	if c.Public.Standard != "" {
		if _, err := quality.ParseStandard(c.Public.Standard); err != nil {
			bad("public.standard", "%v", err)
		}
	}
	if _, err := c.TrustedProxies(); err != nil {
		bad("public.trusted_proxies", "%v", err)
	}
	for _, d := range []struct {
		key string
		d   time.Duration
	}{{"http.read_timeout", c.HTTP.ReadTimeout}, {"http.write_timeout", c.HTTP.WriteTimeout}, {"http.idle_timeout", c.HTTP.IdleTimeout}} {
		if d.d < time.Second || d.d > time.Hour {
			bad(d.key, "%v is not between 1s and 1h", d.d)
		}
	}
	if c.HTTP.MaxHeaderBytes < 4<<10 || c.HTTP.MaxHeaderBytes > 1<<20 {
		bad("http.max_header_bytes", "%d is not between 4096 and 1048576", c.HTTP.MaxHeaderBytes)
	}
	if c.MQTT.Broker == "" {
		if err := checkAddr(c.MQTT.Addr); err != nil {
			bad("mqtt.addr", "%v", err)
		}
		if c.MQTT.TLSAddr != "" {
			if err := checkAddr(c.MQTT.TLSAddr); err != nil {
				bad("mqtt.tls_addr", "%v", err)
			}
			if c.MQTT.TLSCert == "" || c.MQTT.TLSKey == "" {
				bad("mqtt.tls_addr", "needs mqtt.tls_cert and mqtt.tls_key")
			}
		} else if c.MQTT.TLSCert != "" || c.MQTT.TLSKey != "" || c.MQTT.TLSClientCA != "" {
			bad("mqtt.tls_addr", "must be set for mqtt.tls_cert, mqtt.tls_key and mqtt.tls_client_ca to apply")
		}
	} else if err := checkURL(c.MQTT.Broker, "tcp", "mqtt", "ssl", "tls", "mqtts", "ws", "wss"); err != nil {
		bad("mqtt.broker", "%v", err)
	}
	if c.MQTT.ClientID == "" {
		bad("mqtt.client_id", "must not be empty")
	}
	if c.Stations.MaxUnregistered < 0 {
		bad("stations.max_unregistered", "must not be negative")
	}
	if c.DataDir == "" {
		bad("data_dir", "must not be empty: it holds the spool, and the store unless influx.url is set")
	}
	if c.Influx.URL != "" {
		if err := checkURL(c.Influx.URL, "http", "https"); err != nil {
			bad("influx.url", "%v", err)
		}
		if c.Influx.Bucket == "" {
			bad("influx.bucket", "must not be empty when influx.url is set")
		}
	}
	if c.Ingest.BatchSize < 1 || c.Ingest.BatchSize > 100_000 {
		bad("ingest.batch_size", "%d is not between 1 and 100000", c.Ingest.BatchSize)
	}
	if c.Ingest.Writers < 1 || c.Ingest.Writers > 64 {
		bad("ingest.writers", "%d is not between 1 and 64", c.Ingest.Writers)
	}
	if c.Ingest.AckLinger < 0 || c.Ingest.AckLinger > time.Second {
		bad("ingest.ack_linger", "%v is not between 0 and 1s", c.Ingest.AckLinger)
	}
	if c.Ingest.FlushInterval < 0 || c.Ingest.FlushInterval > time.Minute {
		bad("ingest.flush_interval", "%v is not between 0 and 1m", c.Ingest.FlushInterval)
	}
	if strings.ContainsAny(c.Ingest.SharedGroup, "/+#") {
		bad("ingest.shared_group", "%q must not contain /, + or #", c.Ingest.SharedGroup)
	}
	if c.Ingest.DeadLetters < 1 {
		bad("ingest.dead_letters", "must be at least 1")
	}
	if c.Ingest.MaxPayload < 256 || c.Ingest.MaxPayload > 256<<20 {
		bad("ingest.max_payload", "%d is not between 256 and 268435456", c.Ingest.MaxPayload)
	}
	for _, d := range []struct {
		key string
		d   time.Duration
	}{{"qc.stuck_for", c.QC.StuckFor}, {"qc.spike_gap", c.QC.SpikeGap}, {"qc.max_future", c.QC.MaxFuture}, {"qc.max_past", c.QC.MaxPast}} {
		if d.d < 0 {
			bad(d.key, "must not be negative")
		}
	}
	if c.Ingest.SpoolMaxBytes < 1<<20 {
		bad("ingest.spool_max_bytes", "%d is less than 1 MiB", c.Ingest.SpoolMaxBytes)
	}
	switch c.Ingest.SpoolSync {
	case "always", "interval":
	default:
		bad("ingest.spool_sync", "%q is not always or interval", c.Ingest.SpoolSync)
	}
	if c.QC.HumidityRH < 0 || c.QC.HumidityRH > 100 {
		bad("qc.humidity_rh", "%v is not a percentage", c.QC.HumidityRH)
	}
	switch c.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		bad("log.level", "%q is not debug, info, warn or error", c.Log.Level)
	}
	switch c.Log.Format {
	case "text", "json":
	default:
		bad("log.format", "%q is not text or json", c.Log.Format)
	}
	return errors.Join(errs...)
}

func checkAddr(addr string) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("%q is not host:port", addr)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		return fmt.Errorf("%q has no valid port", addr)
	}
	_ = host
	return nil
}

func checkURL(raw string, schemes ...string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("%q is not a URL", raw)
	}
	for _, s := range schemes {
		if u.Scheme == s && u.Host != "" {
			return nil
		}
	}
	return fmt.Errorf("%q is not a URL of scheme %s with a host", raw, strings.Join(schemes, ", "))
}

type stringValue string

func (v *stringValue) String() string     { return string(*v) }
func (v *stringValue) Set(s string) error { *v = stringValue(s); return nil }

type secretValue Secret

func (v *secretValue) String() string     { return Secret(*v).String() }
func (v *secretValue) Set(s string) error { *v = secretValue(secret.New(s)); return nil }

type intValue int

func (v *intValue) String() string { return strconv.Itoa(int(*v)) }
func (v *intValue) Set(s string) error {
	n, err := strconv.Atoi(s)
	if err != nil {
		return fmt.Errorf("%q is not a whole number", s)
	}
	*v = intValue(n)
	return nil
}

type int64Value int64

func (v *int64Value) String() string { return strconv.FormatInt(int64(*v), 10) }
func (v *int64Value) Set(s string) error {
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return fmt.Errorf("%q is not a whole number", s)
	}
	*v = int64Value(n)
	return nil
}

type floatValue float64

func (v *floatValue) String() string { return strconv.FormatFloat(float64(*v), 'g', -1, 64) }
func (v *floatValue) Set(s string) error {
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
		return fmt.Errorf("%q is not a number", s)
	}
	*v = floatValue(f)
	return nil
}

type boolValue bool

func (v *boolValue) String() string   { return strconv.FormatBool(bool(*v)) }
func (v *boolValue) IsBoolFlag() bool { return true }
func (v *boolValue) Set(s string) error {
	b, err := strconv.ParseBool(s)
	if err != nil {
		return fmt.Errorf("%q is not true or false", s)
	}
	*v = boolValue(b)
	return nil
}

type durationValue time.Duration

func (v *durationValue) String() string { return time.Duration(*v).String() }
func (v *durationValue) Set(s string) error {
	d, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("%q is not a duration such as 200ms or 5s", s)
	}
	*v = durationValue(d)
	return nil
}

// rawValue records a flag's raw text; Load applies it after file and
// environment, so that precedence does not depend on parsing order.
type rawValue struct {
	name   string
	into   map[string]string
	def    string
	isBool bool // a bare --flag means true
}

// IsBoolFlag lets a boolean setting's flag stand alone (--flag for
// --flag=true).
func (r *rawValue) IsBoolFlag() bool { return r.isBool }

func (r *rawValue) String() string {
	if r == nil || r.into == nil {
		return ""
	}
	if v, ok := r.into[r.name]; ok {
		return v
	}
	return r.def
}

func (r *rawValue) Set(s string) error { r.into[r.name] = s; return nil }

// Sample is a commented configuration file with every key at its default.
//
//go:embed sample.yaml
var Sample string
