package api

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/envmon/envmon/ingest"
	"github.com/envmon/envmon/reading"
	"github.com/envmon/envmon/station"
	"github.com/envmon/envmon/store"
	"github.com/envmon/envmon/store/mem"
)

var t0 = time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)

func newServer(t *testing.T, ready ...Check) *httptest.Server {
	t.Helper()
	st := mem.New()
	reg := station.New(nil, false, slog.New(slog.NewTextHandler(io.Discard, nil)))
	var rs []reading.Reading
	for i := range 5 {
		rs = append(rs, reading.Reading{Point: "p1", Station: "st-1", Medium: reading.Air, Time: t0.Add(time.Duration(i) * time.Minute),
			Values: []reading.Value{{Metric: "pm10", Value: float64(60 + i)}, {Metric: "pm25", Value: float64(30 + i)}}})
	}
	if err := st.Write(context.Background(), rs); err != nil {
		t.Fatal(err)
	}
	for _, r := range rs {
		if err := reg.Admit(r.Point, r.Station, r.Medium); err != nil {
			t.Fatal(err)
		}
	}
	reg.Observe(rs)
	srv := httptest.NewServer(Handler(Config{
		Stations: reg, Readings: st, Ready: ready,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Now:    func() time.Time { return t0.Add(time.Hour) },
	}))
	t.Cleanup(srv.Close)
	return srv
}

func get(t *testing.T, url string) (int, string, map[string]any) {
	t.Helper()
	res, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	var out map[string]any
	if strings.Contains(res.Header.Get("Content-Type"), "json") {
		if err := json.Unmarshal(body, &out); err != nil {
			t.Fatalf("bad JSON %q: %v", body, err)
		}
	}
	return res.StatusCode, res.Header.Get("Content-Type"), out
}

func TestAPI(t *testing.T) {
	t.Parallel()
	srv := newServer(t)
	tests := []struct {
		name        string
		path        string
		status      int
		contentType string
		check       func(t *testing.T, body map[string]any)
	}{
		{"list", "/api/v1/stations", 200, "application/json", func(t *testing.T, b map[string]any) {
			ss := b["stations"].([]any)
			if len(ss) != 1 {
				t.Fatalf("stations = %v", ss)
			}
			s := ss[0].(map[string]any)
			pm25 := s["latest"].(map[string]any)["pm25"].(map[string]any)
			if s["id"] != "st-1" || pm25["value"] != 34.0 || pm25["unit"] != "µg/m³" {
				t.Errorf("station = %v", s)
			}
		}},
		{"one", "/api/v1/stations/st-1", 200, "application/json", func(t *testing.T, b map[string]any) {
			if b["point"] != "p1" {
				t.Errorf("station = %v", b)
			}
		}},
		{"latest", "/api/v1/stations/st-1/latest", 200, "application/json", func(t *testing.T, b map[string]any) {
			v := b["values"].(map[string]any)["pm10"].(map[string]any)
			if v["value"] != 64.0 || v["time"] != "2026-11-22T10:04:00Z" {
				t.Errorf("latest = %v", b)
			}
		}},
		{"readings", "/api/v1/stations/st-1/readings?metric=pm25", 200, "application/json", func(t *testing.T, b map[string]any) {
			if n := len(b["samples"].([]any)); n != 5 {
				t.Errorf("samples = %d, want 5", n)
			}
		}},
		{"readings window", "/api/v1/stations/st-1/readings?metric=pm25&from=2026-11-22T10:01:00Z&to=2026-11-22T10:03:00Z", 200, "application/json", func(t *testing.T, b map[string]any) {
			ss := b["samples"].([]any)
			if len(ss) != 2 || ss[0].(map[string]any)["value"] != 31.0 {
				t.Errorf("samples = %v, want 10:01 and 10:02", ss)
			}
		}},
		{"readings limit", "/api/v1/stations/st-1/readings?metric=pm25&limit=2", 200, "application/json", func(t *testing.T, b map[string]any) {
			ss := b["samples"].([]any)
			if len(ss) != 2 || ss[1].(map[string]any)["value"] != 34.0 {
				t.Errorf("samples = %v, want the newest two", ss)
			}
		}},
		{"unknown station", "/api/v1/stations/nope", 404, "application/problem+json", problemSays("nope")},
		{"no metric", "/api/v1/stations/st-1/readings", 400, "application/problem+json", problemSays("metric is required")},
		{"unknown metric", "/api/v1/stations/st-1/readings?metric=pm1", 400, "application/problem+json", problemSays(`"pm1"`)},
		{"bad from", "/api/v1/stations/st-1/readings?metric=pm25&from=yesterday", 400, "application/problem+json", problemSays("from:")},
		{"from after to", "/api/v1/stations/st-1/readings?metric=pm25&from=2026-11-23T00:00:00Z&to=2026-11-22T00:00:00Z", 400, "application/problem+json", problemSays("before")},
		{"bad limit", "/api/v1/stations/st-1/readings?metric=pm25&limit=-3", 400, "application/problem+json", problemSays("limit")},
		{"huge limit", "/api/v1/stations/st-1/readings?metric=pm25&limit=100000000", 400, "application/problem+json", problemSays("limit")},
		{"no route", "/api/v1/nothing", 404, "application/problem+json", problemSays("/api/v1/nothing")},
		{"healthz", "/healthz", 200, "application/json", nil},
		{"readyz", "/readyz", 200, "application/json", nil},
		{"metrics", "/metrics", 200, "text/plain", nil},
		{"page", "/", 200, "text/html", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			status, ct, body := get(t, srv.URL+tt.path)
			if status != tt.status || !strings.HasPrefix(ct, tt.contentType) {
				t.Fatalf("GET %s = %d %s, want %d %s (%v)", tt.path, status, ct, tt.status, tt.contentType, body)
			}
			if tt.check != nil {
				tt.check(t, body)
			}
		})
	}
}

