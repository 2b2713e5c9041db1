package public

import (
	"bufio"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/envmon/envmon/reading"
)

// TestBadRequests is Must-show 4 and more: each bad parameter gets 400
// problem+json naming the parameter, never a 500.
func TestBadRequests(t *testing.T) {
	f := newFixture(t, nil)
	srv := f.server(t)
	tests := []struct {
		name, path, param, detail string
	}{
		{"unknown standard", "/api/v1/aqi?standard=hj633-1999", "standard", "hj633-2026, hj633-2012 or epa-2024"},
		{"unknown standard in history", "/api/v1/stations/st-1/aqi?standard=aqi-x", "standard", "not supported"},
		{"from after to", "/api/v1/stations/st-1/aqi?from=2026-11-22T10:00:00Z&to=2026-11-21T10:00:00Z", "from", "must be before to"},
		{"from equal to", "/api/v1/stations/st-1/aqi?from=2026-11-22T10:00:00Z&to=2026-11-22T10:00:00Z", "from", "must be before to"},
		{"range of ten years", "/api/v1/stations/st-1/aqi?from=2016-11-22T00:00:00Z&to=2026-11-22T00:00:00Z", "from", "longer than"},
		{"ten years daily", "/api/v1/stations/st-1/aqi?report=daily&from=2016-11-22T00:00:00Z&to=2026-11-22T00:00:00Z", "from", "longer than"},
		{"bad time", "/api/v1/stations/st-1/aqi?from=yesterday", "from", "RFC 3339"},
		{"bad to", "/api/v1/stations/st-1/aqi?to=99999999999999999999", "to", "RFC 3339"},
		{"unknown report", "/api/v1/stations/st-1/aqi?report=weekly", "report", "hourly or daily"},
		{"daily under epa", "/api/v1/stations/st-1/aqi?report=daily&standard=epa-2024", "standard", "hj633"},
		{"unknown metric", "/api/v1/ranking?metric=pm1", "metric", "cannot be ranked"},
		{"ranking unknown standard", "/api/v1/ranking?standard=x", "standard", "not supported"},
		{"near without lat", "/api/v1/near?lon=121", "lat", "required"},
		{"near lat out of range", "/api/v1/near?lat=91&lon=121", "lat", "-90 to 90"},
		{"near lon not a number", "/api/v1/near?lat=31&lon=east", "lon", "-180 to 180"},
		{"near n too large", "/api/v1/near?lat=31&lon=121&n=1000", "n", "1 to 100"},
		{"stream unknown standard", "/api/v1/stream?standard=foo", "standard", "not supported"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			res := mustGet(t, srv.URL+tc.path)
			defer res.Body.Close()
			if res.StatusCode != http.StatusBadRequest {
				t.Fatalf("status %d, want 400", res.StatusCode)
			}
			if ct := res.Header.Get("Content-Type"); ct != "application/problem+json" {
				t.Fatalf("Content-Type %q", ct)
			}
			var p problem
			if err := json.NewDecoder(res.Body).Decode(&p); err != nil {
				t.Fatal(err)
			}
			if p.Status != 400 || p.Param != tc.param || !strings.Contains(p.Detail, tc.detail) {
				t.Errorf("problem %+v: want param %q and detail containing %q", p, tc.param, tc.detail)
			}
		})
	}
}

func TestNotFound(t *testing.T) {
	srv := newFixture(t, nil).server(t)
	for _, path := range []string{"/api/v1/stations/nope/aqi", "/api/v1/stations/w-1/aqi"} {
		res := mustGet(t, srv.URL+path)
		res.Body.Close()
		if res.StatusCode != 404 || res.Header.Get("Content-Type") != "application/problem+json" {
			t.Errorf("%s: %d %s", path, res.StatusCode, res.Header.Get("Content-Type"))
		}
	}
}

