package alerts_test

import (
	"slices"
	"testing"
	"time"

	"github.com/envmon/envmon/alerts"
	"github.com/envmon/envmon/alerts/rules"
)

// jitter keeps values from looking stuck.
func jitter(t time.Time) float64 { return float64(t.Minute()%7) * 0.3 }

// pm25Episode is a day at a station: about 40 µg/m³, 180 from 10:00 to
// 13:00, 90 (between clear and above) to 14:00, then 30, one reading every 5 minutes, from 08:00 to end.
func pm25Episode(station string, end time.Time) []any {
	var out []any
	for _, r := range series(station, at("08:00"), end, 5*time.Minute, func(t time.Time) any {
		switch {
		case !t.Before(at("10:00")) && t.Before(at("13:00")):
			return 180 + jitter(t)
		case !t.Before(at("13:00")) && t.Before(at("14:00")):
			return 90 + jitter(t) // within the hysteresis band: still firing
		case !t.Before(at("14:00")):
			return 30 + jitter(t)
		}
		return 40 + jitter(t)
	}) {
		out = append(out, r)
	}
	return out
}

// TestPM25Episode is Must-show 1: the 1 h-mean rule goes pending, fires
// after its for, sends exactly one signed webhook, resolves through the
// hysteresis and sends exactly one resolved notification.
func TestPM25Episode(t *testing.T) {
	for _, eng := range engines {
		t.Run(eng.name, func(t *testing.T) {
			c := &clock{t: at("08:00")}
			rc := newReceiver(t, c)
			e := newEnv(t, eng.fresh(t), c, rules.Default(), rc, "a")
			rule := "pm25_1h_high"
			var states []alerts.State
			observe := func() {
				eps := e.episodes(alerts.Query{Rule: rule})
				if len(eps) > 1 {
					t.Fatalf("%d episodes of %s", len(eps), rule)
				}
				if len(eps) == 1 && (len(states) == 0 || states[len(states)-1] != eps[0].State) {
					states = append(states, eps[0].State)
				}
			}
			for _, r := range pm25Episode("st-1", at("17:00")) {
				e.feed(asReading(r))
				observe()
				e.dispatch()
			}
			if want := []alerts.State{alerts.Pending, alerts.Firing, alerts.Resolved}; !slices.Equal(states, want) {
				t.Fatalf("states %v, want %v", states, want)
			}
			ep := e.episodes(alerts.Query{Rule: rule})[0]
			if !ep.StartedAt.Equal(at("11:00")) || !ep.FiringAt.Equal(at("12:00")) || !ep.ResolvedAt.Equal(at("16:00")) {
				t.Errorf("started %v, firing %v, resolved %v; want 11:00, 12:00 (after for 1h), 16:00 (below clear from the hour ending 15:00, + clear_for 1h)", ep.StartedAt, ep.FiringAt, ep.ResolvedAt)
			}
			if got := rc.count(rule, "firing"); got != 1 {
				t.Errorf("%d firing webhooks, want 1", got)
			}
			if got := rc.count(rule, "resolved"); got != 1 {
				t.Errorf("%d resolved webhooks, want 1", got)
			}
			for k, n := range rc.keys {
				if n != 1 {
					t.Errorf("key %s delivered %d times", k, n)
				}
			}
			// The webhook is Alertmanager's v4 shape, with envmon's fields.
			for _, m := range rc.messages() {
				if m.Envmon.Rule != rule {
					continue
				}
				if m.Version != "4" || len(m.Alerts) != 1 || m.Alerts[0].Labels["alertname"] != rule || m.Alerts[0].Fingerprint == "" ||
					m.Envmon.EpisodeID != ep.ID || m.Envmon.Station != "st-1" || len(m.Envmon.Evidence) == 0 {
					t.Errorf("webhook %+v", m)
				}
				if m.Status == "resolved" && !m.Alerts[0].EndsAt.Equal(at("16:00")) {
					t.Errorf("resolved endsAt %v", m.Alerts[0].EndsAt)
				}
			}
			full, err := e.eng.Get(t.Context(), ep.ID)
			if err != nil {
				t.Fatal(err)
			}
			var trail []string
			for _, tr := range full.Transitions {
				trail = append(trail, tr.From+">"+tr.To)
				if tr.By == "" || tr.RecordedAt.IsZero() {
					t.Errorf("transition without who or when: %+v", tr)
				}
			}
			if want := []string{">pending", "pending>firing", "firing>resolved"}; !slices.Equal(trail, want) {
				t.Errorf("transitions %v, want %v", trail, want)
			}
		})
	}
}
