package cases_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/envmon/envmon/alerts/notify"
	"github.com/envmon/envmon/auth"
	"github.com/envmon/envmon/cases"
	"github.com/envmon/envmon/cases/pii"
	"github.com/envmon/envmon/db/dbtest"
)

// listFixture is six cases on SQLite, received Fri 2026-05-08, newest
// first: c2 (13:00, open311, other, Jade Lake), d1 and d2 (both 12:00,
// desk, noise, at p-industrial and p-civic), c1 (11:00, open311, water,
// Riverside), a2 (10:00, alert at st-11, Industrial Park) and a1 (09:00,
// alert at st-1, Civic Street, acknowledged).
type listFixture struct {
	e                      *env
	a1, a2, c1, d1, d2, c2 string
	all                    []string // every case, in list order
}

var admin = auth.Principal{Role: auth.Admin, TokenID: "test"}

func newListFixture(t *testing.T) *listFixture {
	t.Helper()
	c := &clock{t: at("2026-05-08 09:00")}
	e := newEnv(t, dbtest.SQLite(t), c, pii.New(), &sink{}, &bytes.Buffer{}, "r1")
	f := &listFixture{e: e}
	ctx := context.Background()
	seen := map[string]bool{}
	// newCase returns the one case not listed before.
	newCase := func() string {
		t.Helper()
		p, err := e.svc.List(ctx, admin, cases.Query{})
		if err != nil {
			t.Fatal(err)
		}
		var fresh []string
		for _, cs := range p.Cases {
			if !seen[cs.ID] {
				fresh = append(fresh, cs.ID)
				seen[cs.ID] = true
			}
		}
		if len(fresh) != 1 {
			t.Fatalf("%d new cases, want 1", len(fresh))
		}
		return fresh[0]
	}
	alert := func(st string) string {
		t.Helper()
		if err := e.svc.TakeAlert(ctx, &notify.Notification{Key: "k-" + st, Kind: notify.Firing,
			Episode: notify.Episode{ID: "al-" + st, Rule: "pm25_high", Station: st, Medium: "air", StartsAt: c.Now(), Labels: map[string]string{"category": "air"}}}); err != nil {
			t.Fatal(err)
		}
		return newCase()
	}
	complain := func(x cases.Complaint) string {
		t.Helper()
		rc, err := e.svc.Submit(ctx, x)
		if err != nil {
			t.Fatal(err)
		}
		seen[rc.CaseID] = true
		return rc.CaseID
	}
	f.a1 = alert("st-1")
	if _, err := e.svc.Act(ctx, admin, f.a1, "acknowledge", cases.ActionInput{}); err != nil {
		t.Fatal(err)
	}
	c.Set(at("2026-05-08 10:00"))
	f.a2 = alert("st-11")
	c.Set(at("2026-05-08 11:00"))
	f.c1 = complain(cases.Complaint{Channel: cases.SourceOpen311, Category: "water", Point: "p-riverside", Name: cName, Phone: cPhone})
	c.Set(at("2026-05-08 12:30"))
	f.d1 = complain(cases.Complaint{Channel: cases.SourceDesk, Category: "noise", Point: "p-industrial", ReceivedAt: at("2026-05-08 12:00")})
	f.d2 = complain(cases.Complaint{Channel: cases.SourceDesk, Category: "noise", Point: "p-civic", ReceivedAt: at("2026-05-08 12:00")})
	c.Set(at("2026-05-08 13:00"))
	f.c2 = complain(cases.Complaint{Channel: cases.SourceOpen311, Category: "other", Point: "p-jade-lake"})
	// Two cases received at the same moment are listed by id, descending.
	da, db := f.d1, f.d2
	if da < db {
		da, db = db, da
	}
	f.all = []string{f.c2, da, db, f.c1, f.a2, f.a1}
	return f
}

func caseIDs(p cases.Page) []string {
	out := []string{}
	for _, c := range p.Cases {
		out = append(out, c.ID)
	}
	return out
}

