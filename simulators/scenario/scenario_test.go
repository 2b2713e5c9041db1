package scenario

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/envmon/envmon/simulators"
)

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// TestShippedScenariosParse: every shipped scenario parses, and Open finds
// it by name.
func TestShippedScenariosParse(t *testing.T) {
	t.Parallel()
	names := Names()
	want := []string{"faulty-sensor", "mobile-day", "night-construction", "pollution-episode", "station-outage", "water-pollution"}
	if !slices.Equal(names, want) {
		t.Fatalf("Names() = %v, want %v", names, want)
	}
	for _, n := range names {
		s, err := Open(n, nil)
		if err != nil {
			t.Fatalf("%s: %v", n, err)
		}
		if s.Name != n || s.Title == "" || s.Description == "" || len(s.Expect) == 0 {
			t.Errorf("%s: name %q, title %q, %d expectations", n, s.Name, s.Title, len(s.Expect))
		}
		for _, x := range s.Expect {
			if _, ok := x.(*aqi); ok {
				t.Errorf("%s: shipped scenarios must not expect AQI, which the API cannot serve yet", n)
			}
		}
	}
}

// TestParseErrors: mistakes in a scenario are reported with where they are.
func TestParseErrors(t *testing.T) {
	t.Parallel()
	const base = `name: t
duration: 2h
start: "10:00"
registry:
  points:
    - id: p1
      type: specialised
  stations:
    - {id: st-1, point: p1, media: [air]}
`
	tests := []struct {
		name, yaml, want string
	}{
		{"unknown top-level key", base + "colour: red\n", "field colour not found"},
		{"no name", strings.Replace(base, "name: t", "", 1), "name is required"},
		{"too long", strings.Replace(base, "2h", "30h", 1), "longer than a day"},
		{"bad start", strings.Replace(base, `"10:00"`, `"25:00"`, 1), "start"},
		{"bad medium", strings.Replace(base, "[air]", "[soil]", 1), `unknown medium "soil"`},
		{"specialised with two media", strings.Replace(base, "[air]", "[air, noise]", 1), "make it comprehensive"},
		{"mobile without route", strings.Replace(base, "type: specialised", "type: mobile", 1), "needs a route"},
		{"bad noise zone", strings.Replace(base, "[air]}", "[noise], noise_zone: \"5\"}", 1), `t.yaml:9: stations[0] (st-1): noise_zone "5" is not a GB 3096-2008 class`},
		{"no registry", strings.Replace(base, "registry:", "elsewhere:", 1), "field elsewhere not found"},
		{"registry unknown point", strings.Replace(base, "point: p1", "point: p2", 1), `t.yaml:9: stations[0] (st-1): point "p2" is not one of the file's points`},
		{"route of an unknown point", base + "routes:\n  p9: [{lat: 1, lon: 1, arrive: \"10:30\", stay: 10m}]\n", "routes: point p9 is not in the registry section"},
		{"route of a fixed point", base + "routes:\n  p1: [{lat: 1, lon: 1, arrive: \"10:30\", stay: 10m}]\n", "only a mobile station has a route"},
		{"publish of an unknown station", base + "publish:\n  st-9: {format: senml}\n", "publish: station st-9 is not in the registry section"},
		{"publish bad format", base + "publish:\n  st-1: {format: xml}\n", "publish: st-1:"},
		{"episode station unknown", base + "episodes:\n  - {kind: stuck, station: st-2}\n", "st-2 is not in the scenario"},
		{"episode without station", base + "episodes:\n  - {kind: stuck}\n", "name its station"},
		{"episode kind unknown", base + "episodes:\n  - {kind: meteor, station: st-1}\n", `"meteor" is not one of`},
		{"episode outside", base + "episodes:\n  - {kind: stuck, station: st-1, at: \"09:00\"}\n", "not within the scenario"},
		{"level without metric", base + "episodes:\n  - {kind: level, station: st-1, value: 3}\n", "needs the metrics"},
		{"expectation kind unknown", base + "expect:\n  - {kind: forecast, station: st-1}\n", `kind "forecast" is not one of alert, aqi, latest, qc, stat, status, stored`},
		{"expectation misspelt key", base + "expect:\n  - {kind: stored, station: st-1, metric: pm25, mni: 3}\n", "field mni not found"},
		{"expectation bad metric", base + "expect:\n  - {kind: stored, station: st-1, metric: pm2.5}\n", `"pm2.5" is not a metric`},
		{"expectation bad flag", base + "expect:\n  - {kind: qc, station: st-1, metric: pm25, fault: spike, flags: [wobbly]}\n", `"wobbly" is not a QC flag`},
		{"qc needs fault or clean", base + "expect:\n  - {kind: qc, station: st-1, metric: pm25}\n", "either fault"},
		{"stat needs bounds", base + "expect:\n  - {kind: stat, station: st-1, metric: pm25}\n", "give min, max"},
		{"empty window", base + "expect:\n  - {kind: stored, station: st-1, metric: pm25, from: \"11:00\", to: \"10:30\"}\n", "is empty"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := Parse([]byte(tt.yaml), nil)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Parse error %v, want one containing %q", err, tt.want)
			}
		})
	}
	if _, err := Parse([]byte(base), nil); err != nil {
		t.Fatalf("the base scenario does not parse: %v", err)
	}
}

