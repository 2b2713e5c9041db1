package alerts_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/envmon/envmon/alerts"
	"github.com/envmon/envmon/alerts/notify/webhook"
	"github.com/envmon/envmon/alerts/rules"
	"github.com/envmon/envmon/db"
	"github.com/envmon/envmon/db/dbtest"
	"github.com/envmon/envmon/ingest"
	envsecret "github.com/envmon/envmon/internal/secret"
	"github.com/envmon/envmon/quality"
	"github.com/envmon/envmon/reading"
	"github.com/envmon/envmon/windows"
)

// engines are the database engines the behaviour tests run on.
var engines = []struct {
	name  string
	fresh func(testing.TB) db.Config
}{{"sqlite", dbtest.SQLite}, {"postgres", dbtest.Postgres}}

// clock is a controllable clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if t.After(c.t) {
		c.t = t
	}
}
func (c *clock) Add(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

var secret = envsecret.New("s3cret-for-tests")

// receiver is a webhook receiver that verifies every signature and keeps
// the messages by idempotency key.
type receiver struct {
	t     *testing.T
	clock *clock
	srv   *httptest.Server

	mu    sync.Mutex
	got   []webhook.Message
	keys  map[string]int
	fails int // answer 503 to this many requests first
}

func newReceiver(t *testing.T, c *clock) *receiver {
	rc := &receiver{t: t, clock: c, keys: map[string]int{}}
	rc.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if err := webhook.Verify(secret, r.Header.Get(webhook.SignatureHeader), body, c.Now(), 5*time.Minute); err != nil {
			t.Errorf("webhook signature: %v", err)
			http.Error(w, err.Error(), http.StatusUnauthorized)
			return
		}
		rc.mu.Lock()
		defer rc.mu.Unlock()
		if rc.fails > 0 {
			rc.fails--
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		var m webhook.Message
		if err := json.Unmarshal(body, &m); err != nil {
			t.Errorf("webhook body: %v", err)
		}
		if m.Envmon.IdempotencyKey != r.Header.Get(webhook.IdempotencyHeader) {
			t.Errorf("idempotency key %q in the body, %q in the header", m.Envmon.IdempotencyKey, r.Header.Get(webhook.IdempotencyHeader))
		}
		rc.keys[m.Envmon.IdempotencyKey]++
		rc.got = append(rc.got, m)
	}))
	t.Cleanup(rc.srv.Close)
	return rc
}

func (rc *receiver) messages() []webhook.Message {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]webhook.Message(nil), rc.got...)
}

// count returns the messages of a kind about a rule.
func (rc *receiver) count(rule, kind string) int {
	n := 0
	for _, m := range rc.messages() {
		if m.Envmon.Rule == rule && m.Envmon.Kind == kind {
			n++
		}
	}
	return n
}