// TestListFilters: every filter of GET /api/v1/cases, alone and together,
// and within an officer's scope; bad parameters are 400 problem+json.
func TestListFilters(t *testing.T) {
	f := newListFixture(t)
	e := f.e
	ctx := context.Background()
	if got, _ := e.svc.List(ctx, admin, cases.Query{}); !slices.Equal(caseIDs(got), f.all) {
		t.Fatalf("all cases %v, want %v", caseIDs(got), f.all)
	}
	from, to := at("2026-05-08 11:00"), at("2026-05-08 13:00")
	// d1 and d2 in list order.
	ds := slices.DeleteFunc(slices.Clone(f.all), func(id string) bool { return id != f.d1 && id != f.d2 })
	only := func(ids ...string) []string {
		return slices.DeleteFunc(slices.Clone(f.all), func(id string) bool { return !slices.Contains(ids, id) })
	}
	officer := auth.Principal{Role: auth.Officer, Team: "t-civic-street", TokenID: "o"}
	for _, tt := range []struct {
		name string
		p    auth.Principal
		q    cases.Query
		want []string
	}{
		{"status", admin, cases.Query{Status: "acknowledged"}, []string{f.a1}},
		{"status assigned", admin, cases.Query{Status: "assigned"}, only(f.a2, f.c1, f.d1, f.d2, f.c2)},
		{"team", admin, cases.Query{Team: "t-industrial"}, only(f.d1, f.a2)},
		{"grid: a county", admin, cases.Query{Grid: "东山区 Dongshan District"}, only(f.c2, f.d1, f.a2)},
		{"grid: a township", admin, cases.Query{Grid: "东山区 Dongshan District/园区街道 Industrial Park Street"}, only(f.d1, f.a2)},
		{"grid: a trailing slash", admin, cases.Query{Grid: "河西区 Hexi District/"}, only(f.d2, f.c1, f.a1)},
		{"grid: part of a name is no cell", admin, cases.Query{Grid: "河西区 Hexi"}, []string{}},
		{"grid: a LIKE wildcard is literal", admin, cases.Query{Grid: "%"}, []string{}},
		{"source alert", admin, cases.Query{Source: cases.SourceAlert}, only(f.a1, f.a2)},
		{"source open311", admin, cases.Query{Source: cases.SourceOpen311}, only(f.c1, f.c2)},
		{"source desk", admin, cases.Query{Source: cases.SourceDesk}, ds},
		{"station", admin, cases.Query{Station: "st-11"}, []string{f.a2}},
		{"from and to: to is exclusive", admin, cases.Query{From: from, To: to}, only(f.d1, f.d2, f.c1)},
		{"from", admin, cases.Query{From: to}, []string{f.c2}},
		{"together", admin, cases.Query{Source: cases.SourceAlert, Team: "t-civic-street"}, []string{f.a1}},
		{"nothing matches", admin, cases.Query{Source: cases.SourceAlert, Station: "st-6"}, []string{}},
		{"an officer sees the team's", officer, cases.Query{}, only(f.d2, f.a1)},
		{"an officer's filter stays in scope", officer, cases.Query{Team: "t-industrial"}, []string{}},
		{"a supervisor sees the cells under theirs", auth.Principal{Role: auth.Supervisor, Grid: "东山区 Dongshan District/翠湖镇 Jade Lake Township"}, cases.Query{}, []string{f.c2}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, err := e.svc.List(ctx, tt.p, tt.q)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(caseIDs(got), tt.want) {
				t.Errorf("%v, want %v", caseIDs(got), tt.want)
			}
		})
	}

	// Overdue: on Sat 9 May 10:30, a2's contact deadline (receipt + 24 h)
	// has passed; a1's was met by acknowledging; the others' are to come.
	e.clock.Set(at("2026-05-09 10:30"))
	if got, _ := e.svc.List(ctx, admin, cases.Query{Overdue: true}); !slices.Equal(caseIDs(got), []string{f.a2}) {
		t.Errorf("overdue at 10:30 the next day: %v, want [%s]", caseIDs(got), f.a2)
	}
	e.clock.Set(at("2026-05-09 11:30"))
	if got, _ := e.svc.List(ctx, admin, cases.Query{Overdue: true}); !slices.Equal(caseIDs(got), only(f.a2, f.c1)) {
		t.Errorf("overdue at 11:30 the next day: %v, want %v", caseIDs(got), only(f.a2, f.c1))
	}
	if got, _ := e.svc.List(ctx, admin, cases.Query{Overdue: true, Source: cases.SourceOpen311}); !slices.Equal(caseIDs(got), []string{f.c1}) {
		t.Errorf("overdue Open311 cases: %v, want [%s]", caseIDs(got), f.c1)
	}

	// Over HTTP: the same filters from the query string.
	api := e.svc.Routes()
	tok := e.token(auth.CreateOptions{Role: auth.Admin})
	for _, tt := range []struct {
		query string
		want  []string
	}{
		{"status=acknowledged", []string{f.a1}},
		{"team=t-industrial&source=alert", []string{f.a2}},
		{"grid=" + url.QueryEscape("河西区 Hexi District"), only(f.d2, f.c1, f.a1)},
		{"station=st-1", []string{f.a1}},
		{"overdue=true", only(f.a2, f.c1)},
		{"overdue=1&source=open311", []string{f.c1}},
		{"from=" + url.QueryEscape(from.Format(time.RFC3339)) + "&to=" + url.QueryEscape(to.Format(time.RFC3339)), only(f.d1, f.d2, f.c1)},
	} {
		r := do(t, api, "GET", "/api/v1/cases?"+tt.query, tok, "")
		var p cases.Page
		if err := json.Unmarshal([]byte(r.body), &p); r.code != 200 || err != nil {
			t.Errorf("?%s: %d %s", tt.query, r.code, r.body)
			continue
		}
		if !slices.Equal(caseIDs(p), tt.want) {
			t.Errorf("?%s: %v, want %v", tt.query, caseIDs(p), tt.want)
		}
	}
	for _, q := range []string{"from=yesterday", "to=2026-05-08", "limit=ten", "cursor=nonsense", "cursor=x_case-1"} {
		if r := do(t, api, "GET", "/api/v1/cases?"+q, tok, ""); r.code != 400 || r.ct != "application/problem+json" {
			t.Errorf("?%s: %d %s %s; want 400 problem+json", q, r.code, r.ct, r.body)
		}
	}
}