func problemSays(s string) func(t *testing.T, b map[string]any) {
	return func(t *testing.T, b map[string]any) {
		t.Helper()
		if d, _ := b["detail"].(string); !strings.Contains(d, s) || b["status"] == nil || b["title"] == nil {
			t.Errorf("problem = %v, want detail containing %q", b, s)
		}
	}
}

func TestReadyzReportsFailures(t *testing.T) {
	t.Parallel()
	srv := newServer(t,
		Check{Name: "broker", Check: func(context.Context) error { return errors.New("not connected") }},
		Check{Name: "store", Check: func(context.Context) error { return nil }})
	status, _, body := get(t, srv.URL+"/readyz")
	if status != http.StatusServiceUnavailable || body["broker"] != "not connected" || body["store"] != "ok" {
		t.Fatalf("readyz = %d %v", status, body)
	}
}

// brokenStore fails every query, as an unreachable store would.
type brokenStore struct{ store.Store }

func (brokenStore) Query(context.Context, store.Query) ([]reading.Sample, error) {
	return nil, errors.New("connection refused")
}

func TestReadingsStoreDown(t *testing.T) {
	t.Parallel()
	reg := station.New([]station.Station{{ID: "st-1", Point: "p1", Media: []reading.Medium{reading.Air}}}, true, nil)
	srv := httptest.NewServer(Handler(Config{Stations: reg, Readings: brokenStore{}, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}))
	defer srv.Close()
	status, ct, body := get(t, srv.URL+"/api/v1/stations/st-1/readings?metric=pm25")
	if status != http.StatusServiceUnavailable || ct != "application/problem+json" || !strings.Contains(body["detail"].(string), "connection refused") {
		t.Fatalf("got %d %s %v", status, ct, body)
	}
}

func TestRejectedNeedsAdminToken(t *testing.T) {
	t.Parallel()
	dead := ingest.NewDeadLetters(10)
	reg := station.New(nil, false, nil)
	srv := httptest.NewServer(Handler(Config{Stations: reg, Readings: mem.New(), DeadLetters: dead, AdminToken: "s3cret",
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}))
	defer srv.Close()
	disabled := httptest.NewServer(Handler(Config{Stations: reg, Readings: mem.New(), DeadLetters: dead, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}))
	defer disabled.Close()

	tests := []struct {
		name, url, token string
		status           int
	}{
		{"no token", srv.URL, "", http.StatusUnauthorized},
		{"wrong token", srv.URL, "guess", http.StatusUnauthorized},
		{"right token", srv.URL, "s3cret", http.StatusOK},
		{"disabled", disabled.URL, "s3cret", http.StatusForbidden},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequest("GET", tt.url+"/api/v1/ingest/rejected", nil)
			if tt.token != "" {
				req.Header.Set("Authorization", "Bearer "+tt.token)
			}
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(res.Body)
			res.Body.Close()
			if res.StatusCode != tt.status {
				t.Fatalf("status %d, want %d: %s", res.StatusCode, tt.status, body)
			}
			if res.StatusCode != 200 && res.Header.Get("Content-Type") != "application/problem+json" {
				t.Errorf("error is not a problem: %s", res.Header.Get("Content-Type"))
			}
			if strings.Contains(string(body), "s3cret") {
				t.Error("token leaked into the response")
			}
		})
	}
}

func TestQCFlagsShown(t *testing.T) {
	t.Parallel()
	st := mem.New()
	reg := station.New(nil, false, nil)
	rs := []reading.Reading{{Point: "p", Station: "s", Medium: reading.Air, Time: t0,
		Values: []reading.Value{{Metric: "pm25", Value: -999, QC: reading.FlagSentinel}, {Metric: "pm10", Value: 50}}}}
	if err := st.Write(context.Background(), rs); err != nil {
		t.Fatal(err)
	}
	reg.Observe(rs)
	srv := httptest.NewServer(Handler(Config{Stations: reg, Readings: st, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Now: func() time.Time { return t0.Add(time.Minute) }}))
	defer srv.Close()
	_, _, body := get(t, srv.URL+"/api/v1/stations/s/latest")
	vals := body["values"].(map[string]any)
	if qc := vals["pm25"].(map[string]any)["qc"].([]any); len(qc) != 1 || qc[0] != "sentinel" {
		t.Errorf("pm25 qc = %v", qc)
	}
	if qc := vals["pm10"].(map[string]any)["qc"].([]any); len(qc) != 0 {
		t.Errorf("pm10 qc = %v, want []", qc)
	}
	_, _, body = get(t, srv.URL+"/api/v1/stations/s/readings?metric=pm25")
	if qc := body["samples"].([]any)[0].(map[string]any)["qc"].([]any); len(qc) != 1 || qc[0] != "sentinel" {
		t.Errorf("sample qc = %v", qc)
	}
}
