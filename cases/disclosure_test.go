package cases_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/envmon/envmon/alerts/notify"
	"github.com/envmon/envmon/cases"
	"github.com/envmon/envmon/cases/pii"
)

// fileAt files desk complaints of category cat at service point p (no
// location, so none merges), received at t.
func fileAt(t *testing.T, e *env, p, cat string, n int, received time.Time) {
	t.Helper()
	for range n {
		if _, err := e.svc.Submit(context.Background(), cases.Complaint{Channel: cases.SourceDesk, Category: cat, Description: "smoke", Point: p, ReceivedAt: received}); err != nil {
			t.Fatal(err)
		}
	}
}

// alertAt opens an air case from an alert at station st (of p-civic),
// firing at t.
func alertAt(t *testing.T, e *env, st string, firing time.Time) {
	t.Helper()
	now := e.clock.Now()
	e.clock.Set(firing)
	defer e.clock.Set(now)
	n := &notify.Notification{Key: "k-" + st + firing.String(), Kind: notify.Firing,
		Episode: notify.Episode{ID: "al-" + st, Rule: "pm25_raw_high", Station: st, Medium: "air", StartsAt: firing, Labels: map[string]string{"category": "air"}}}
	if err := e.svc.TakeAlert(context.Background(), n); err != nil {
		t.Fatal(err)
	}
}

// shown is a group as "month cell category received", the cell by its
// township (Civic, Riverside).
func shown(d cases.Disclosure) []string {
	var out []string
	for _, g := range d.Groups {
		cell := "?"
		for _, c := range []string{"Civic", "Riverside"} {
			if strings.Contains(g.Grid, c) {
				cell = c
			}
		}
		out = append(out, fmt.Sprintf("%s %s %s %d", g.Month, cell, g.Category, g.Received))
	}
	return out
}

// TestDisclosureWithholdsSmallGroups: a group of one or two complaints is
// withheld, whatever the alert cases beside them; when it is the only one
// of its grid cell and year, the cell's next smallest group is withheld
// too; groups of alert cases alone, and groups of three complaints or
// more, are shown; and a year's groups are the same asked for alone.
func TestDisclosureWithholdsSmallGroups(t *testing.T) {
	type complaints struct {
		point, cat string
		n          int
		at         string
	}
	for _, tt := range []struct {
		name       string
		complaints []complaints
		alerts     map[string]string // station: firing
		want       []string
		withheld   int
	}{
		{name: "one complaint", complaints: []complaints{{"p-civic", "air", 1, "2026-05-04 10:00"}}, withheld: 1},
		{name: "two complaints", complaints: []complaints{{"p-civic", "air", 2, "2026-05-04 10:00"}}, withheld: 1},
		{name: "three complaints", complaints: []complaints{{"p-civic", "air", 3, "2026-05-04 10:00"}},
			want: []string{"2026-05 Civic air 3"}},
		{name: "alerts alone", alerts: map[string]string{"st-1": "2026-05-04 10:00"},
			want: []string{"2026-05 Civic air 1"}},
		// received 3, but one complainant: the public alerts tell the
		// other two cases.
		{name: "alerts do not count", complaints: []complaints{{"p-civic", "air", 1, "2026-05-04 10:00"}},
			alerts: map[string]string{"st-1": "2026-05-04 09:00", "st-2": "2026-05-04 09:30"}, withheld: 1},
		// Civic in 2026: April's single complaint is withheld, and so is
		// May's air, the smallest other group holding complaints, rather
		// than June's alert alone. Riverside withholds two groups under
		// the threshold, and no third.
		{name: "secondary suppression", complaints: []complaints{
			{"p-civic", "air", 1, "2026-04-20 10:00"}, {"p-civic", "air", 3, "2026-05-04 10:00"}, {"p-civic", "noise", 4, "2026-05-04 10:00"},
			{"p-riverside", "water", 1, "2026-05-04 10:00"}, {"p-riverside", "noise", 2, "2026-05-04 10:00"}, {"p-riverside", "air", 3, "2026-06-01 10:00"}},
			alerts:   map[string]string{"st-1": "2026-06-02 10:00"},
			want:     []string{"2026-05 Civic noise 4", "2026-06 Civic air 1", "2026-06 Riverside air 3"},
			withheld: 4},
		// The rule works within a year: 2025's lone withheld group takes
		// nothing of 2026 with it.
		{name: "within a year", complaints: []complaints{{"p-civic", "air", 1, "2025-12-20 10:00"}, {"p-civic", "air", 3, "2026-01-05 10:00"}},
			want: []string{"2026-01 Civic air 3"}, withheld: 1},
	} {
		for _, eng := range engines {
			t.Run(tt.name+"/"+eng.name, func(t *testing.T) {
				c := &clock{t: at("2026-06-30 12:00")}
				e := newEnv(t, eng.fresh(t), c, pii.New(), &sink{}, &bytes.Buffer{}, "r1")
				for _, f := range tt.complaints {
					fileAt(t, e, f.point, f.cat, f.n, at(f.at))
				}
				for st, firing := range tt.alerts {
					alertAt(t, e, st, at(firing))
				}
				r := do(t, e.svc.DisclosureHandler(), "GET", "/api/v1/disclosure/cases", "", "")
				var d cases.Disclosure
				if err := json.Unmarshal([]byte(r.body), &d); err != nil || r.code != 200 {
					t.Fatalf("disclosure: %d %v %s", r.code, err, r.body)
				}
				if got := shown(d); !slices.Equal(got, tt.want) || d.Withheld != tt.withheld || d.MinComplaints != cases.MinGroupComplaints {
					t.Errorf("groups %q, %d withheld (k %d); want %q, %d withheld (k %d)", got, d.Withheld, d.MinComplaints, tt.want, tt.withheld, cases.MinGroupComplaints)
				}
				// A withheld group leaves no trace of its month.
				for _, f := range tt.complaints {
					if m := at(f.at).Format("2006-01"); !slices.ContainsFunc(tt.want, func(s string) bool { return strings.HasPrefix(s, m) }) && strings.Contains(r.body, m) {
						t.Errorf("the answer names %s, whose groups are withheld: %s", m, r.body)
					}
				}
				// 2026 alone shows the same groups of 2026.
				y, err := e.svc.Disclose(context.Background(), 2026)
				if err != nil {
					t.Fatal(err)
				}
				var of2026 []string
				for _, s := range tt.want {
					if strings.HasPrefix(s, "2026") {
						of2026 = append(of2026, s)
					}
				}
				if got := shown(*y); !slices.Equal(got, of2026) {
					t.Errorf("2026 alone shows %q, every year %q", got, of2026)
				}
			})
		}
	}
}