// TestListPagination: pages of every size follow their cursors through
// every case once, in order, across two cases received at the same
// moment; the last page has no cursor; the limit is bounded.
func TestListPagination(t *testing.T) {
	f := newListFixture(t)
	ctx := context.Background()
	for _, limit := range []int{1, 2, 3, 4, 5, 6, 7} {
		var got []string
		var sizes []int
		q := cases.Query{Limit: limit}
		for range 10 {
			p, err := f.e.svc.List(ctx, admin, q)
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, caseIDs(p)...)
			sizes = append(sizes, len(p.Cases))
			if p.Next == "" {
				break
			}
			q.Cursor = p.Next
		}
		if !slices.Equal(got, f.all) {
			t.Errorf("limit %d: pages give %v, want %v", limit, got, f.all)
		}
		// Full pages, then the rest; no empty page at the end.
		for i, n := range sizes {
			if last := i == len(sizes)-1; (!last && n != limit) || n == 0 {
				t.Errorf("limit %d: page sizes %v", limit, sizes)
				break
			}
		}
	}
	// A filter holds across pages.
	p1, _ := f.e.svc.List(ctx, admin, cases.Query{Source: cases.SourceDesk, Limit: 1})
	p2, _ := f.e.svc.List(ctx, admin, cases.Query{Source: cases.SourceDesk, Limit: 1, Cursor: p1.Next})
	if len(p1.Cases) != 1 || len(p2.Cases) != 1 || p2.Next != "" || p1.Cases[0].ID == p2.Cases[0].ID || p2.Cases[0].Source != cases.SourceDesk {
		t.Errorf("desk cases by one: %v then %v (next %q)", caseIDs(p1), caseIDs(p2), p2.Next)
	}
	// A limit of none or beyond 500 is the default, 100.
	for _, l := range []int{0, -1, 501} {
		if p, _ := f.e.svc.List(ctx, admin, cases.Query{Limit: l}); len(p.Cases) != len(f.all) || p.Next != "" {
			t.Errorf("limit %d: %d cases, next %q", l, len(p.Cases), p.Next)
		}
	}
	if _, err := f.e.svc.List(ctx, admin, cases.Query{Cursor: "nonsense"}); err == nil {
		t.Error("a bad cursor is accepted")
	}
	// Over HTTP, following "next".
	api := f.e.svc.Routes()
	tok := f.e.token(auth.CreateOptions{Role: auth.Admin})
	var got []string
	for target := "/api/v1/cases?limit=2"; target != ""; {
		r := do(t, api, "GET", target, tok, "")
		var p cases.Page
		if err := json.Unmarshal([]byte(r.body), &p); r.code != 200 || err != nil {
			t.Fatalf("GET %s: %d %s", target, r.code, r.body)
		}
		got = append(got, caseIDs(p)...)
		target = ""
		if p.Next != "" {
			target = "/api/v1/cases?limit=2&cursor=" + url.QueryEscape(p.Next)
		}
		if len(got) > len(f.all) {
			break
		}
	}
	if !slices.Equal(got, f.all) {
		t.Errorf("HTTP pages give %v, want %v", got, f.all)
	}
}

// sse is one server-sent event.
type sse struct {
	event string
	data  cases.Change
	raw   string
}

