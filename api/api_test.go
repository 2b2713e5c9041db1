package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/envmon/envmon/ingest"
	"github.com/envmon/envmon/internal/secret"
	"github.com/envmon/envmon/internal/testenv"
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
			if b["truncated"] != true || !strings.Contains(b["next"].(string), "to=2026-11-22T10%3A03%3A00Z") {
				t.Errorf("truncated = %v, next = %v: want true and a link to the older samples", b["truncated"], b["next"])
			}
		}},
		{"readings limit exact", "/api/v1/stations/st-1/readings?metric=pm25&limit=5", 200, "application/json", func(t *testing.T, b map[string]any) {
			if n := len(b["samples"].([]any)); n != 5 || b["truncated"] != false || b["next"] != nil {
				t.Errorf("samples = %d, truncated = %v, next = %v: want 5, false, null", n, b["truncated"], b["next"])
			}
		}},
		{"readings all", "/api/v1/stations/st-1/readings?metric=pm25", 200, "application/json", func(t *testing.T, b map[string]any) {
			if b["truncated"] != false || b["limit"] != float64(store.DefaultLimit) {
				t.Errorf("truncated = %v, limit = %v", b["truncated"], b["limit"])
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
		{"from after year 9999", "/api/v1/stations/st-1/readings?metric=pm25&from=253402300800000", 400, "application/problem+json", problemSays("from: a time in the year 10000")},
		{"to after year 9999", "/api/v1/stations/st-1/readings?metric=pm25&to=9999999999999999", 400, "application/problem+json", problemSays("to: a time in the year")},
		{"to before year 0", "/api/v1/stations/st-1/readings?metric=pm25&from=-62167219300000&to=-62167219200001", 400, "application/problem+json", problemSays("to: a time in the year -1")},
		{"default from before year 0", "/api/v1/stations/st-1/readings?metric=pm25&to=0000-01-01T01:00:00Z", 400, "application/problem+json", problemSays("from: the default")},
		{"year 0 and 9999 accepted", "/api/v1/stations/st-1/readings?metric=pm25&from=0000-01-01T00:00:00Z&to=9999-12-31T23:59:59Z", 200, "application/json", nil},
		{"api v2", "/api/v2/stations", 404, "application/problem+json", problemSays("/api/v2/stations")},
		{"api root", "/api", 404, "application/problem+json", problemSays("/api")},
		{"unknown file", "/nothing.html", 404, "application/problem+json", problemSays("/nothing.html")},
		{"long unknown path", "/" + strings.Repeat("x", 5000), 404, "application/problem+json", problemSays("xxx…")},
		{"stations bad limit", "/api/v1/stations?limit=1001", 400, "application/problem+json", problemSays("limit")},
		{"stations bad cursor", "/api/v1/stations?cursor=%21%21", 400, "application/problem+json", problemSays("cursor")},
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

func TestMethodNotAllowed(t *testing.T) {
	t.Parallel()
	srv := newServer(t)
	tests := []struct {
		method, path, allow string
		status              int
	}{
		{http.MethodPost, "/api/v1/stations", "GET, HEAD", 405},
		{http.MethodDelete, "/api/v1/stations/st-1", "GET, HEAD", 405},
		{http.MethodPut, "/api/v1/stations/st-1/readings", "GET, HEAD", 405},
		{http.MethodPost, "/healthz", "GET, HEAD", 405},
		{http.MethodHead, "/healthz", "", 200},
		{http.MethodHead, "/api/v1/stations", "", 200},
		{http.MethodPost, "/", "GET, HEAD", 405},
		{http.MethodPost, "/api/v2/stations", "", 404},
		{http.MethodHead, "/", "", 200},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.path, func(t *testing.T) {
			t.Parallel()
			req, _ := http.NewRequest(tt.method, srv.URL+tt.path, nil)
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(res.Body)
			res.Body.Close()
			if res.StatusCode != tt.status || res.Header.Get("Allow") != tt.allow {
				t.Fatalf("%s %s = %d, Allow %q; want %d, Allow %q", tt.method, tt.path, res.StatusCode, res.Header.Get("Allow"), tt.status, tt.allow)
			}
			if tt.status >= 400 {
				var p map[string]any
				if res.Header.Get("Content-Type") != "application/problem+json" || json.Unmarshal(body, &p) != nil || p["status"] != float64(tt.status) {
					t.Errorf("not a problem: %s %s", res.Header.Get("Content-Type"), body)
				}
			}
		})
	}
}

func TestStationsArePaginated(t *testing.T) {
	t.Parallel()
	var listed []station.Station
	for i := range 250 {
		listed = append(listed, station.Station{ID: fmt.Sprintf("st-%03d", i), Point: fmt.Sprintf("p%d", i%3), Media: []reading.Medium{reading.Air}})
	}
	reg := station.New(listed, true, nil)
	srv := httptest.NewServer(Handler(Config{Stations: reg, Readings: mem.New(), Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}))
	t.Cleanup(srv.Close)

	tests := []struct {
		name  string
		first string
		pages []int // stations per page
	}{
		{"default page", "/api/v1/stations", []int{100, 100, 50}},
		{"limit 120", "/api/v1/stations?limit=120", []int{120, 120, 10}},
		{"largest page", "/api/v1/stations?limit=1000", []int{250}},
		{"limit 1", "/api/v1/stations?limit=1", slices.Repeat([]int{1}, 250)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var ids, pages []int
			seen := map[string]bool{}
			prev := ""
			for next := tt.first; next != ""; {
				status, _, body := get(t, srv.URL+next)
				if status != 200 || body["total"] != 250.0 {
					t.Fatalf("GET %s = %d, total %v", next, status, body["total"])
				}
				ss := body["stations"].([]any)
				pages = append(pages, len(ss))
				for _, s := range ss {
					s := s.(map[string]any)
					key := s["point"].(string) + "/" + s["id"].(string)
					if seen[key] || key <= prev {
						t.Fatalf("station %s out of order or twice", key)
					}
					seen[key], prev = true, key
					ids = append(ids, 0)
				}
				next, _ = body["next"].(string)
				if len(pages) > 300 {
					t.Fatal("next links never end")
				}
			}
			if len(ids) != 250 || !slices.Equal(pages, tt.pages) {
				t.Errorf("got %d stations in pages %v, want 250 in %v", len(ids), pages, tt.pages)
			}
		})
	}
}

func TestReadingsNextLinksWalkBack(t *testing.T) {
	t.Parallel()
	srv := newServer(t)
	var values []float64
	for next := "/api/v1/stations/st-1/readings?metric=pm10&limit=2"; next != ""; {
		status, _, body := get(t, srv.URL+next)
		if status != 200 {
			t.Fatalf("GET %s = %d %v", next, status, body)
		}
		var page []float64
		for _, s := range body["samples"].([]any) {
			page = append(page, s.(map[string]any)["value"].(float64))
		}
		values = append(page, values...)
		next, _ = body["next"].(string)
		if truncated := body["truncated"] == true; truncated != (next != "") {
			t.Fatalf("truncated %v but next %q", truncated, next)
		}
	}
	if want := []float64{60, 61, 62, 63, 64}; !slices.Equal(values, want) {
		t.Errorf("walked %v, want %v", values, want)
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

// storeErr is what a store that does not answer says: its address, and
// more than the public should see.
const storeErr = "post http://influx.internal:8086/api/v2/query?org=city: dial tcp 10.0.0.7:8086: connection refused"

func (brokenStore) Query(context.Context, store.Query) ([]reading.Sample, error) {
	return nil, errors.New(storeErr)
}

// TestReadingsStoreDown: a store that does not answer gives 503, and its
// error goes to the log, not to the public.
func TestReadingsStoreDown(t *testing.T) {
	t.Parallel()
	reg := station.New([]station.Station{{ID: "st-1", Point: "p1", Media: []reading.Medium{reading.Air}}}, true, nil)
	var log testenv.SyncBuffer
	srv := httptest.NewServer(Handler(Config{Stations: reg, Readings: brokenStore{}, Logger: slog.New(slog.NewTextHandler(&log, nil))}))
	defer srv.Close()
	status, ct, body := get(t, srv.URL+"/api/v1/stations/st-1/readings?metric=pm25")
	if status != http.StatusServiceUnavailable || ct != "application/problem+json" {
		t.Fatalf("got %d %s %v", status, ct, body)
	}
	if detail := body["detail"].(string); strings.Contains(detail, "10.0.0.7") || strings.Contains(detail, "influx.internal") {
		t.Errorf("the public 503 names the store: %q", detail)
	}
	if !strings.Contains(log.String(), "connection refused") {
		t.Errorf("the store's error is not logged:\n%s", log.String())
	}
}

func TestRejectedNeedsAdminToken(t *testing.T) {
	t.Parallel()
	dead := ingest.NewDeadLetters(10)
	reg := station.New(nil, false, nil)
	srv := httptest.NewServer(Handler(Config{Stations: reg, Readings: mem.New(), DeadLetters: dead, AdminToken: secret.New("s3cret"),
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
