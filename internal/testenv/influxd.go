package testenv

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Influx is an InfluxDB 1.8 server with Flux and without authentication,
// reached through its v2-compatible API.
type Influx struct {
	URL      string // http://127.0.0.1:PORT
	Org      string // ignored by InfluxDB 1.8
	Token    string // empty: authentication is off
	Database string // created at start
	Bucket   string // Database + "/autogen"
	Dir      string // holds the config, the log and the data

	proc *process
}

// Influxd starts an InfluxDB 1.8 server (influxd from $ENVMON_INFLUXD, else
// $HOME/.cache/envmon/tools/influxd, else PATH) with the database "envmon",
// and stops it when t ends.
func Influxd(t testing.TB) *Influx {
	t.Helper()
	skipShort(t, "InfluxDB")
	var candidates []string
	if home, err := os.UserHomeDir(); err == nil {
		candidates = append(candidates, filepath.Join(home, ".cache", "envmon", "tools", "influxd"))
	}
	bin := lookBinary(t, "influxd", "ENVMON_INFLUXD", append(candidates, "influxd")...)

	dir := t.TempDir()
	conf := filepath.Join(dir, "influxdb.conf")
	in := &Influx{
		Org:      "-",
		Database: "envmon",
		Bucket:   "envmon/autogen",
		Dir:      dir,
	}
	in.proc = startRetrying(t, func() *process {
		httpPort, rpcPort := freePort(t), freePort(t)
		for httpPort == rpcPort {
			rpcPort = freePort(t)
		}
		if err := os.WriteFile(conf, []byte(influxConfig(dir, httpPort, rpcPort)), 0o644); err != nil {
			t.Fatalf("write influxd config: %v", err)
		}
		in.URL = fmt.Sprintf("http://127.0.0.1:%d", httpPort)
		p := &process{
			name:    "influxd",
			bin:     bin,
			args:    []string{"run", "-config", conf},
			logPath: filepath.Join(dir, "influxd.log"),
		}
		// influxd logs this only once its HTTP listener is open.
		p.ready = p.logReady("Listening on HTTP", in.ping)
		return p
	})
	t.Cleanup(func() { in.proc.stop(t) })
	in.CreateDatabase(t, in.Database)
	return in
}

// influxConfig is an influxd 1.8 configuration with only the HTTP API and
// the RPC service (backup and restore) listening, both on loopback.
func influxConfig(dir string, httpPort, rpcPort int) string {
	return fmt.Sprintf(`reporting-disabled = true
bind-address = "127.0.0.1:%[3]d"

[meta]
  dir = %[1]q

[data]
  dir = %[2]q
  wal-dir = %[4]q
  query-log-enabled = false

[monitor]
  store-enabled = false

[subscriber]
  enabled = false

[http]
  enabled = true
  bind-address = "127.0.0.1:%[5]d"
  auth-enabled = false
  log-enabled = false
  flux-enabled = true
  flux-log-enabled = false

[logging]
  level = "info"
`, filepath.Join(dir, "meta"), filepath.Join(dir, "data"), rpcPort, filepath.Join(dir, "wal"), httpPort)
}

// Start starts the server again after Stop, on the same ports and with the
// same data, and waits until it answers. It also creates Database, which
// survives a restart anyway.
func (in *Influx) Start(t testing.TB) {
	t.Helper()
	in.proc.start(t)
	in.CreateDatabase(t, in.Database)
}

// Stop stops the server gracefully and waits for it to exit.
func (in *Influx) Stop(t testing.TB) {
	t.Helper()
	in.proc.stop(t)
}

// ping reports whether GET /ping answers 204 No Content.
func (in *Influx) ping(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, in.URL+"/ping", nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, resp.Body)
	if resp.StatusCode != http.StatusNoContent {
		return fmt.Errorf("%w: GET /ping: %s", errStatus, resp.Status)
	}
	return nil
}

// CreateDatabase creates the database name (bucket name+"/autogen") if it
// does not exist.
func (in *Influx) CreateDatabase(t testing.TB, name string) {
	t.Helper()
	if err := in.Exec(t.Context(), `CREATE DATABASE "`+strings.ReplaceAll(name, `"`, `\"`)+`"`); err != nil {
		t.Fatalf("create database %q: %v", name, err)
	}
}

// Exec runs an InfluxQL statement through the 1.x /query API, for the setup
// and checks that the v2 API cannot do.
func (in *Influx) Exec(ctx context.Context, stmt string) error {
	_, err := in.query(ctx, stmt, "")
	return err
}

// Query runs an InfluxQL query in database db through the 1.x /query API
// and returns its raw JSON answer.
func (in *Influx) Query(ctx context.Context, db, q string) ([]byte, error) {
	return in.query(ctx, q, db)
}

func (in *Influx) query(ctx context.Context, q, db string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	form := url.Values{"q": {q}}
	if db != "" {
		form.Set("db", db)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, in.URL+"/query", strings.NewReader(form.Encode()))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%w: POST /query: %s: %s", errStatus, resp.Status, body)
	}
	// InfluxQL reports a failed statement with 200 OK and an error field.
	var answer struct {
		Error   string `json:"error"`
		Results []struct {
			Error string `json:"error"`
		} `json:"results"`
	}
	if err := json.Unmarshal(body, &answer); err != nil {
		return nil, fmt.Errorf("decode /query answer %q: %w", body, err)
	}
	if answer.Error != "" {
		return nil, fmt.Errorf("influxql: %s", answer.Error)
	}
	for _, r := range answer.Results {
		if r.Error != "" {
			return nil, fmt.Errorf("influxql: %s", r.Error)
		}
	}
	return body, nil
}