func (rc *receiver) notifier(t *testing.T, c *clock) *webhook.Notifier {
	n, err := webhook.New(webhook.Config{Name: "hook", URL: rc.srv.URL, Secret: secret, Now: c.Now})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// env is one replica: an engine on a database, with its windows.
type env struct {
	t     *testing.T
	clock *clock
	cfg   db.Config
	db    *db.DB
	win   *windows.Windows
	eng   *alerts.Engine
	disp  *alerts.Dispatcher
	rc    *receiver
	rules *rules.Set
	name  string
	// shared is Config.Shared: replicas share the stations.
	shared bool
}

var shanghai, _ = time.LoadLocation("Asia/Shanghai")

func stations(id string) (alerts.StationInfo, bool) {
	info := alerts.StationInfo{ID: id, Point: "p-" + id, Location: shanghai, NoiseZone: quality.Zone2, WaterTarget: quality.ClassIII}
	return info, true
}

// teamsOf places the test stations as the registry would: st-a and st-b
// in 河西区/市民街道/平江社区, which team t-hexi covers; st-c in
// 滨海新区/临港, team t-industrial's; any other station in no team's cell.
func teamsOf(id string) ([]string, string) {
	switch id {
	case "st-a", "st-b":
		return []string{"t-hexi"}, "河西区/市民街道/平江社区"
	case "st-c":
		return []string{"t-industrial"}, "滨海新区/临港"
	}
	return nil, ""
}

// twoReplicas returns replicas a and b of the rules yaml on one database
// of cfg, sharing the stations (Config.Shared), with one clock from 08:00
// and one receiver.
func twoReplicas(t *testing.T, cfg db.Config, yaml string) (c *clock, rc *receiver, a, b *env) {
	t.Helper()
	c = &clock{t: at("08:00")}
	rc = newReceiver(t, c)
	rs := mustRules(t, yaml)
	return c, rc, newEnvOf(t, cfg, c, rs, rc, "a", true), newEnvOf(t, cfg, c, rs, rc, "b", true)
}

func newEnv(t *testing.T, cfg db.Config, c *clock, rs *rules.Set, rc *receiver, replica string) *env {
	t.Helper()
	return newEnvOf(t, cfg, c, rs, rc, replica, false)
}

// newEnvOf is newEnv of a replica that shares its stations with others,
// or not.
func newEnvOf(t *testing.T, cfg db.Config, c *clock, rs *rules.Set, rc *receiver, replica string, shared bool) *env {
	t.Helper()
	d, err := db.Open(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	w, err := windows.New(windows.Config{Now: c.Now, Location: func(string) *time.Location { return shanghai }})
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, clock: c, cfg: cfg, db: d, win: w, rc: rc, rules: rs, name: replica, shared: shared}
	e.start()
	return e
}

// start (re)creates the engine on the env's database: a restart.
func (e *env) start() {
	e.t.Helper()
	eng, err := alerts.New(e.t.Context(), alerts.Config{
		DB: e.db, Rules: e.rules, Windows: e.win, Stations: alerts.StationsFunc(stations), Teams: alerts.TeamsFunc(teamsOf),
		Receivers: []alerts.Receiver{{Name: "hook", Notifier: e.rc.notifier(e.t, e.clock)}},
		Replica:   e.name, Shared: e.shared, Now: e.clock.Now,
		Retry: alerts.Retry{Base: time.Second, Max: time.Minute, Attempts: 3, Lease: 30 * time.Second},
	})
	if err != nil {
		e.t.Fatal(err)
	}
	e.eng, e.disp = eng, eng.Dispatcher()
}

// feed gives the readings to the windows and the engine, as the stream
// does, in one batch; arrival is the clock, moved to each reading's event
// time first.
func (e *env) feed(rs ...reading.Reading) { e.t.Helper(); e.consume(true, rs) }

// feedUnowned gives the readings to the engine as of a station another
// replica owns.
func (e *env) feedUnowned(rs ...reading.Reading) { e.t.Helper(); e.consume(false, rs) }

func (e *env) consume(owned bool, rs []reading.Reading) {
	e.t.Helper()
	batch := make([]ingest.Accepted, len(rs))
	for i, r := range rs {
		e.clock.Set(r.Time)
		e.win.Add(r, shanghai)
		batch[i] = ingest.Accepted{Reading: r, Arrived: e.clock.Now(), Owned: owned}
	}
	if err := e.eng.Consume(context.Background(), batch); err != nil {
		e.t.Fatal(err)
	}
}

func (e *env) dispatch() int {
	e.t.Helper()
	n, err := e.disp.Once(context.Background())
	if err != nil {
		e.t.Fatal(err)
	}
	return n
}

func (e *env) tick() {
	e.t.Helper()
	if err := e.eng.Tick(context.Background()); err != nil {
		e.t.Fatal(err)
	}
}

func (e *env) episodes(q alerts.Query) []*alerts.Episode {
	e.t.Helper()
	p, err := e.eng.List(context.Background(), q)
	if err != nil {
		e.t.Fatal(err)
	}
	return p.Episodes
}

func air(station string, t time.Time, vals ...any) reading.Reading {
	r := reading.Reading{Point: "p-" + station, Station: station, Medium: reading.Air, Time: t}
	for i := 0; i+1 < len(vals); i += 2 {
		v := reading.Value{Metric: vals[i].(string)}
		switch x := vals[i+1].(type) {
		case float64:
			v.Value = x
		case int:
			v.Value = float64(x)
		case flagged:
			v.Value, v.QC = x.v, x.f
		}
		r.Values = append(r.Values, v)
	}
	return r
}

type flagged struct {
	v float64
	f reading.Flags
}

// day is 2026-05-10 in Shanghai.
func at(hhmm string) time.Time {
	t, err := time.ParseInLocation("2006-01-02 15:04", "2026-05-10 "+hhmm, shanghai)
	if err != nil {
		panic(err)
	}
	return t
}

// series returns readings of one metric every step from from to to
// (exclusive), with value v(t).
func series(station string, from, to time.Time, step time.Duration, v func(time.Time) any, extra ...any) []reading.Reading {
	var out []reading.Reading
	for t := from; t.Before(to); t = t.Add(step) {
		out = append(out, air(station, t, append([]any{"pm25", v(t)}, extra...)...))
	}
	return out
}

func asReading(x any) reading.Reading { return x.(reading.Reading) }

func batchOf(c *clock, rs ...reading.Reading) []ingest.Accepted {
	out := make([]ingest.Accepted, len(rs))
	for i, r := range rs {
		out[i] = ingest.Accepted{Reading: r, Arrived: c.Now(), Owned: true}
	}
	return out
}
