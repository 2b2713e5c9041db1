package alerts_test

import (
	"bufio"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/envmon/envmon/alerts"
	"github.com/envmon/envmon/auth"
	"github.com/envmon/envmon/db"
	"github.com/envmon/envmon/db/dbtest"
)

// scoped is a replica whose three stations are firing station_offline
// (repeating every hour), with an API server and a token store. teamsOf
// places st-a and st-b in team t-hexi's cell, st-c in t-industrial's.
type scoped struct {
	*env
	srv    *httptest.Server
	tokens *auth.Store
	// offline are the firing station_offline episodes by station.
	offline map[string]string
}

func newScoped(t *testing.T, fresh func(testing.TB) db.Config) *scoped {
	c := &clock{t: at("08:00")}
	rc := newReceiver(t, c)
	e := newEnv(t, fresh(t), c, mustRules(t, strings.Replace(testRules, "    after: 15m\n", "    after: 15m\n    repeat_interval: 1h\n", 1)), rc, "a")
	tokens, err := auth.Open(t.Context(), e.db, c.Now)
	if err != nil {
		t.Fatal(err)
	}
	s := &scoped{env: e, tokens: tokens, offline: map[string]string{}}
	s.srv = httptest.NewServer(http.StripPrefix("/api/v1/alerts", e.eng.Routes(tokens)))
	t.Cleanup(s.srv.Close)
	for _, st := range []string{"st-a", "st-b", "st-c"} {
		e.feed(air(st, at("08:00"), "pm25", 20))
	}
	c.Set(at("08:30"))
	e.tick()
	e.dispatch()
	for _, ep := range e.episodes(alerts.Query{Rule: "station_offline", State: "firing"}) {
		s.offline[ep.Station] = ep.ID
	}
	if len(s.offline) != 3 {
		t.Fatalf("firing offline episodes %v, want st-a, st-b and st-c", s.offline)
	}
	return s
}

func (s *scoped) token(o auth.CreateOptions) string {
	s.t.Helper()
	tok, err := s.tokens.Create(s.t.Context(), o)
	if err != nil {
		s.t.Fatal(err)
	}
	return tok.Token
}

// do sends a request with token tok (none when empty) and returns the
// status, content type and body.
func (s *scoped) do(method, path, tok, body string) (int, string, string) {
	s.t.Helper()
	req, _ := http.NewRequest(method, s.srv.URL+"/api/v1/alerts"+path, strings.NewReader(body))
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, res.Header.Get("Content-Type"), string(b)
}