// subscribe opens GET /api/v1/cases/stream with tok and returns its
// events, once the stream has said it is open (so that it is subscribed).
func subscribe(t *testing.T, srv *httptest.Server, tok string) <-chan sse {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	req, _ := http.NewRequestWithContext(ctx, "GET", srv.URL+"/api/v1/cases/stream", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	res, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { res.Body.Close() })
	if res.StatusCode != 200 || res.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("stream: %s %s", res.Status, res.Header.Get("Content-Type"))
	}
	sc := bufio.NewScanner(res.Body)
	if !sc.Scan() || !strings.HasPrefix(sc.Text(), ":") {
		t.Fatalf("the stream did not open with a comment: %q %v", sc.Text(), sc.Err())
	}
	out := make(chan sse, 16)
	go func() {
		defer close(out)
		var ev sse
		for sc.Scan() {
			line := sc.Text()
			switch {
			case strings.HasPrefix(line, "event: "):
				ev.event = strings.TrimPrefix(line, "event: ")
			case strings.HasPrefix(line, "data: "):
				ev.raw = strings.TrimPrefix(line, "data: ")
				json.Unmarshal([]byte(ev.raw), &ev.data)
			case line == "" && ev.event != "":
				out <- ev
				ev = sse{}
			}
		}
	}()
	return out
}

func next(t *testing.T, who string, ch <-chan sse) sse {
	t.Helper()
	select {
	case ev, ok := <-ch:
		if !ok {
			t.Fatalf("%s: the stream ended", who)
		}
		return ev
	case <-time.After(30 * time.Second):
		t.Fatalf("%s: no event", who)
	}
	return sse{}
}

// TestStream: GET /api/v1/cases/stream sends an event when a case
// changes, with its new state and no personal data, to those who may see
// the case and to no one else.
func TestStream(t *testing.T) {
	f := newListFixture(t)
	e := f.e
	srv := httptest.NewServer(e.svc.Routes())
	t.Cleanup(srv.Close)
	all := subscribe(t, srv, e.token(auth.CreateOptions{Role: auth.Admin}))
	civic := subscribe(t, srv, e.token(auth.CreateOptions{Role: auth.Officer, Team: "t-civic-street"}))
	park := subscribe(t, srv, e.token(auth.CreateOptions{Role: auth.Officer, Team: "t-industrial"}))
	if r := do(t, srv.Config.Handler, "GET", "/api/v1/cases/stream", "", ""); r.code != 401 {
		t.Errorf("the stream without a token: %d", r.code)
	}

	// A transition of a Civic Street case.
	officer := e.token(auth.CreateOptions{Role: auth.Officer, Team: "t-civic-street"})
	if r := do(t, srv.Config.Handler, "POST", "/api/v1/cases/"+f.d2+"/acknowledge", officer, `{"comment":"called back"}`); r.code != 200 {
		t.Fatalf("acknowledge: %d %s", r.code, r.body)
	}
	for who, ch := range map[string]<-chan sse{"admin": all, "civic officer": civic} {
		ev := next(t, who, ch)
		if ev.event != "acknowledge" || ev.data.Type != "acknowledge" || ev.data.Case != f.d2 || ev.data.State != cases.Acknowledged ||
			ev.data.Team != "t-civic-street" || ev.data.Source != cases.SourceDesk {
			t.Errorf("%s: event %q %+v; want acknowledge of %s, now acknowledged", who, ev.event, ev.data, f.d2)
		}
	}
	// A complaint opening a case of the Industrial Park team: its
	// officer's first event, since the Civic Street change was not theirs
	// to see.
	rc, err := e.svc.Submit(context.Background(), cases.Complaint{Channel: cases.SourceOpen311, Category: "air", Point: "p-industrial",
		Name: cName, Phone: cPhone, Email: cEmail, Description: "Smoke again; " + cEmail})
	if err != nil {
		t.Fatal(err)
	}
	for who, ch := range map[string]<-chan sse{"admin": all, "park officer": park} {
		ev := next(t, who, ch)
		if ev.event != "opened" || ev.data.Case != rc.CaseID || ev.data.State != cases.Assigned || ev.data.Source != cases.SourceOpen311 || ev.data.Team != "t-industrial" {
			t.Errorf("%s: event %q %+v; want the case %s opened", who, ev.event, ev.data, rc.CaseID)
		}
		noPII(t, who+"'s stream", ev.raw)
	}
	// A timer acting on the clock is a change too: the Civic Street
	// officer hears of a1's forward reminder, and of no other team's case.
	e.clock.Set(at("2026-05-09 22:00"))
	e.tick()
	for {
		ev := next(t, "civic officer", civic)
		if ev.data.Team != "t-civic-street" {
			t.Errorf("the civic officer got another team's event %+v", ev.data)
		}
		if ev.data.Case == f.a1 && ev.event == "reminder" {
			break
		}
	}
}
