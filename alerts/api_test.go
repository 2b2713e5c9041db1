package alerts_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/envmon/envmon/alerts"
	"github.com/envmon/envmon/auth"
	"github.com/envmon/envmon/db/dbtest"
)

// TestAPIAckSilence: list with filters and pages, get with transitions,
// ack needs an officer token (401/403 problem+json otherwise), ack stops
// repeats but keeps the episode open, silences mute.
func TestAPIAckSilence(t *testing.T) {
	c := &clock{t: at("08:00")}
	rc := newReceiver(t, c)
	e := newEnv(t, dbtest.SQLite(t), c, mustRules(t, strings.Replace(testRules, "    after: 15m\n", "    after: 15m\n    repeat_interval: 1h\n", 1)), rc, "a")
	tokens, err := auth.Open(t.Context(), e.db, c.Now)
	if err != nil {
		t.Fatal(err)
	}
	officer, _ := tokens.Create(t.Context(), auth.CreateOptions{Role: auth.Officer, Team: "t-hexi"})
	viewer, _ := tokens.Create(t.Context(), auth.CreateOptions{Role: auth.Viewer})
	srv := httptest.NewServer(http.StripPrefix("/api/v1/alerts", e.eng.Routes(tokens)))
	defer srv.Close()
	for _, st := range []string{"st-a", "st-b", "st-c"} {
		e.feed(air(st, at("08:00"), "pm25", 20))
	}
	c.Set(at("08:30"))
	e.tick()
	e.dispatch()

	var page alerts.Page
	get := func(path string, out any) int {
		res, err := http.Get(srv.URL + "/api/v1/alerts" + path)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		json.NewDecoder(res.Body).Decode(out)
		return res.StatusCode
	}
	if get("?rule=station_offline&limit=2", &page); len(page.Episodes) != 2 || page.Next == "" {
		t.Fatalf("page 1: %d episodes, next %q", len(page.Episodes), page.Next)
	}
	var page2 alerts.Page
	if get("?rule=station_offline&limit=2&after="+page.Next, &page2); len(page2.Episodes) != 1 || page2.Next != "" {
		t.Fatalf("page 2: %d episodes", len(page2.Episodes))
	}
	if get("?station=st-b&state=firing", &page); len(page.Episodes) != 1 || page.Episodes[0].Station != "st-b" {
		t.Fatalf("filter: %+v", page.Episodes)
	}
	id := page.Episodes[0].ID
	post := func(path, tok, body string) *http.Response {
		req, _ := http.NewRequest("POST", srv.URL+"/api/v1/alerts"+path, strings.NewReader(body))
		if tok != "" {
			req.Header.Set("Authorization", "Bearer "+tok)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res
	}
	for _, tt := range []struct {
		tok    string
		status int
	}{{"", 401}, {"envmon_x", 401}, {viewer.Token, 403}, {officer.Token, 200}} {
		res := post("/"+id+"/ack", tt.tok, `{"comment":"on it"}`)
		if res.StatusCode != tt.status || (tt.status != 200 && res.Header.Get("Content-Type") != "application/problem+json") {
			t.Errorf("ack with %q: %d %s, want %d", tt.tok, res.StatusCode, res.Header.Get("Content-Type"), tt.status)
		}
	}
	// Silence st-c for an hour (a supervisor's job: the officer is refused).
	if res := post("/silences", officer.Token, `{}`); res.StatusCode != 403 {
		t.Errorf("officer silenced: %d", res.StatusCode)
	}
	if _, err := e.eng.AddSilence(t.Context(), alerts.Silence{Matchers: []alerts.Matcher{{Name: "station", Op: "=", Value: "st-c"}}, EndsAt: c.Now().Add(2 * time.Hour), CreatedBy: "test"}); err != nil {
		t.Fatal(err)
	}
	before := len(rc.messages())
	c.Add(61 * time.Minute)
	e.tick()
	e.dispatch()
	// Repeats: st-a only; st-b is acknowledged, st-c silenced.
	var repeats []string
	for _, m := range rc.messages()[before:] {
		repeats = append(repeats, m.Envmon.Station+":"+m.Envmon.Kind)
	}
	if len(repeats) != 1 || repeats[0] != "st-a:repeat" {
		t.Fatalf("repeats %v, want [st-a:repeat]", repeats)
	}
	var full struct {
		alerts.Episode
		Deliveries []alerts.Delivery `json:"deliveries"`
	}
	if get("/"+id, &full); full.AckedAt == nil || full.State != alerts.Firing || len(full.Transitions) < 2 || len(full.Deliveries) != 1 {
		t.Fatalf("acked episode %+v", full)
	}
	// Resolving clears the acknowledgement.
	e.feed(air("st-b", c.Now(), "pm25", 20))
	full.Episode = alerts.Episode{}
	if get("/"+id, &full); full.State != alerts.Resolved || full.AckedAt != nil {
		t.Fatalf("resolved episode keeps its ack: %+v", full.Episode)
	}
}