// TestAckTeamScope: an officer acknowledges only the episodes of stations
// its team covers, a supervisor also those in its grid cell, an admin any;
// a refusal is a 403 problem and leaves the episode unacknowledged. With no
// Config.Teams only an admin may acknowledge.
func TestAckTeamScope(t *testing.T) {
	s := newScoped(t, dbtest.SQLite)
	industrial := s.token(auth.CreateOptions{Role: auth.Officer, Team: "t-industrial"})
	hexi := s.token(auth.CreateOptions{Role: auth.Officer, Team: "t-hexi"})
	teamless := s.token(auth.CreateOptions{Role: auth.Officer})
	industrialSup := s.token(auth.CreateOptions{Role: auth.Supervisor, Team: "t-industrial", Grid: "滨海新区"})
	hexiGrid := s.token(auth.CreateOptions{Role: auth.Supervisor, Grid: "河西区"})
	admin := s.token(auth.CreateOptions{Role: auth.Admin})
	for _, tt := range []struct {
		name, station, tok string
		status             int
	}{
		{"another team's officer", "st-b", industrial, 403},
		{"an officer of no team", "st-b", teamless, 403},
		{"another team's supervisor", "st-b", industrialSup, 403},
		{"a supervisor of another cell", "st-c", hexiGrid, 403},
		{"the station's team", "st-b", hexi, 200},
		{"a supervisor of the cell", "st-a", hexiGrid, 200},
		{"an admin", "st-c", admin, 200},
	} {
		id := s.offline[tt.station]
		status, ctype, body := s.do("POST", "/"+id+"/ack", tt.tok, `{"comment":"on it"}`)
		if status != tt.status {
			t.Errorf("%s acknowledging %s: %d %s, want %d", tt.name, tt.station, status, body, tt.status)
		}
		ep, err := s.eng.Get(t.Context(), id)
		if err != nil {
			t.Fatal(err)
		}
		if acked := ep.AckedAt != nil; acked != (tt.status == 200) {
			t.Errorf("%s acknowledging %s: acknowledged %v after %d", tt.name, tt.station, acked, status)
		}
		if tt.status == 403 && (ctype != "application/problem+json" || !strings.Contains(body, "team")) {
			t.Errorf("%s: refusal %s %s, want a problem naming the team", tt.name, ctype, body)
		}
	}

	// The same database without Config.Teams: no station is any team's.
	bare, err := alerts.New(t.Context(), alerts.Config{DB: s.db, Rules: s.rules, Stations: alerts.StationsFunc(stations), Now: s.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := bare.AckAs(t.Context(), auth.Principal{TokenID: "x", Role: auth.Supervisor, Team: "t-hexi", Grid: "河西区"}, s.offline["st-b"], ""); !errors.Is(err, alerts.ErrForbidden) {
		t.Errorf("without Config.Teams a supervisor acknowledged: %v, want ErrForbidden", err)
	}
	if _, err := bare.AckAs(t.Context(), auth.Principal{TokenID: "x", Role: auth.Admin}, s.offline["st-b"], ""); err != nil {
		t.Errorf("without Config.Teams an admin could not acknowledge: %v", err)
	}
}

// TestSilenceTeamScope: a supervisor's silence, whatever its matchers and
// body say, mutes only the stations of its team; another team's station
// keeps repeating. A silence is expired only by a principal whose scope
// holds it, an admin's only by an admin; a token without team or grid
// cannot silence. It runs on both engines: the scope is stored.
func TestSilenceTeamScope(t *testing.T) {
	for _, eng := range engines {
		t.Run(eng.name, func(t *testing.T) {
			s := newScoped(t, eng.fresh)
			hexiSup := s.token(auth.CreateOptions{Role: auth.Supervisor, Team: "t-hexi"})
			industrialSup := s.token(auth.CreateOptions{Role: auth.Supervisor, Team: "t-industrial", Grid: "滨海新区"})
			nobody := s.token(auth.CreateOptions{Role: auth.Supervisor})
			admin := s.token(auth.CreateOptions{Role: auth.Admin})
			until := s.clock.Now().Add(2 * time.Hour).Format(time.RFC3339)
			everything := `{"matchers":[{"name":"station","op":"=~","value":".*"}],"ends_at":"` + until + `"`

			if status, _, body := s.do("POST", "/silences", nobody, everything+`}`); status != 403 {
				t.Errorf("a supervisor of no team or cell silenced: %d %s", status, body)
			}
			status, _, body := s.do("POST", "/silences", hexiSup, everything+`,"team":"","grid":"滨海新区"}`)
			var si alerts.Silence
			json.Unmarshal([]byte(body), &si)
			if status != 201 || si.Team != "t-hexi" || si.Grid != "" {
				t.Fatalf("t-hexi's silence: %d %s, want 201 limited to team t-hexi", status, body)
			}

			before := len(s.rc.messages())
			s.clock.Add(61 * time.Minute)
			s.tick()
			s.dispatch()
			var repeats []string
			for _, m := range s.rc.messages()[before:] {
				repeats = append(repeats, m.Envmon.Station+":"+m.Envmon.Kind)
			}
			if len(repeats) != 1 || repeats[0] != "st-c:repeat" {
				t.Errorf("repeats %v, want [st-c:repeat]: t-hexi's silence mutes st-a and st-b only", repeats)
			}
			for st, want := range map[string]bool{"st-a": true, "st-b": true, "st-c": false} {
				if ep, err := s.eng.Get(t.Context(), s.offline[st]); err != nil || ep.Silenced != want {
					t.Errorf("%s: silenced %v (%v), want %v", st, ep != nil && ep.Silenced, err, want)
				}
			}

			status, _, body = s.do("POST", "/silences", admin, everything+`}`)
			var all alerts.Silence
			json.Unmarshal([]byte(body), &all)
			if status != 201 || all.Team != "" || all.Grid != "" {
				t.Fatalf("the admin's silence: %d %s, want 201 unlimited", status, body)
			}
			for _, tt := range []struct {
				name, id, tok string
				status        int
			}{
				{"another team's supervisor, t-hexi's silence", si.ID, industrialSup, 403},
				{"a supervisor, the admin's silence", all.ID, hexiSup, 403},
				{"its team's supervisor", si.ID, hexiSup, 204},
				{"an admin", all.ID, admin, 204},
			} {
				if status, _, body := s.do("DELETE", "/silences/"+tt.id, tt.tok, ""); status != tt.status {
					t.Errorf("%s: %d %s, want %d", tt.name, status, body, tt.status)
				}
			}
		})
	}
}

// TestAnonymousWithholdsAck: the reading routes stay public, but only a
// verified token sees who acknowledged an episode or made a silence, and
// their comments; an anonymous caller sees that and when it was
// acknowledged. A bad token on a reading route is 401, not anonymous.
func TestAnonymousWithholdsAck(t *testing.T) {
	s := newScoped(t, dbtest.SQLite)
	viewer := s.token(auth.CreateOptions{Role: auth.Viewer})
	hexi, err := s.tokens.Create(t.Context(), auth.CreateOptions{Role: auth.Officer, Team: "t-hexi"})
	if err != nil {
		t.Fatal(err)
	}
	hexiSup := s.token(auth.CreateOptions{Role: auth.Supervisor, Team: "t-hexi"})
	const comment = "called Zhang San on 13800000000"
	id := s.offline["st-b"]

	// Subscribe to the stream, anonymous and with a token, before the ack.
	streams := map[string]*bufio.Reader{}
	for name, tok := range map[string]string{"anonymous": "", "viewer": viewer} {
		req, _ := http.NewRequestWithContext(t.Context(), "GET", s.srv.URL+"/api/v1/alerts/stream", nil)
		if tok != "" {
			req.Header.Set("Authorization", "Bearer "+tok)
		}
		res, err := http.DefaultClient.Do(req) // returns once subscribed: Serve flushes after subscribing
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		streams[name] = bufio.NewReader(res.Body)
	}
	if status, _, body := s.do("POST", "/"+id+"/ack", hexi.Token, `{"comment":"`+comment+`"}`); status != 200 {
		t.Fatalf("ack: %d %s", status, body)
	}
	if status, _, body := s.do("POST", "/silences", hexiSup, `{"matchers":[{"name":"station","op":"=","value":"st-a"}],"ends_at":"`+
		s.clock.Now().Add(time.Hour).Format(time.RFC3339)+`","comment":"`+comment+`"}`); status != 201 {
		t.Fatalf("silence: %d %s", status, body)
	}
	acknowledged := func(r *bufio.Reader) string {
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				t.Fatalf("stream: %v", err)
			}
			if line == "event: acknowledged\n" {
				data, _ := r.ReadString('\n')
				return data
			}
		}
	}
	who := "token:" + hexi.TokenID
	callers := map[string]string{"anonymous": "", "viewer": viewer}
	for _, tt := range []struct {
		name, caller, path string // path "": the stream
	}{
		{"episode", "anonymous", "/" + id},
		{"list", "anonymous", "/?station=st-b"},
		{"silences", "anonymous", "/silences"},
		{"stream", "anonymous", ""},
		{"episode", "viewer", "/" + id},
		{"list", "viewer", "/?station=st-b"},
		{"silences", "viewer", "/silences"},
		{"stream", "viewer", ""},
	} {
		var body string
		if tt.path == "" {
			body = acknowledged(streams[tt.caller])
		} else {
			var status int
			if status, _, body = s.do("GET", tt.path, callers[tt.caller], ""); status != 200 {
				t.Fatalf("%s: %d %s", tt.name, status, body)
			}
		}
		if tt.name != "silences" && !strings.Contains(body, `"acked_at"`) {
			t.Errorf("%s %s: no acked_at: %s", tt.caller, tt.name, body)
		}
		shows := strings.Contains(body, "token:") || strings.Contains(body, "Zhang San") || strings.Contains(body, "13800000000") ||
			strings.Contains(body, `"acked_by"`) || strings.Contains(body, `"created_by"`)
		if anonymous := tt.caller == "anonymous"; anonymous == shows {
			t.Errorf("%s %s: shows who acted or the comment %v, want %v: %s", tt.caller, tt.name, shows, !anonymous, body)
		}
		if tt.caller == "viewer" && tt.name != "silences" && !strings.Contains(body, who) {
			t.Errorf("%s %s: does not name %s: %s", tt.caller, tt.name, who, body)
		}
		if tt.caller == "viewer" && (tt.name == "episode" || tt.name == "silences") && !strings.Contains(body, comment) {
			t.Errorf("%s %s: no comment: %s", tt.caller, tt.name, body)
		}
	}
	if status, _, _ := s.do("GET", "/"+id, "envmon_nope", ""); status != 401 {
		t.Errorf("a bad token reading: %d, want 401", status)
	}
}