// TestConditional: ETag and Last-Modified give 304; gzip has its own
// ETag; Cache-Control runs to the next update.
func TestConditional(t *testing.T) {
	f := newFixture(t, nil)
	srv := f.server(t)
	for _, enc := range []string{"", "gzip"} {
		res := mustGet(t, srv.URL+"/api/v1/aqi", "Accept-Encoding", enc)
		io.Copy(io.Discard, res.Body)
		res.Body.Close()
		etag, lm := res.Header.Get("ETag"), res.Header.Get("Last-Modified")
		if res.StatusCode != 200 || etag == "" || lm == "" {
			t.Fatalf("%q: %d etag %q last-modified %q", enc, res.StatusCode, etag, lm)
		}
		if got := res.Header.Get("Content-Encoding"); got != enc {
			t.Errorf("Content-Encoding %q, want %q", got, enc)
		}
		// now0 is 10:05; the next update is at 11:00, beyond MaxAge (60 s).
		if cc := res.Header.Get("Cache-Control"); cc != "public, max-age=60" {
			t.Errorf("Cache-Control %q", cc)
		}
		res = mustGet(t, srv.URL+"/api/v1/aqi", "Accept-Encoding", enc, "If-None-Match", etag)
		res.Body.Close()
		if res.StatusCode != http.StatusNotModified {
			t.Errorf("%q If-None-Match: %d, want 304", enc, res.StatusCode)
		}
		res = mustGet(t, srv.URL+"/api/v1/aqi", "Accept-Encoding", enc, "If-Modified-Since", lm)
		res.Body.Close()
		if res.StatusCode != http.StatusNotModified {
			t.Errorf("%q If-Modified-Since: %d, want 304", enc, res.StatusCode)
		}
	}
	res := mustGet(t, srv.URL+"/api/v1/aqi")
	res.Body.Close()
	etag := res.Header.Get("ETag")
	// Near the hour the max-age shrinks to the next update.
	f.clock.Set(reportEnd.Add(59*time.Minute + 30*time.Second))
	res = mustGet(t, srv.URL+"/api/v1/aqi")
	res.Body.Close()
	if cc := res.Header.Get("Cache-Control"); cc != "public, max-age=30" {
		t.Errorf("30 s before the next update: Cache-Control %q", cc)
	}
	// A late reading changes an hour that has ended: after the refresh
	// the ETag changes and the old one no longer gives 304.
	f.win.Add(lateReading(), cst)
	f.svc.Refresh()
	res = mustGet(t, srv.URL+"/api/v1/aqi", "If-None-Match", etag)
	res.Body.Close()
	if res.StatusCode != 200 || res.Header.Get("ETag") == etag {
		t.Errorf("after a change: %d etag %q (was %q)", res.StatusCode, res.Header.Get("ETag"), etag)
	}
}

// lateReading is a flagged PM2.5 sample in the last hour of st-1: it
// changes that hour's flagged count, and so its completeness.
func lateReading() reading.Reading {
	return reading.Reading{Point: "p1", Station: "st-1", Medium: reading.Air, Time: reportEnd.Add(-10*time.Minute + 45*time.Second),
		Values: []reading.Value{{Metric: "pm25", Value: 999, QC: 1}}}
}

// TestRateLimit: past the limit, 429 problem+json with Retry-After and
// rate-limit headers; a client cannot escape its limit with
// X-Forwarded-For unless its peer is a trusted proxy, nor by sending its
// requests to other paths (another Handler).
func TestRateLimit(t *testing.T) {
	f := newFixture(t, func(c *Config) {
		c.RateLimit, c.RateWindow = 3, time.Hour
		c.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}
	})
	// The parent router mounts a Handler per path: they share one limit.
	hs := []http.Handler{f.svc.Handler(), f.svc.Handler()}
	n := 0
	do := func(remote, xff string) *http.Response {
		h := hs[n%len(hs)]
		n++
		req, _ := http.NewRequest(http.MethodGet, "/api/v1/aqi", nil)
		req.RemoteAddr = remote
		if xff != "" {
			req.Header.Set("X-Forwarded-For", xff)
		}
		rec := newRecorder()
		h.ServeHTTP(rec, req)
		return rec.Result()
	}
	for i := range 3 {
		if res := do("192.0.2.1:1000", "198.51.100."+string(rune('1'+i))); res.StatusCode != 200 {
			t.Fatalf("request %d: %d", i, res.StatusCode)
		}
	}
	res := do("192.0.2.1:1001", "198.51.100.9")
	if res.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("4th request with a spoofed X-Forwarded-For: %d, want 429", res.StatusCode)
	}
	if res.Header.Get("Retry-After") == "" || res.Header.Get("X-RateLimit-Limit") != "3" || res.Header.Get("X-RateLimit-Remaining") != "0" {
		t.Errorf("429 headers: %v", res.Header)
	}
	if res.Header.Get("Content-Type") != "application/problem+json" {
		t.Errorf("429 Content-Type %q", res.Header.Get("Content-Type"))
	}
	// Behind a trusted proxy, each forwarded client has its own limit.
	for i := range 3 {
		if res := do("10.1.2.3:5000", "203.0.113.7, 10.9.9.9"); res.StatusCode != 200 {
			t.Fatalf("proxied request %d: %d", i, res.StatusCode)
		}
	}
	if res := do("10.1.2.3:5000", "203.0.113.7"); res.StatusCode != 429 {
		t.Errorf("4th proxied request of one client: %d", res.StatusCode)
	}
	if res := do("10.1.2.3:5000", "203.0.113.8"); res.StatusCode != 200 {
		t.Errorf("another client behind the proxy: %d", res.StatusCode)
	}
}

