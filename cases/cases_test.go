package cases_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/envmon/envmon/alerts"
	"github.com/envmon/envmon/alerts/notify"
	"github.com/envmon/envmon/alerts/rules"
	"github.com/envmon/envmon/auth"
	"github.com/envmon/envmon/cases"
	"github.com/envmon/envmon/cases/open311"
	"github.com/envmon/envmon/cases/pii"
	"github.com/envmon/envmon/db"
	"github.com/envmon/envmon/db/dbtest"
	"github.com/envmon/envmon/ingest"
	"github.com/envmon/envmon/reading"
	"github.com/envmon/envmon/station"
	"github.com/envmon/envmon/station/demo"
	"github.com/envmon/envmon/windows"
)

var engines = []struct {
	name  string
	fresh func(testing.TB) db.Config
}{{"sqlite", dbtest.SQLite}, {"postgres", dbtest.Postgres}}

var shanghai, _ = time.LoadLocation("Asia/Shanghai")

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Set(t time.Time)     { c.mu.Lock(); c.t = t; c.mu.Unlock() }
func (c *clock) Add(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

func at(s string) time.Time {
	t, err := time.ParseInLocation("2006-01-02 15:04", s, shanghai)
	if err != nil {
		panic(err)
	}
	return t
}

// The test complainant; none of this may be found in clear.
const (
	cName  = "Zhao Xiaolan"
	cPhone = "13912345678"
	cEmail = "zhao.xiaolan@example.invalid"
)

// sink keeps every notification by idempotency key.
type sink struct {
	mu   sync.Mutex
	keys map[string]int
	got  []notify.Notification
}

func (s *sink) Notify(_ context.Context, n *notify.Notification) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.keys == nil {
		s.keys = map[string]int{}
	}
	s.keys[n.Key]++
	s.got = append(s.got, *n)
	return false, nil
}

func (s *sink) kinds() map[notify.Kind]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[notify.Kind]int{}
	for _, n := range s.got {
		out[n.Kind]++
	}
	return out
}

func (s *sink) dups(t *testing.T) {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	for k, n := range s.keys {
		if n != 1 {
			t.Errorf("notification %s delivered %d times", k, n)
		}
	}
}

func registry(t testing.TB) *station.Registry {
	f, err := demo.Registry()
	if err != nil {
		t.Fatal(err)
	}
	return station.New(f.Stations, true, slog.New(slog.DiscardHandler), station.WithFile(f))
}

type env struct {
	t      *testing.T
	cfg    db.Config
	db     *db.DB
	clock  *clock
	keys   *pii.Keyring
	tokens *auth.Store
	sink   *sink
	logs   *bytes.Buffer
	svc    *cases.Service
	reg    *station.Registry
	name   string
}

func newEnv(t *testing.T, cfg db.Config, c *clock, keys *pii.Keyring, sk *sink, logs *bytes.Buffer, name string) *env {
	t.Helper()
	d, err := db.Open(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	tokens, err := auth.Open(t.Context(), d, c.Now)
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, cfg: cfg, db: d, clock: c, keys: keys, tokens: tokens, sink: sk, logs: logs, reg: registry(t), name: name}
	e.start()
	return e
}

// start (re)creates the service on the env's database: a restart.
func (e *env) start() {
	e.t.Helper()
	svc, err := cases.New(e.t.Context(), cases.Config{
		DB: e.db, Registry: e.reg, Keys: e.keys, Tokens: e.tokens, DefaultTeam: "t-hexi",
		Receivers: []cases.Receiver{{Name: "hook", Notifier: e.sink}},
		Replica:   e.name, Now: e.clock.Now, Open311: cases.Open311Config{Jurisdiction: "qingshui"},
		Logger: slog.New(slog.NewTextHandler(lockedWriter{e.logs}, &slog.HandlerOptions{Level: slog.LevelDebug})),
	})
	if err != nil {
		e.t.Fatal(err)
	}
	e.svc = svc
}

var logMu sync.Mutex

type lockedWriter struct{ b *bytes.Buffer }

