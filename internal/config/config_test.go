package config

import (
	"bytes"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"reflect"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

func load(t *testing.T, args []string, env map[string]string) (Config, error) {
	t.Helper()
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	l := Register(fs, Default())
	if err := fs.Parse(args); err != nil {
		return Config{}, err
	}
	return l.Load(func(k string) string { return env[k] })
}

func TestLoad(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		args    []string
		env     map[string]string
		check   func(Config) error
		wantErr string
	}{
		{
			name: "defaults",
			check: func(c Config) error {
				if c.HTTP.Addr != ":8080" || c.MQTT.Addr != "127.0.0.1:1883" || c.MQTT.OpenRegistration || c.Stations.MaxUnregistered != 1000 || c.MQTT.Broker != "" || c.DataDir != "./data" || c.Influx.URL != "" {
					return fmt.Errorf("defaults wrong: %+v", c)
				}
				return nil
			},
		},
		{
			name: "file",
			args: []string{"--config", "testdata/good.yaml"},
			check: func(c Config) error {
				if c.HTTP.Addr != ":9090" || c.MQTT.Broker != "tcp://broker.example:1883" || c.Influx.Token.Reveal() != "s3cret" || c.Ingest.BatchSize != 500 {
					return fmt.Errorf("file not applied: %+v", c)
				}
				if c.MQTT.Addr != "127.0.0.1:1883" {
					return fmt.Errorf("default lost: mqtt.addr = %q", c.MQTT.Addr)
				}
				return nil
			},
		},
		{
			name: "lists",
			args: []string{"--config", "testdata/lists.yaml"},
			check: func(c Config) error {
				ps, err := c.TrustedProxies()
				if err != nil || len(ps) != 2 || ps[0].String() != "10.0.0.0/8" || ps[1].String() != "192.0.2.7/32" {
					return fmt.Errorf("public.trusted_proxies = %v, %v", ps, err)
				}
				if c.Cases.Open311APIKeys.Reveal() != "k1,k2" {
					return fmt.Errorf("cases.open311_api_keys not taken from a list")
				}
				return nil
			},
		},
		{
			name:    "list where one value belongs",
			args:    []string{"--config", "testdata/bad-list.yaml"},
			wantErr: "http.addr: want a single value",
		},
		{
			name: "env overrides file",
			args: []string{"--config", "testdata/good.yaml"},
			env:  map[string]string{"ENVMON_HTTP_ADDR": ":7070", "ENVMON_INGEST_BATCH_SIZE": "42"},
			check: func(c Config) error {
				if c.HTTP.Addr != ":7070" || c.Ingest.BatchSize != 42 {
					return fmt.Errorf("env not applied: %+v", c)
				}
				return nil
			},
		},
		{
			name: "flag overrides env and file",
			args: []string{"--config", "testdata/good.yaml", "--http-addr", ":6060"},
			env:  map[string]string{"ENVMON_HTTP_ADDR": ":7070"},
			check: func(c Config) error {
				if c.HTTP.Addr != ":6060" {
					return fmt.Errorf("http.addr = %q, want the flag's :6060", c.HTTP.Addr)
				}
				return nil
			},
		},
		{
			name: "config file from env",
			env:  map[string]string{"ENVMON_CONFIG": "testdata/good.yaml"},
			check: func(c Config) error {
				if c.HTTP.Addr != ":9090" {
					return fmt.Errorf("ENVMON_CONFIG not read: %+v", c)
				}
				return nil
			},
		},
		{name: "unknown yaml key", args: []string{"--config", "testdata/bad_key.yaml"}, wantErr: "unknown key http.adr"},
		{name: "bad broker url", args: []string{"--config", "testdata/bad_broker.yaml"}, wantErr: "mqtt.broker"},
		{name: "bad duration in file", args: []string{"--config", "testdata/bad_duration.yaml"}, wantErr: "line 2: qc.stuck_for"},
		{name: "missing file", args: []string{"--config", "testdata/nope.yaml"}, wantErr: "nope.yaml"},
		{name: "bad env int", env: map[string]string{"ENVMON_INGEST_BATCH_SIZE": "lots"}, wantErr: "ingest.batch_size (ENVMON_INGEST_BATCH_SIZE)"},
		{name: "bad flag addr", args: []string{"--http-addr", "8080"}, wantErr: "http.addr"},
		{name: "bad influx url", args: []string{"--influx-url", "localhost:8086"}, wantErr: "influx.url"},
		{name: "bad log level", env: map[string]string{"ENVMON_LOG_LEVEL": "loud"}, wantErr: "log.level"},
		{name: "batch size range", args: []string{"--batch-size", "0"}, wantErr: "ingest.batch_size"},
		{name: "bad shared group", args: []string{"--shared-group", "a/b"}, wantErr: "ingest.shared_group"},
		{name: "bad bool", env: map[string]string{"ENVMON_INGEST_REPUBLISH_REJECTED": "maybe"}, wantErr: "ingest.republish_rejected"},
		{name: "per-metric qc", args: []string{"--config", "testdata/qc.yaml"}, check: func(c Config) error {
			if c.QC.Spike["pm25"] != 200 || c.QC.Range["pm10"] != [2]float64{0, 1500} || c.QC.StuckFor != 3*time.Hour || !c.Ingest.RepublishRejected {
				return fmt.Errorf("qc not applied: %+v %+v", c.QC, c.Ingest)
			}
			return nil
		}},
		{name: "bad qc range", args: []string{"--config", "testdata/bad_range.yaml"}, wantErr: "line 3: qc.range.pm25"},
		{name: "http timeouts", args: []string{"--http-write-timeout", "5s", "--http-max-header-bytes", "8192"}, check: func(c Config) error {
			if c.HTTP.WriteTimeout != 5*time.Second || c.HTTP.MaxHeaderBytes != 8192 || c.HTTP.ReadTimeout != 30*time.Second || c.HTTP.IdleTimeout != 2*time.Minute {
				return fmt.Errorf("http not applied: %+v", c.HTTP)
			}
			return nil
		}},
		{name: "mqtt open registration and tls", args: []string{"--mqtt-open-registration", "--mqtt-tls-addr", "127.0.0.1:8883", "--mqtt-tls-cert", "c.pem", "--mqtt-tls-key", "k.pem"},
			env: map[string]string{"ENVMON_MQTT_TLS_CLIENT_CA": "ca.pem", "ENVMON_STATIONS_MAX_UNREGISTERED": "5"},
			check: func(c Config) error {
				if !c.MQTT.OpenRegistration || c.MQTT.TLSAddr != "127.0.0.1:8883" || c.MQTT.TLSCert != "c.pem" || c.MQTT.TLSKey != "k.pem" || c.MQTT.TLSClientCA != "ca.pem" || c.Stations.MaxUnregistered != 5 {
					return fmt.Errorf("mqtt not applied: %+v %+v", c.MQTT, c.Stations)
				}
				return nil
			}},
		{name: "open registration from env", env: map[string]string{"ENVMON_MQTT_OPEN_REGISTRATION": "true"}, check: func(c Config) error {
			if !c.MQTT.OpenRegistration {
				return fmt.Errorf("ENVMON_MQTT_OPEN_REGISTRATION not applied")
			}
			return nil
		}},
		{name: "tls addr without cert", args: []string{"--mqtt-tls-addr", "127.0.0.1:8883"}, wantErr: "mqtt.tls_addr: needs mqtt.tls_cert"},
		{name: "tls cert without addr", args: []string{"--mqtt-tls-cert", "c.pem"}, wantErr: "mqtt.tls_addr: must be set"},
		{name: "bad tls addr", args: []string{"--mqtt-tls-addr", "8883", "--mqtt-tls-cert", "c", "--mqtt-tls-key", "k"}, wantErr: "mqtt.tls_addr"},
		{name: "negative max unregistered", args: []string{"--max-unregistered-stations", "-1"}, wantErr: "stations.max_unregistered"},
		{name: "http timeout too short", env: map[string]string{"ENVMON_HTTP_READ_TIMEOUT": "0s"}, wantErr: "http.read_timeout"},
		{name: "http header limit too large", args: []string{"--http-max-header-bytes", "100000000"}, wantErr: "http.max_header_bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, err := load(t, tt.args, tt.env)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error = %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if err := tt.check(c); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestSecretNeverPrints(t *testing.T) {
	t.Parallel()
	cfg := Default()
	if err := (*secretValue)(&cfg.Influx.Token).Set("hunter2"); err != nil {
		t.Fatal(err)
	}
	cfg.MQTT.Password, cfg.API.AdminToken = cfg.Influx.Token, cfg.Influx.Token
	s := cfg.Influx.Token
	// inside keeps the configuration in an unexported field, as a component
	// that holds its config does.
	type inside struct{ cfg Config }
	var logged bytes.Buffer
	slog.New(slog.NewTextHandler(&logged, nil)).Info("config", "cfg", cfg, "token", s)
	for _, got := range []string{
		s.String(), fmt.Sprint(s), fmt.Sprintf("%v %s %q %x", s, s, s, s),
		fmt.Sprintf("%+v", Influx{Token: s}), fmt.Sprintf("%#v", Influx{Token: s}), fmt.Sprintf("%#v", s),
		fmt.Sprintf("%v %+v %#v", cfg, cfg, cfg), fmt.Sprintf("%v %+v %#v", inside{cfg}, inside{cfg}, inside{cfg}),
		logged.String(),
	} {
		if strings.Contains(got, "hunter2") || strings.Contains(got, fmt.Sprintf("%x", "hunter2")) {
			t.Errorf("secret leaked: %q", got)
		}
	}
}

func TestEveryFlagHasAKeyAndVariable(t *testing.T) {
	t.Parallel()
	seen := map[string]bool{}
	for _, s := range settings {
		if seen[s.flag] || seen[s.key] {
			t.Errorf("duplicate setting %s/%s", s.key, s.flag)
		}
		seen[s.flag], seen[s.key] = true, true
		if !strings.HasPrefix(s.env(), "ENVMON_") || strings.Contains(s.env(), ".") {
			t.Errorf("bad variable name %q", s.env())
		}
	}
}

func TestSampleIsDefault(t *testing.T) {
	t.Parallel()
	var c = Default()
	if err := decodeYAML([]byte(Sample), &c); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(c, Default()) {
		t.Errorf("sample.yaml differs from Default():\n%+v\n%+v", c, Default())
	}
	flat := map[string]*yaml.Node{}
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte(Sample), &doc); err != nil {
		t.Fatal(err)
	}
	if err := flatten("", doc.Content[0], flat); err != nil {
		t.Fatal(err)
	}
	for _, s := range settings {
		if _, ok := flat[s.key]; !ok {
			t.Errorf("sample.yaml lacks %s", s.key)
		}
	}
}