// TestKindsPlugIn: a new kind of expectation registers without changing
// the others.
func TestKindsPlugIn(t *testing.T) {
	t.Parallel()
	k := NewKinds()
	type alert struct {
		Station string `yaml:"station"`
		Rule    string `yaml:"rule"`
	}
	err := k.Register("custom_alert", func(c *Context, node *yaml.Node) (Expectation, error) {
		var a alert
		if err := DecodeStrict(node, &a); err != nil {
			return nil, err
		}
		return fixed{"alert " + a.Rule + " at " + a.Station}, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := k.Register("stored", nil); err == nil {
		t.Error("registering a taken kind succeeded")
	}
	s, err := Parse([]byte(`name: t
duration: 1h
registry: {points: [{id: p, type: specialised}], stations: [{id: s, point: p, media: [air]}]}
expect:
  - {kind: custom_alert, station: s, rule: pm25-level-5}
  - {kind: status, station: s, status: online}
`), k)
	if err != nil {
		t.Fatal(err)
	}
	if got := s.Expect[0].String(); got != "alert pm25-level-5 at s" {
		t.Errorf("decoded %q", got)
	}
}

type fixed struct{ s string }

func (f fixed) String() string                              { return f.s }
func (f fixed) Check(context.Context, *Env) (string, error) { return "ok", nil }

// TestOffsets: scenario times are relative to the scenario's day and may
// cross midnight.
func TestOffsets(t *testing.T) {
	t.Parallel()
	c := &Context{s: &Scenario{StartOfDay: 20 * time.Hour, Duration: 12 * time.Hour}}
	for in, want := range map[string]time.Duration{
		"start": 0, "": 0, "20:00": 0, "23:30": 210 * time.Minute, "03:00": 7 * time.Hour, "08:00": 12 * time.Hour,
		"end": 12 * time.Hour, "+90m": 90 * time.Minute,
	} {
		got, err := c.Offset(in)
		if err != nil || got != want {
			t.Errorf("Offset(%q) = %s, %v; want %s", in, got, err, want)
		}
	}
	for _, bad := range []string{"09:00", "+13h", "7pm", "24:00", "+-1h"} {
		if _, err := c.Offset(bad); err == nil {
			t.Errorf("Offset(%q) succeeded", bad)
		}
	}
}

// TestLatestDayStart: the run starts on the latest day on which it ends
// before the wall clock, at its time of day, and never runs ahead.
func TestLatestDayStart(t *testing.T) {
	t.Parallel()
	loc := time.FixedZone("CST", 8*3600)
	now := time.Date(2026, 11, 22, 12, 4, 0, 0, loc)
	tests := []struct {
		tod, d time.Duration
		speed  float64
		want   time.Time
	}{
		{6 * time.Hour, 12 * time.Hour, 1000, time.Date(2026, 11, 21, 6, 0, 0, 0, loc)},
		{6 * time.Hour, 5 * time.Hour, 1000, time.Date(2026, 11, 22, 6, 0, 0, 0, loc)},
		{20 * time.Hour, 12 * time.Hour, 60, time.Date(2026, 11, 21, 20, 0, 0, 0, loc)},
		{20 * time.Hour, 12 * time.Hour, 1, time.Date(2026, 11, 21, 20, 0, 0, 0, loc)},
		{20 * time.Hour, 24 * time.Hour, 1000, time.Date(2026, 11, 20, 20, 0, 0, 0, loc)},
		{11 * time.Hour, 2 * time.Hour, 1, time.Date(2026, 11, 22, 11, 0, 0, 0, loc)},
		{13 * time.Hour, 2 * time.Hour, 1, time.Date(2026, 11, 21, 13, 0, 0, 0, loc)},
	}
	for _, tt := range tests {
		got := simulators.LatestDayStart(now, loc, tt.tod, tt.d, tt.speed)
		if !got.Equal(tt.want) {
			t.Errorf("LatestDayStart(%s for %s at ×%g) = %s, want %s", tt.tod, tt.d, tt.speed, got, tt.want)
		}
		if err := (simulators.Clock{Start: got, Wall: now, Speed: tt.speed}).Check(tt.d); err != nil {
			t.Errorf("%s: %v", got, err)
		}
	}
	if err := (simulators.Clock{Start: now.Add(-time.Hour), Wall: now, Speed: 10}).Check(2 * time.Hour); err == nil {
		t.Error("a clock that runs ahead of the wall passed Check")
	}
}

// nullConn is a connection to nowhere, for dry runs.
type nullConn struct{}

func (nullConn) Publish(context.Context, string, byte, bool, []byte) error { return nil }
func (nullConn) Drop()                                                     {}
func (nullConn) Close()                                                    {}

func nullDial(context.Context, string, string, string) (simulators.Conn, error) {
	return nullConn{}, nil
}

// ledgerAPI serves, from a ledger, the readings an ideal envmon would
// store: every reading delivered whole, once per timestamp, the last copy
// winning. It has no QC flags and every station is online.
func ledgerAPI(t *testing.T, l *Ledger) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		parts := strings.Split(strings.TrimPrefix(r.URL.Path, "/api/v1/stations/"), "/")
		station := parts[0]
		type key struct {
			medium string
			ts     int64
		}
		byTS := map[key]simulators.Sent{}
		for _, s := range l.Sent(station) {
			if s.Delivered && !s.Malformed {
				byTS[key{string(s.Medium), s.TS.UnixNano()}] = s
			}
		}
		var sorted []simulators.Sent
		for _, s := range byTS {
			sorted = append(sorted, s)
		}
		slices.SortFunc(sorted, func(a, b simulators.Sent) int { return a.TS.Compare(b.TS) })
		switch parts[1] {
		case "readings":
			metric := r.URL.Query().Get("metric")
			from, _ := time.Parse(time.RFC3339Nano, r.URL.Query().Get("from"))
			to, _ := time.Parse(time.RFC3339Nano, r.URL.Query().Get("to"))
			samples := []Sample{} // one per metric and time, as envmon's stores keep them
			for _, s := range sorted {
				if v, ok := s.Value(metric); ok && !s.TS.Before(from) && s.TS.Before(to) {
					if n := len(samples); n > 0 && samples[n-1].Time.Equal(s.TS) {
						samples = samples[:n-1]
					}
					samples = append(samples, Sample{Time: s.TS, Value: v})
				}
			}
			json.NewEncoder(w).Encode(map[string]any{"samples": samples})
		case "latest":
			vals := map[string]Value{}
			for _, s := range sorted {
				for _, v := range s.Values {
					vals[v.Metric] = Value{Value: v.Value, Time: s.TS}
				}
			}
			json.NewEncoder(w).Encode(StationLatest{Station: station, Status: "online", Values: vals})
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

// TestShippedScenariosAnyDay dry-runs every shipped scenario on 24 days
// through a year, without a broker, and checks the expectations about
// values (stat, stored, latest) against what an ideal envmon would have
// stored: the scenarios' physics hold whatever the season or weekday the
// run lands on.
func TestShippedScenariosAnyDay(t *testing.T) {
	t.Parallel()
	for _, name := range Names() {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			s, err := Open(name, nil)
			if err != nil {
				t.Fatal(err)
			}
			for i := range 24 { // twice a month, on every weekday in turn
				day := time.Date(2025, time.Month(i/2+1), 3+i/2+13*(i%2), 0, 0, 0, 0, s.Location)
				start := day.Add(s.StartOfDay)
				r, err := Run(context.Background(), s, RunConfig{
					Dial: nullDial, Speed: 1e9, Start: start, Logger: quiet(),
					Now: func() time.Time { return start.Add(48 * time.Hour) },
				})
				if err != nil {
					t.Fatal(err)
				}
				api := ledgerAPI(t, r.Ledger)
				var exps []Expectation
				for _, x := range s.Expect {
					switch x.(type) {
					case *stat, *stored, *latest:
						exps = append(exps, x)
					}
				}
				rep := Verify(context.Background(), name, exps, &Env{API: &Client{Base: api.URL}, Start: r.Start, End: r.End, Ledger: r.Ledger}, 0)
				for _, o := range rep.Results {
					if !o.OK() {
						t.Errorf("%s: %s: %v (%s)", start.Format("2006-01-02 Mon"), o.Expectation, o.Err, o.Observed)
					}
				}
			}
		})
	}
}