func (w lockedWriter) Write(p []byte) (int, error) {
	logMu.Lock()
	defer logMu.Unlock()
	return w.b.Write(p)
}

func (e *env) tick() (int, int) {
	e.t.Helper()
	n, err := e.svc.Tick(context.Background())
	if err != nil {
		e.t.Fatal(err)
	}
	m, err := e.svc.Deliver(context.Background())
	if err != nil {
		e.t.Fatal(err)
	}
	return n, m
}

const rulesYAML = `
defaults: {min_firing: 10m, min_resolved: 30m}
rules:
  - name: pm25_raw_high
    kind: threshold
    metric: pm25
    window: raw
    above: 115
    clear: 75
    for: 20m
    labels: {category: air}
`

// alertEngine is the alerts engine on the env's database, with the
// service's alert receiver as its receiver.
func (e *env) alertEngine() (*alerts.Engine, *windows.Windows) {
	e.t.Helper()
	rs, err := rules.Parse("rules.yaml", []byte(rulesYAML))
	if err != nil {
		e.t.Fatal(err)
	}
	w, err := windows.New(windows.Config{Now: e.clock.Now, Location: func(string) *time.Location { return shanghai }})
	if err != nil {
		e.t.Fatal(err)
	}
	eng, err := alerts.New(e.t.Context(), alerts.Config{
		DB: e.db, Rules: rs, Windows: w, Now: e.clock.Now, Replica: e.name,
		Stations: alerts.StationsFunc(func(id string) (alerts.StationInfo, bool) {
			v, ok := e.reg.Get(id)
			return alerts.StationInfo{ID: id, Point: v.Point, Media: v.Media, Location: shanghai}, ok
		}),
		Receivers: []alerts.Receiver{{Name: "cases", Notifier: e.svc.AlertReceiver()}},
	})
	if err != nil {
		e.t.Fatal(err)
	}
	return eng, w
}

func pm25(eng *alerts.Engine, w *windows.Windows, c *clock, st string, t time.Time, v float64) error {
	c.Set(t)
	r := reading.Reading{Point: "p-civic", Station: st, Medium: reading.Air, Time: t, Values: []reading.Value{{Metric: "pm25", Value: v}}}
	w.Add(r, shanghai)
	return eng.Consume(context.Background(), []ingest.Accepted{{Reading: r, Arrived: t, Owned: true}})
}

func (e *env) token(o auth.CreateOptions) string {
	e.t.Helper()
	nt, err := e.tokens.Create(context.Background(), o)
	if err != nil {
		e.t.Fatal(err)
	}
	return nt.Token
}

type resp struct {
	code int
	ct   string
	body string
}

