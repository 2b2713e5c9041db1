package scenario

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// TestAlertExpectation checks the alert kind against a fake
// /api/v1/alerts: counts, states, fired and the window, across pages.
func TestAlertExpectation(t *testing.T) {
	start := time.Date(2026, 5, 10, 8, 0, 0, 0, time.UTC)
	eps := []Alert{
		{ID: "a", Rule: "pm25_1h_high", Station: "s", State: "resolved", Fired: true, StartedAt: start.Add(3 * time.Hour)},
		{ID: "b", Rule: "pm25_1h_high", Station: "s", State: "resolved", Fired: false, StartedAt: start.Add(time.Hour)},
		{ID: "c", Rule: "pm25_1h_high", Station: "s", State: "firing", Fired: true, StartedAt: start.Add(5 * time.Hour)},
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/api/v1/alerts" || r.URL.Query().Get("station") != "s" {
			http.NotFound(w, r)
			return
		}
		// Two pages, to check the client follows next.
		page := map[string]any{"episodes": eps[:2], "next": "p2"}
		if r.URL.Query().Get("after") == "p2" {
			page = map[string]any{"episodes": eps[2:]}
		}
		json.NewEncoder(w).Encode(page)
	}))
	defer srv.Close()
	env := &Env{API: &Client{Base: srv.URL}, Start: start, End: start.Add(6 * time.Hour)}
	for _, tt := range []struct {
		name, yaml string
		ok         bool
	}{
		{"fired any", `{kind: alert, station: s, rule: pm25_1h_high, min: 2, max: 2}`, true},
		{"firing", `{kind: alert, station: s, rule: pm25_1h_high, state: firing, min: 1, max: 1}`, true},
		{"window", `{kind: alert, station: s, rule: pm25_1h_high, from: "10:00", to: "12:00", min: 1, max: 1}`, true},
		{"unfired too", `{kind: alert, station: s, rule: pm25_1h_high, fired: false, min: 3}`, true},
		{"none wanted", `{kind: alert, station: s, rule: pm25_1h_high, max: 0}`, false},
		{"too few", `{kind: alert, station: s, rule: pm25_1h_high, state: resolved, min: 2}`, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s, err := Parse([]byte("name: t\nstart: \"08:00\"\ntimezone: UTC\nduration: 6h\nregistry: {points: [{id: p, type: specialised}], stations: [{id: s, point: p, media: [air]}]}\nexpect:\n  - "+tt.yaml+"\n"), nil)
			if err != nil {
				t.Fatal(err)
			}
			obs, err := s.Expect[0].Check(t.Context(), env)
			if (err == nil) != tt.ok {
				t.Fatalf("%s: observed %q, err %v; want ok=%v", s.Expect[0], obs, err, tt.ok)
			}
		})
	}
	if _, err := Parse([]byte("name: t\nduration: 1h\nregistry: {points: [{id: p, type: specialised}], stations: [{id: s, point: p, media: [air]}]}\nexpect:\n  - {kind: alert, station: s}\n"), nil); err == nil {
		t.Error("an alert without rule parsed")
	}
}
