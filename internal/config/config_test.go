package config

import (
	"flag"
	"fmt"
	"io"
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
				if c.HTTP.Addr != ":8080" || c.MQTT.Addr != ":1883" || c.MQTT.Broker != "" || c.DataDir != "./data" || c.Influx.URL != "" {
					return fmt.Errorf("defaults wrong: %+v", c)
				}
				return nil
			},
		},
		{
			name: "file",
			args: []string{"--config", "testdata/good.yaml"},
			check: func(c Config) error {
				if c.HTTP.Addr != ":9090" || c.MQTT.Broker != "tcp://broker.example:1883" || c.Influx.Token != "s3cret" || c.Ingest.BatchSize != 500 {
					return fmt.Errorf("file not applied: %+v", c)
				}
				if c.MQTT.Addr != ":1883" {
					return fmt.Errorf("default lost: mqtt.addr = %q", c.MQTT.Addr)
				}
				return nil
			},
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
	s := Secret("hunter2")
	for _, got := range []string{s.String(), fmt.Sprint(s), fmt.Sprintf("%v %s", s, s), fmt.Sprintf("%+v", Influx{Token: s})} {
		if strings.Contains(got, "hunter2") {
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