// TestDisclosureCached: the statistics are computed at most once a
// DisclosureTTL of the service's clock, for each year asked for.
// TestDisclosureYears: year= takes the years from 2000 to this one (in
// the service's time zone), and no other.
func TestDisclosureYears(t *testing.T) {
	// 2027 in Shanghai, still 2026 in UTC.
	c := &clock{t: at("2027-01-01 06:00")}
	e := newEnv(t, engines[0].fresh(t), c, pii.New(), &sink{}, &bytes.Buffer{}, "r1")
	const this = 2027
	for _, tt := range []struct {
		year string
		code int
	}{
		{"2000", 200}, {strconv.Itoa(this), 200}, {"1999", 400}, {strconv.Itoa(this + 1), 400}, {"3000", 400}, {"20x6", 400},
	} {
		if r := do(t, e.svc.DisclosureHandler(), "GET", "/api/v1/disclosure/cases?year="+tt.year, "", ""); r.code != tt.code {
			t.Errorf("year=%s: %d, want %d (%s)", tt.year, r.code, tt.code, r.body)
		}
	}
}

func TestDisclosureCached(t *testing.T) {
	for _, eng := range engines {
		t.Run(eng.name, func(t *testing.T) {
			c := &clock{t: at("2026-06-30 12:00")}
			e := newEnv(t, eng.fresh(t), c, pii.New(), &sink{}, &bytes.Buffer{}, "r1")
			fileAt(t, e, "p-civic", "air", 3, at("2026-05-04 10:00"))
			received := func(year int) int {
				t.Helper()
				d, err := e.svc.Disclose(context.Background(), year)
				if err != nil {
					t.Fatal(err)
				}
				n := 0
				for _, g := range d.Groups {
					n += g.Received
				}
				return n
			}
			if n := received(0); n != 3 {
				t.Fatalf("%d received, want 3", n)
			}
			fileAt(t, e, "p-civic", "air", 1, at("2026-05-04 11:00"))
			c.Add(cases.DisclosureTTL - time.Second)
			if n := received(0); n != 3 {
				t.Errorf("within DisclosureTTL: %d received, want the 3 computed before", n)
			}
			if n := received(2026); n != 4 {
				t.Errorf("2026, not asked for before: %d received, want 4", n)
			}
			c.Add(time.Second)
			if n := received(0); n != 4 {
				t.Errorf("after DisclosureTTL: %d received, want 4", n)
			}
		})
	}
}