func do(t *testing.T, h http.Handler, method, target, tok, body string) resp {
	t.Helper()
	var r *http.Request
	if strings.HasPrefix(body, "form:") {
		r = httptest.NewRequest(method, target, strings.NewReader(strings.TrimPrefix(body, "form:")))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	} else {
		r = httptest.NewRequest(method, target, strings.NewReader(body))
		r.Header.Set("Content-Type", "application/json")
	}
	if tok != "" {
		r.Header.Set("Authorization", "Bearer "+tok)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	b, _ := io.ReadAll(w.Result().Body)
	return resp{w.Code, w.Header().Get("Content-Type"), string(b)}
}

func noPII(t *testing.T, where, s string) {
	t.Helper()
	for _, p := range []string{cName, "Zhao", "Xiaolan", cPhone, "1391234", cEmail} {
		if strings.Contains(s, p) {
			t.Errorf("%s holds %q in clear", where, p)
		}
	}
}

// TestDeadlineCaseLifecycle drives the whole queue on each engine: a PM2.5
// episode of the alerts engine opens one case routed to the station's
// team with its deadlines on the calendar; a complaint POSTed through
// Open311 near the station during the alert is linked and corroborated,
// and its public views hold no personal data; every deadline, reminder,
// escalation and pause acts on the controllable clock; a simulated kill -9
// loses no timer and fires none twice; the API refuses with problem+json;
// and no personal data is in clear under the data dir, in logs or in any
// public response.
func TestDeadlineCaseLifecycle(t *testing.T) {
	for _, eng := range engines {
		t.Run(eng.name, func(t *testing.T) {
			cfg := eng.fresh(t)
			c := &clock{t: at("2026-05-08 14:00")} // a Friday; Sat 9 May is a make-up working day
			keys, err := pii.Open(pii.Source{DataDir: filepath.Join(t.TempDir(), "keys")})
			if err != nil {
				t.Fatal(err)
			}
			if cfg.DataDir != "" {
				keys, err = pii.Open(pii.Source{DataDir: cfg.DataDir})
				if err != nil {
					t.Fatal(err)
				}
			}
			sk := &sink{}
			logs := &bytes.Buffer{}
			e := newEnv(t, cfg, c, keys, sk, logs, "r1")
			var public []string // every public response

			// 1. A PM2.5 episode at st-1 (Civic Square, p-civic).
			al, win := e.alertEngine()
			disp := al.Dispatcher()
			for i := range 8 {
				if err := pm25(al, win, c, "st-1", at("2026-05-08 14:00").Add(time.Duration(i)*5*time.Minute), 180); err != nil {
					t.Fatal(err)
				}
			}
			if _, err := disp.Once(context.Background()); err != nil {
				t.Fatal(err)
			}
			if _, err := disp.Once(context.Background()); err != nil { // a second pass sends nothing again
				t.Fatal(err)
			}
			admin := auth.Principal{Role: auth.Admin, TokenID: "test"}
			page, err := e.svc.List(context.Background(), admin, cases.Query{})
			if err != nil {
				t.Fatal(err)
			}
			if len(page.Cases) != 1 {
				t.Fatalf("%d cases after the episode, want 1", len(page.Cases))
			}
			ac := page.Cases[0]
			if ac.Source != "alert" || ac.Team != "t-civic-street" || ac.Station != "st-1" || ac.Grid != "河西区 Hexi District/市民街道 Civic Street/灯笼社区 Lantern Community" || ac.State != cases.Assigned {
				t.Errorf("alert case %+v: want source alert, team t-civic-street (the most specific), station st-1, state assigned", ac)
			}
			due := map[string]time.Time{}
			for _, tm := range ac.Timers {
				due[tm.Kind] = tm.Deadline
			}
			firing := ac.ReceivedAt
			if !due["contact"].Equal(firing.Add(24*time.Hour)) || !due["forward"].Equal(at("2026-05-10 00:00")) || !due["feedback"].Equal(at("2026-05-13 00:00")) {
				t.Errorf("deadlines %v (firing %s): want contact +24 h, forward 2026-05-10 00:00 (Sat 9 May works), feedback 2026-05-13 00:00", due, firing.In(shanghai))
			}
			// A second episode of the same category at the station attaches.
			if err := e.svc.TakeAlert(context.Background(), &notify.Notification{Key: "x.1.firing.cases", Kind: notify.Firing,
				Episode: notify.Episode{ID: "al-second", Rule: "pm10_high", Station: "st-1", Medium: "air", StartsAt: c.Now(), Labels: map[string]string{"category": "air"}}}); err != nil {
				t.Fatal(err)
			}
			if p, _ := e.svc.List(context.Background(), admin, cases.Query{}); len(p.Cases) != 1 {
				t.Errorf("a second episode at the same station opened another case: %d cases", len(p.Cases))
			}

			// 3. A citizen's complaint through Open311, 300 m from st-1, during the alert.
			o := open311.Handler(e.svc)
			c.Add(10 * time.Minute)
			form := url.Values{"service_code": {"air"}, "lat": {"30.65987"}, "long": {"104.06712"}, "description": {"Black smoke and a burning smell, call me on " + cPhone},
				"first_name": {"Zhao"}, "last_name": {"Xiaolan"}, "phone": {cPhone}, "email": {cEmail}, "jurisdiction_id": {"qingshui"}}
			r := do(t, o, "POST", "/open311/v2/requests.json", "", "form:"+form.Encode())
			public = append(public, r.body)
			if r.code != 201 {
				t.Fatalf("Open311 POST: %d %s", r.code, r.body)
			}
			var rc []struct {
				ID    string `json:"service_request_id"`
				Token string `json:"token"`
			}
			json.Unmarshal([]byte(r.body), &rc)
			if len(rc) != 1 || rc[0].ID == "" {
				t.Fatalf("POST answer %s", r.body)
			}
			reqID := rc[0].ID
			page, _ = e.svc.List(context.Background(), admin, cases.Query{Source: "open311"})
			if len(page.Cases) != 1 {
				t.Fatalf("%d complaint cases", len(page.Cases))
			}
			cc, err := e.svc.Get(context.Background(), admin, page.Cases[0].ID)
			if err != nil {
				t.Fatal(err)
			}
			linked := false
			for _, l := range cc.Links {
				linked = linked || (l.Kind == "case" && l.Ref == ac.ID)
			}
			if !cc.Corroborated || !linked || cc.Team != "t-civic-street" {
				t.Errorf("complaint case corroborated=%v, links %v, team %s: want corroborated, linked to %s, team t-civic-street", cc.Corroborated, cc.Links, cc.Team, ac.ID)
			}
			if len(cc.Complainants) != 1 || cc.Complainants[0].Phone != cPhone || cc.Complainants[0].Name != cName {
				t.Errorf("the admin does not see the complainant: %+v", cc.Complainants)
			}
			// The same person again, 100 m away: merged into the same case, matched by the phone hash.
			form.Set("lat", "30.6605")
			r = do(t, o, "POST", "/open311/v2/requests.xml", "", "form:"+form.Encode())
			public = append(public, r.body)
			if r.code != 201 || !strings.Contains(r.body, "<service_request_id>") {
				t.Fatalf("Open311 POST xml: %d %s", r.code, r.body)
			}
			cc, _ = e.svc.Get(context.Background(), admin, cc.ID)
			if len(cc.Complainants) != 2 || cc.Complainants[1].Repeat != 1 {
				t.Errorf("merge: %d complainants, repeat %v; want 2, matched by phone", len(cc.Complainants), cc.Complainants)
			}
			for _, f := range []string{"json", "xml"} {
				for _, target := range []string{"/open311/v2/requests." + f + "?extensions=true", "/open311/v2/requests/" + reqID + "." + f, "/open311/v2/tokens/" + rc[0].Token + "." + f,
					"/open311/v2/services." + f, "/open311/v2/services/air." + f, "/open311/v2/discovery." + f} {
					r := do(t, o, "GET", target, "", "")
					public = append(public, r.body)
					if r.code != 200 {
						t.Errorf("GET %s: %d %s", target, r.code, r.body)
					}
				}
				r := do(t, o, "GET", "/open311/v2/requests/"+reqID+"."+f+"?extensions=true", "", "")
				for _, want := range []string{"30.66", "104.067", "open", "assigned", "expected_datetime", "2026-05-12T16:00:00Z"} {
					if !strings.Contains(r.body, want) {
						t.Errorf("public %s request lacks %q: %s", f, want, r.body)
					}
				}
				if strings.Contains(r.body, "30.65987") || strings.Contains(r.body, "104.06712") {
					t.Errorf("public %s request shows the exact location: %s", f, r.body)
				}
			}
			// Errors are the spec's array.
			for _, tt := range []struct {
				target, body string
				code         int
			}{
				{"/open311/v2/requests.json", "form:service_code=air", 400},
				{"/open311/v2/requests.json?jurisdiction_id=elsewhere", "", 404},
				{"/open311/v2/requests/sr-nope.xml", "", 404},
				{"/open311/v2/services/fire.json", "", 404},
			} {
				m := "GET"
				if tt.body != "" {
					m = "POST"
				}
				r := do(t, o, m, tt.target, "", tt.body)
				if r.code != tt.code || !(strings.Contains(r.body, `"code":`) || strings.Contains(r.body, "<errors>")) {
					t.Errorf("%s %s: %d %s; want %d and an error array", m, tt.target, r.code, r.body, tt.code)
				}
			}

			// 6. Refusals as problem+json.
			api := e.svc.Routes()
			officer := e.token(auth.CreateOptions{Role: auth.Officer, Team: "t-civic-street"})
			other := e.token(auth.CreateOptions{Role: auth.Officer, Team: "t-dongshan"})
			sup := e.token(auth.CreateOptions{Role: auth.Supervisor, Grid: "河西区 Hexi District"})
			short := e.token(auth.CreateOptions{Role: auth.Officer, Team: "t-civic-street", TTL: time.Minute})
			c.Add(2 * time.Minute)
			for _, tt := range []struct {
				name, method, target, tok string
				code                      int
			}{
				{"missing token", "GET", "/api/v1/cases", "", 401},
				{"wrong token", "GET", "/api/v1/cases", "envmon_000000000000_bad", 401},
				{"expired token", "GET", "/api/v1/cases/" + ac.ID, short, 401},
				{"another team's case", "GET", "/api/v1/cases/" + ac.ID, other, 403},
				{"another team's action", "POST", "/api/v1/cases/" + ac.ID + "/acknowledge", other, 403},
				{"invalid transition", "POST", "/api/v1/cases/" + ac.ID + "/resolve", officer, 409},
			} {
				r := do(t, api, tt.method, tt.target, tt.tok, "")
				if r.code != tt.code || r.ct != "application/problem+json" {
					t.Errorf("%s: %d %s %s; want %d problem+json", tt.name, r.code, r.ct, r.body, tt.code)
				}
				if tt.code == 409 && !strings.Contains(r.body, "allowed") || tt.code == 409 && !strings.Contains(r.body, "acknowledge") {
					t.Errorf("%s: the refusal does not name the allowed actions: %s", tt.name, r.body)
				}
			}
			if r := do(t, api, "GET", "/api/v1/cases", other, ""); !strings.Contains(r.body, `"cases": []`) {
				t.Errorf("another team's officer lists cases: %s", r.body)
			}
			if r := do(t, api, "GET", "/api/v1/cases/"+cc.ID, sup, ""); r.code != 200 || !strings.Contains(r.body, cPhone) {
				t.Errorf("the county supervisor cannot see the complaint with its complainant: %d", r.code)
			}
			viewer := e.token(auth.CreateOptions{Role: auth.Viewer, Team: "t-civic-street"})
			if r := do(t, api, "GET", "/api/v1/cases/"+cc.ID, viewer, ""); r.code != 200 || strings.Contains(r.body, cPhone) {
				t.Errorf("a viewer: %d, sees the phone %v", r.code, strings.Contains(r.body, cPhone))
			}

			// 4. Timers on the clock. Acknowledging the alert case meets its contact deadline.
			if r := do(t, api, "POST", "/api/v1/cases/"+ac.ID+"/acknowledge", officer, `{"comment":"on it"}`); r.code != 200 {
				t.Fatalf("acknowledge: %d %s", r.code, r.body)
			}
			// The complaint case: the forward deadline is 2026-05-10 00:00; its reminder 2 h before.
			c.Set(at("2026-05-09 22:00"))
			e.tick()
			c.Set(at("2026-05-10 00:00"))
			e.tick()
			got, _ := e.svc.Get(context.Background(), admin, cc.ID)
			if got.Escalation != 1 || got.EscalatedGrid != cc.Grid || got.Priority != 1 {
				t.Errorf("at the forward deadline: escalation %d to %q, priority %d; want 1 to its own cell, priority 1", got.Escalation, got.EscalatedGrid, got.Priority)
			}
			// Kill -9: drop the service, start another on the same database.
			e.start()
			e.tick() // nothing is due again
			c.Set(at("2026-05-10 04:00"))
			e.tick() // an overdue reminder
			// The complaint's contact deadline (received 14:50 + 24 h) passed too: contact it now.
			if r := do(t, api, "POST", "/api/v1/cases/"+cc.ID+"/acknowledge", officer, ""); r.code != 200 {
				t.Fatalf("acknowledge complaint: %d %s", r.code, r.body)
			}
			// Waiting on the complainant pauses the feedback timer.
			if r := do(t, api, "POST", "/api/v1/cases/"+cc.ID+"/wait", officer, `{"comment":"asked for photos"}`); r.code != 200 {
				t.Fatalf("wait: %d %s", r.code, r.body)
			}
			c.Set(at("2026-05-12 00:00"))
			e.start() // another restart while paused
			e.tick()
			if r := do(t, api, "POST", "/api/v1/cases/"+cc.ID+"/resume", officer, ""); r.code != 200 || !strings.Contains(r.body, "paused for 44h0m0s") {
				t.Fatalf("resume: %d %s", r.code, r.body)
			}
			got, _ = e.svc.Get(context.Background(), admin, cc.ID)
			var fb cases.Timer
			for _, tm := range got.Timers {
				if tm.Kind == "feedback" {
					fb = tm
				}
			}
			if !fb.Deadline.Equal(at("2026-05-13 00:00").Add(44*time.Hour)) || fb.State != "pending" {
				t.Errorf("feedback after a 44 h pause: due %s, %s; want 2026-05-14 20:00", fb.Deadline.In(shanghai), fb.State)
			}
			// Contact, forward, start, resolve and close with a poor rating: a recheck due in 48 h.
			for _, a := range []string{"contact", "forward", "start", "resolve"} {
				if r := do(t, api, "POST", "/api/v1/cases/"+cc.ID+"/"+a, officer, `{"status_notes":"Inspected the site."}`); r.code != 200 {
					t.Fatalf("%s: %d %s", a, r.code, r.body)
				}
			}
			if r := do(t, api, "POST", "/api/v1/cases/"+cc.ID+"/close", officer, `{}`); r.code != 400 {
				t.Errorf("close without a rating: %d", r.code)
			}
			if r := do(t, api, "POST", "/api/v1/cases/"+cc.ID+"/close", officer, `{"rating":"poor"}`); r.code != 200 {
				t.Fatalf("close: %d %s", r.code, r.body)
			}
			c.Set(at("2026-05-14 00:00").Add(-2 * time.Hour)) // recheck reminder at +46 h
			e.tick()
			c.Set(at("2026-05-14 00:00"))
			n, _ := e.tick()
			if n == 0 {
				t.Error("the recheck deadline did not act at 48 h")
			}
			// The alert case is left overdue: at +24 h past forward it escalates to the township, at +48 h to the county.
			c.Set(at("2026-05-11 00:00"))
			e.tick()
			c.Set(at("2026-05-12 00:00"))
			e.start()
			e.tick()
			got, _ = e.svc.Get(context.Background(), admin, ac.ID)
			if got.Escalation != 3 || got.EscalatedGrid != "河西区 Hexi District" || got.Priority != 3 {
				t.Errorf("alert case after 48 h overdue: level %d at %q, priority %d; want 3 at the county, critical", got.Escalation, got.EscalatedGrid, got.Priority)
			}
			kinds := sk.kinds()
			if kinds[cases.KindReminder] == 0 || kinds[cases.KindEscalation] < 3 || kinds[cases.KindOverdue] == 0 {
				t.Errorf("notifications %v: want reminders, overdue reminders and escalations", kinds)
			}
			sk.dups(t)
			// Every event recorded once: the trail has strictly increasing seq and one "overdue" per timer.
			for _, id := range []string{ac.ID, cc.ID} {
				got, _ := e.svc.Get(context.Background(), admin, id)
				seen := map[string]int{}
				for _, ev := range got.Events {
					if ev.Action == "overdue" || ev.Action == "escalated" {
						seen[ev.Action+ev.Comment]++
					}
				}
				for k, n := range seen {
					if n > 1 {
						t.Errorf("case %s: %q recorded %d times", id, k, n)
					}
				}
			}

			// Disclosure: anonymous statistics.
			r = do(t, e.svc.DisclosureHandler(), "GET", "/api/v1/disclosure/cases?year=2026", "", "")
			public = append(public, r.body)
			var disc cases.Disclosure
			if err := json.Unmarshal([]byte(r.body), &disc); err != nil || r.code != 200 {
				t.Fatalf("disclosure: %d %v %s", r.code, err, r.body)
			}
			// The one complaint shares its group with the alert's case:
			// under MinGroupComplaints, the group is withheld.
			if len(disc.Groups) != 0 || disc.Withheld != 1 || len(disc.Points) != 1 || disc.Points[0].Point != "p-civic" || !disc.Points[0].Flagged || disc.Points[0].PoorRate != 1 {
				t.Errorf("disclosure %s", r.body)
			}
			for _, exact := range []string{"30.659", "104.067", "30.657"} {
				if strings.Contains(r.body, exact) {
					t.Errorf("disclosure holds a location %s", exact)
				}
			}

			// 7. No personal data in clear: public responses, logs, the data dir.
			for i, b := range public {
				noPII(t, "public response "+string(rune('0'+i%10)), b)
			}
			logMu.Lock()
			noPII(t, "the logs", logs.String())
			logMu.Unlock()
			if cfg.DataDir != "" {
				e.db.SQL().ExecContext(context.Background(), "PRAGMA wal_checkpoint(TRUNCATE)")
				filepath.Walk(cfg.DataDir, func(p string, fi os.FileInfo, err error) error {
					if err != nil || fi.IsDir() {
						return err
					}
					b, _ := os.ReadFile(p)
					noPII(t, p, string(b))
					return nil
				})
			}
			// And the description stored has the phone withheld.
			if !strings.Contains(cc.Complainants[0].Description, "[withheld]") {
				t.Errorf("description %q", cc.Complainants[0].Description)
			}
		})
	}
}

// TestDeadlineReplicas runs two replicas on one database: concurrent
// alerts for one station and category open one case, and concurrent
// ticks send each notification once.
func TestDeadlineReplicas(t *testing.T) {
	for _, eng := range engines {
		t.Run(eng.name, func(t *testing.T) {
			cfg := eng.fresh(t)
			c := &clock{t: at("2026-05-08 14:00")}
			keys := pii.New()
			sk := &sink{}
			logs := &bytes.Buffer{}
			a := newEnv(t, cfg, c, keys, sk, logs, "r1")
			b := newEnv(t, cfg, c, keys, sk, logs, "r2")
			var wg sync.WaitGroup
			for i, st := range []string{"st-1", "st-2", "st-11"} {
				for j, e := range []*env{a, b, a, b} {
					wg.Go(func() {
						n := &notify.Notification{Key: st + "-" + string(rune('a'+j)), Kind: notify.Firing,
							Episode: notify.Episode{ID: "al-" + st + string(rune('a'+j)), Rule: "r" + string(rune('a'+j)), Station: st, Medium: "air", StartsAt: c.Now()}}
						if err := e.svc.TakeAlert(context.Background(), n); err != nil {
							t.Error(i, err)
						}
					})
				}
			}
			wg.Wait()
			page, err := a.svc.List(context.Background(), auth.Principal{Role: auth.Admin}, cases.Query{})
			if err != nil {
				t.Fatal(err)
			}
			if len(page.Cases) != 3 {
				t.Errorf("%d cases for 3 incidents", len(page.Cases))
			}
			for _, cs := range page.Cases {
				got, _ := a.svc.Get(context.Background(), auth.Principal{Role: auth.Admin}, cs.ID)
				if len(got.Alerts) != 4 {
					t.Errorf("case %s has %d episodes, want 4", cs.ID, len(got.Alerts))
				}
			}
			// Both replicas tick through three days of deadlines at once.
			for step := range 18 {
				c.Set(at("2026-05-08 14:00").Add(time.Duration(step) * 4 * time.Hour))
				var wg sync.WaitGroup
				for _, e := range []*env{a, b} {
					wg.Go(func() {
						if _, err := e.svc.Tick(context.Background()); err != nil {
							t.Error(err)
						}
						if _, err := e.svc.Deliver(context.Background()); err != nil {
							t.Error(err)
						}
					})
				}
				wg.Wait()
			}
			sk.dups(t)
			if k := sk.kinds(); k[cases.KindEscalation] < 3 || k[cases.KindReminder] < 3 {
				t.Errorf("notifications %v", k)
			}
		})
	}
}