func TestClientIP(t *testing.T) {
	trusted := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("::1/128")}
	tests := []struct {
		name, remote string
		xff          []string
		want         string
	}{
		{"untrusted peer ignores header", "192.0.2.1:80", []string{"1.2.3.4"}, "192.0.2.1"},
		{"trusted peer", "10.0.0.1:80", []string{"1.2.3.4"}, "1.2.3.4"},
		{"right-most untrusted hop", "10.0.0.1:80", []string{"6.6.6.6, 1.2.3.4, 10.0.0.2"}, "1.2.3.4"},
		{"several headers", "10.0.0.1:80", []string{"6.6.6.6", "1.2.3.4"}, "1.2.3.4"},
		{"malformed hop", "10.0.0.1:80", []string{"1.2.3.4, junk"}, "10.0.0.1"},
		{"ipv6 loopback proxy", "[::1]:80", []string{"2001:db8::1"}, "2001:db8::1"},
		{"no header", "10.0.0.1:80", nil, "10.0.0.1"},
	}
	for _, tc := range tests {
		if got := clientIP(tc.remote, tc.xff, trusted); got != tc.want {
			t.Errorf("%s: %q, want %q", tc.name, got, tc.want)
		}
	}
}

func TestCORS(t *testing.T) {
	srv := newFixture(t, nil).server(t)
	req, _ := http.NewRequest(http.MethodOptions, srv.URL+"/api/v1/aqi", nil)
	req.Header.Set("Origin", "https://example.org")
	req.Header.Set("Access-Control-Request-Method", "GET")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 204 || res.Header.Get("Access-Control-Allow-Origin") != "*" || !strings.Contains(res.Header.Get("Access-Control-Allow-Methods"), "GET") {
		t.Errorf("preflight: %d %v", res.StatusCode, res.Header)
	}
	res = mustGet(t, srv.URL+"/api/v1/water", "Origin", "https://example.org")
	res.Body.Close()
	if res.Header.Get("Access-Control-Allow-Origin") != "*" || !strings.Contains(res.Header.Get("Access-Control-Expose-Headers"), "ETag") {
		t.Errorf("GET: %v", res.Header)
	}
}

// TestStream: a client of /api/v1/stream hears hello, then the station
// whose report a late reading changed.
func TestStream(t *testing.T) {
	f := newFixture(t, nil)
	srv := f.server(t)
	res := mustGet(t, srv.URL+"/api/v1/stream?standard=hj633-2026")
	defer res.Body.Close()
	if res.StatusCode != 200 || res.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("%d %s", res.StatusCode, res.Header.Get("Content-Type"))
	}
	events := make(chan [2]string, 16)
	go func() {
		sc := bufio.NewScanner(res.Body)
		sc.Buffer(nil, 1<<20)
		var ev, data string
		for sc.Scan() {
			line := sc.Text()
			switch {
			case strings.HasPrefix(line, "event: "):
				ev = strings.TrimPrefix(line, "event: ")
			case strings.HasPrefix(line, "data: "):
				data = strings.TrimPrefix(line, "data: ")
			case line == "" && ev != "":
				events <- [2]string{ev, data}
				ev, data = "", ""
			}
		}
		close(events)
	}()
	next := func() [2]string {
		select {
		case e, ok := <-events:
			if !ok {
				t.Fatal("stream closed")
			}
			return e
		case <-time.After(10 * time.Second):
			t.Fatal("no event")
		}
		return [2]string{}
	}
	if e := next(); e[0] != "hello" || !strings.Contains(e[1], `"standard":"hj633-2026"`) {
		t.Fatalf("first event %v", e)
	}
	f.win.Add(lateReading(), cst)
	f.svc.Refresh()
	e := next()
	var st struct {
		Station struct{ ID string }
		AQI     *int
	}
	if err := json.Unmarshal([]byte(e[1]), &st); err != nil || e[0] != "aqi" || st.Station.ID != "st-1" || st.AQI == nil {
		t.Fatalf("update event %v: %+v %v", e, st, err)
	}
}

// TestHead: HEAD answers as GET without a body, alone and mounted in a
// parent chi router.
func TestHead(t *testing.T) {
	f := newFixture(t, nil)
	for name, h := range map[string]http.Handler{"alone": f.svc.Handler(), "mounted": combined(t, f)} {
		req := httptest.NewRequest(http.MethodHead, "/api/v1/aqi", nil)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != 200 || rec.Header().Get("ETag") == "" {
			t.Errorf("%s: HEAD %d %v", name, rec.Code, rec.Header())
		}
	}
}
