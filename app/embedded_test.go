package app

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"sync"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	_ "modernc.org/sqlite"

	"github.com/envmon/envmon/internal/testenv"
	"github.com/envmon/envmon/reading"
	"github.com/envmon/envmon/store"
)

// countingStore counts the writes of each (station, metric, time) key that
// reach the store, so a test can see a doubled write that the store's own
// overwrite would hide.
type countingStore struct {
	store.Store
	mu     sync.Mutex
	writes map[string]int
}

func (s *countingStore) Write(ctx context.Context, rs []reading.Reading) error {
	if err := s.Store.Write(ctx, rs); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, r := range rs {
		for _, v := range r.Values {
			s.writes[fmt.Sprintf("%s/%s/%d", r.Station, v.Metric, r.Time.UnixNano())]++
		}
	}
	return nil
}

// doubled returns the number of distinct keys written and how many of them
// were written more than once.
func (s *countingStore) doubled() (keys, doubled int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, n := range s.writes {
		if n > 1 {
			doubled++
		}
	}
	return len(s.writes), doubled
}

// TestEmbeddedStoresEveryAcknowledgedReading: 8 connections publish 20,000
// QoS 1 readings to the embedded broker, each with 1,000 in flight. Every
// one is stored, and each exactly once. The broker used to acknowledge
// every message and then drop those beyond its session quota (8,192
// unacknowledged) without a word.
func TestEmbeddedStoresEveryAcknowledgedReading(t *testing.T) {
	if testing.Short() {
		t.Skip("publishes 20,000 messages")
	}
	cs := &countingStore{writes: map[string]int{}}
	cfg := embeddedConfig(t, t.TempDir())
	a, err := New(context.Background(), cfg, Options{
		Logger:    slog.New(slog.NewTextHandler(io.Discard, nil)),
		WrapStore: func(s store.Store) store.Store { cs.Store = s; return cs },
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	}()

	s := &stream{conns: 8, perConn: 2500, inflight: 1000, base: time.Now().Add(-2 * time.Hour).Truncate(time.Second),
		broker: a.BrokerURL}
	pctx, stop := context.WithTimeout(ctx, 3*time.Minute)
	defer stop()
	if err := s.run(pctx, t); err != nil {
		t.Fatal(err)
	}
	if n := s.reconnect.Load(); n > 0 {
		t.Errorf("publishers had to reconnect %d times with no fault", n)
	}
	want := s.conns * s.perConn
	waitFor(t, time.Minute, "every reading stored", func() bool {
		keys, _ := cs.doubled()
		return keys >= want
	})
	keys, doubled := cs.doubled()
	if keys != want || doubled != 0 {
		t.Fatalf("store got %d keys (%d written more than once); want %d, each once", keys, doubled, want)
	}
}

// TestEmbeddedAcknowledgedSurvivesCrash publishes 20,000 readings from 8
// connections with 1,000 in flight each to envmon serve on the embedded
// defaults, and stops envmon mid-stream with kill -9 or SIGTERM. The
// publishers send again what got no PUBACK, to the restarted envmon. In
// the end SQLite holds every reading exactly once. In the SIGTERM case 20
// HTTP clients that never read their responses are connected too: they
// must not hold the shutdown up.
func TestEmbeddedAcknowledgedSurvivesCrash(t *testing.T) {
	if testing.Short() {
		t.Skip("runs envmon processes")
	}
	for _, tc := range []struct {
		name    string
		stop    func(t *testing.T, e *testenv.Envmon)
		stalled int
	}{
		{name: "kill -9", stop: func(t *testing.T, e *testenv.Envmon) { e.Kill() }},
		{name: "SIGTERM", stalled: 20, stop: func(t *testing.T, e *testenv.Envmon) {
			if !e.Stop(30 * time.Second) {
				t.Errorf("envmon did not stop within 30s of SIGTERM:\n%s", e.LogTail())
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			args := []string{"--data-dir", dir, "--mqtt-open-registration"}
			e := testenv.StartEnvmon(t, args...)
			mqttURL := e.MQTT
			var mu sync.Mutex
			current := func() string { mu.Lock(); defer mu.Unlock(); return mqttURL }

			s := &stream{conns: 8, perConn: 2500, inflight: 1000, base: time.Now().Add(-2 * time.Hour).Truncate(time.Second),
				broker: current}
			ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
			defer cancel()
			published := make(chan error, 1)
			go func() { published <- s.run(ctx, t) }()

			waitFor(t, time.Minute, "5,000 acknowledged", func() bool { return s.acked.Load() >= 5000 })
			for range tc.stalled {
				stallHTTP(t, e.HTTP+"/api/v1/stations")
			}
			tc.stop(t, e)
			ackedBefore := s.acked.Load()
			// The same MQTT port, so the publishers find the new envmon.
			_, port, _ := net.SplitHostPort(e.MQTT[len("tcp://"):])
			e = testenv.StartEnvmon(t, append(args, "--mqtt-addr", "127.0.0.1:"+port)...)
			mu.Lock()
			mqttURL = e.MQTT
			mu.Unlock()
			if err := <-published; err != nil {
				t.Fatalf("%v (acknowledged before the stop: %d)", err, ackedBefore)
			}
			t.Logf("acknowledged before the stop: %d; publishes sent: %d for %d messages", ackedBefore, s.sends.Load(), s.conns*s.perConn)
			waitFor(t, time.Minute, "spool drained", func() bool { return spoolEmpty(t, e.HTTP) })
			if !e.Stop(30 * time.Second) {
				t.Fatalf("envmon did not stop:\n%s", e.LogTail())
			}
			checkStored(t, filepath.Join(dir, "envmon.db"), s)
		})
	}
}

// stallHTTP opens a request whose response is never read.
func stallHTTP(t *testing.T, url string) {
	t.Helper()
	u := url[len("http://"):]
	host, path := u, "/"
	for i := range u {
		if u[i] == '/' {
			host, path = u[:i], u[i:]
			break
		}
	}
	c, err := net.Dial("tcp", host)
	if err != nil {
		t.Fatal(err)
	}
	if tcp, ok := c.(*net.TCPConn); ok {
		tcp.SetReadBuffer(4 << 10)
	}
	t.Cleanup(func() { c.Close() })
	fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: %s\r\n\r\n", path, host)
}

// spoolEmpty reports whether envmon's spool holds no readings.
func spoolEmpty(t *testing.T, base string) bool {
	res, err := http.Get(base + "/metrics")
	if err != nil {
		return false
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	var n float64
	for _, l := range splitLines(string(b)) {
		if _, err := fmt.Sscanf(l, "envmon_spool_records %g", &n); err == nil {
			return n == 0
		}
	}
	t.Fatalf("no envmon_spool_records in /metrics")
	return false
}

func splitLines(s string) []string {
	var out []string
	for len(s) > 0 {
		i := 0
		for i < len(s) && s[i] != '\n' {
			i++
		}
		out = append(out, s[:i])
		if i < len(s) {
			i++
		}
		s = s[i:]
	}
	return out
}

// checkStored checks that the SQLite file holds exactly the stream's
// readings: every station has perConn distinct times, the ones sent.
func checkStored(t *testing.T, path string, s *stream) {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rows, err := db.Query(`SELECT station, COUNT(*), COUNT(DISTINCT ts), MIN(ts), MAX(ts) FROM readings WHERE metric = 'pm25' GROUP BY station ORDER BY station`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	total := 0
	for rows.Next() {
		var st string
		var n, distinct int
		var lo, hi int64
		if err := rows.Scan(&st, &n, &distinct, &lo, &hi); err != nil {
			t.Fatal(err)
		}
		total += n
		if n != s.perConn || distinct != n {
			t.Errorf("%s: %d rows, %d distinct times; want %d", st, n, distinct, s.perConn)
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if want := s.conns * s.perConn; total != want {
		t.Fatalf("SQLite holds %d readings, want exactly %d", total, want)
	}
}

type stationView struct {
	Status   string    `json:"status"`
	StatusAt time.Time `json:"status_at"`
}

func getStation(t *testing.T, base, id string) stationView {
	t.Helper()
	res, err := http.Get(base + "/api/v1/stations/" + id)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var v stationView
	if err := json.NewDecoder(res.Body).Decode(&v); err != nil {
		t.Fatal(err)
	}
	return v
}

// TestStationStatusSurvivesRestart: what a station said on its status topic
// is still shown, with its time, after envmon restarts; and a station whose
// connection is taken over by another client with its client id is not
// shown online.
func TestStationStatusSurvivesRestart(t *testing.T) {
	if testing.Short() {
		t.Skip("starts envmon")
	}
	cfg := embeddedConfig(t, t.TempDir())
	r := start(t, cfg)
	connect := func(id string) paho.Client {
		c := paho.NewClient(paho.NewClientOptions().AddBroker(r.app.BrokerURL()).SetClientID(id).SetAutoReconnect(false))
		if tok := c.Connect(); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
			t.Fatalf("connect: %v", tok.Error())
		}
		return c
	}
	a := connect("device-7")
	for _, st := range []string{"st-7", "st-8"} {
		if tok := a.Publish("envmon/p1/"+st+"/status", 1, true, "online"); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
			t.Fatalf("publish: %v", tok.Error())
		}
	}
	b := connect("device-8")
	if tok := b.Publish("envmon/p1/st-8/status", 1, true, "online"); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatalf("publish: %v", tok.Error())
	}
	before := getStation(t, r.app.HTTPURL(), "st-8")
	if before.Status != "online" {
		t.Fatalf("st-8 is %q, want online", before.Status)
	}

	// Another client takes device-8's session over: st-8 is not online.
	defer connect("device-8").Disconnect(0)
	waitFor(t, 10*time.Second, "st-8 shown offline", func() bool { return getStation(t, r.app.HTTPURL(), "st-8").Status == "offline" })
	a.Disconnect(100)
	waitFor(t, 10*time.Second, "st-7 shown offline", func() bool { return getStation(t, r.app.HTTPURL(), "st-7").Status == "offline" })
	want := getStation(t, r.app.HTTPURL(), "st-8")

	r.stop(t)
	cfg.HTTP.Addr = "127.0.0.1:0"
	r = start(t, cfg)
	if got := getStation(t, r.app.HTTPURL(), "st-8"); got.Status != want.Status || !got.StatusAt.Equal(want.StatusAt) {
		t.Fatalf("after restart st-8 is %s at %s, want %s at %s", got.Status, got.StatusAt, want.Status, want.StatusAt)
	}
}
