package public

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"
	"github.com/go-chi/chi/v5"

	"github.com/envmon/envmon/api"
	"github.com/envmon/envmon/reading"
	"github.com/envmon/envmon/station"
)

func loadSpec(t *testing.T) *openapi3.T {
	t.Helper()
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(specJSON)
	if err != nil {
		t.Fatal(err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		t.Fatalf("the OpenAPI document is invalid: %v", err)
	}
	return doc
}

// TestSpecReasons: the document's Reason enum is exactly the package's.
func TestSpecReasons(t *testing.T) {
	doc := loadSpec(t)
	var got []string
	for _, v := range doc.Components.Schemas["Reason"].Value.Enum {
		if v != nil {
			got = append(got, fmt.Sprint(v))
		}
	}
	var want []string
	for _, r := range reasons {
		want = append(want, string(r))
	}
	sort.Strings(got)
	sort.Strings(want)
	if !slices.Equal(got, want) {
		t.Errorf("spec reasons %v, package reasons %v", got, want)
	}
}

// combined mounts the public routes beside api's own, as the lead will.
func combined(t *testing.T, f *fixture) http.Handler {
	t.Helper()
	reg := station.New(nil, false, discard())
	rs := []reading.Reading{{Point: "p1", Station: "st-1", Medium: reading.Air, Time: now0.Add(-time.Minute),
		Values: []reading.Value{{Metric: "pm25", Value: 31}}}}
	if err := reg.Admit("p1", "st-1", reading.Air); err != nil {
		t.Fatal(err)
	}
	reg.Observe(rs)
	base := api.Handler(api.Config{Stations: reg, Readings: f.store, Logger: discard(), Now: f.clock.Now})
	pub := f.svc.Handler()
	r := chi.NewRouter()
	for _, p := range Paths {
		r.Handle(p, pub)
	}
	r.Mount("/", base)
	return r
}

// TestSpecWalk is Must-show 1: every documented route answers as
// documented, and every response validates against its schema: the 200
// of each operation, each with its variants, and the 400 of each that
// documents one.
func TestSpecWalk(t *testing.T) {
	doc := loadSpec(t)
	f := newFixture(t, nil)
	srv := httptest.NewServer(combined(t, f))
	defer srv.Close()
	router, err := legacy.NewRouter(doc)
	if err != nil {
		t.Fatal(err)
	}
	variants := map[string][]string{ // extra queries per path, beyond the examples
		"/api/v1/aqi":                    {"", "standard=hj633-2012", "standard=epa-2024"},
		"/api/v1/stations/{id}/aqi":      {"", "report=daily", "standard=epa-2024", "report=daily&standard=hj633-2012", "from=2026-11-21T00:00:00Z"},
		"/api/v1/ranking":                {"", "metric=pm25", "standard=epa-2024"},
		"/api/v1/near":                   {"", "n=1", "standard=hj633-2012"},
		"/api/v1/stations/{id}/readings": {"", "every=1h&fn=max&from=2026-11-21T10:00:00%2B08:00&to=2026-11-22T10:00:00%2B08:00", "every=10m&fn=last"},
	}
	bad := map[string]string{ // a query that must get the documented 400
		"/api/v1/aqi":                    "standard=nope",
		"/api/v1/stations/{id}/aqi":      "from=2016-01-01T00:00:00Z&to=2026-01-01T00:00:00Z",
		"/api/v1/ranking":                "metric=nope",
		"/api/v1/near":                   "lat=100&lon=0",
		"/api/v1/stream":                 "standard=nope",
		"/api/v1/stations/{id}/readings": "metric=nope",
	}
	walked := 0
	for path, item := range doc.Paths.Map() {
		op := item.Get
		if op == nil {
			t.Errorf("%s: no GET", path)
			continue
		}
		u, base := expand(t, path, op)
		qs := variants[path]
		if qs == nil {
			qs = []string{""}
		}
		for _, extra := range qs {
			q := mergeQuery(base, extra)
			walked++
			check(t, srv.URL, router, path, u, q, http.StatusOK)
		}
		if _, documented := op.Responses.Map()["400"]; documented {
			b, ok := bad[path]
			if !ok {
				t.Errorf("%s documents 400 but the walk has no bad query for it", path)
				continue
			}
			check(t, srv.URL, router, path, u, mergeQuery(base, b), http.StatusBadRequest)
		}
	}
	if walked < 15 {
		t.Errorf("walked %d requests", walked)
	}
}

// expand fills path parameters and required query parameters from the
// document's examples.
func expand(t *testing.T, path string, op *openapi3.Operation) (string, url.Values) {
	q := url.Values{}
	u := path
	for _, pr := range op.Parameters {
		p := pr.Value
		ex := ""
		if p.Example != nil {
			ex = fmt.Sprint(p.Example)
		}
		switch {
		case p.In == "path":
			if ex == "" {
				t.Fatalf("%s: path parameter %s has no example", path, p.Name)
			}
			u = strings.ReplaceAll(u, "{"+p.Name+"}", url.PathEscape(ex))
		case p.In == "query" && p.Required:
			if ex == "" {
				t.Fatalf("%s: required parameter %s has no example", path, p.Name)
			}
			q.Set(p.Name, ex)
		}
	}
	return u, q
}

func mergeQuery(base url.Values, extra string) url.Values {
	q := url.Values{}
	for k, v := range base {
		q[k] = append([]string(nil), v...)
	}
	add, _ := url.ParseQuery(extra)
	for k, v := range add {
		q[k] = v
	}
	return q
}

func check(t *testing.T, server string, router routers.Router, path, u string, q url.Values, want int) {
	t.Helper()
	full := server + u
	if len(q) > 0 {
		full += "?" + q.Encode()
	}
	name := u + "?" + q.Encode()
	req, _ := http.NewRequest(http.MethodGet, full, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req = req.WithContext(ctx)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Errorf("%s: %v", name, err)
		return
	}
	defer res.Body.Close()
	var body []byte
	if res.Header.Get("Content-Type") == "text/event-stream" {
		// A stream never ends: validate its status and type, and read its
		// first event.
		buf := make([]byte, 4096)
		n, _ := res.Body.Read(buf)
		body = buf[:n]
		if !bytes.Contains(body, []byte("event: hello")) {
			t.Errorf("%s: first bytes %q", name, body)
		}
		body = []byte(`""`)
	} else {
		body, _ = io.ReadAll(res.Body)
	}
	if res.StatusCode != want {
		t.Errorf("%s: status %d, want %d: %s", name, res.StatusCode, want, body)
		return
	}
	// Route on the document's own path, so that the route is the one
	// documented.
	rreq, _ := http.NewRequest(http.MethodGet, u, nil)
	rreq.URL.RawQuery = q.Encode()
	route, params, err := router.FindRoute(rreq)
	if err != nil {
		t.Errorf("%s: no documented route: %v", name, err)
		return
	}
	if route.Path != path {
		t.Errorf("%s: routed to %s, want %s", name, route.Path, path)
	}
	in := &openapi3filter.RequestValidationInput{Request: rreq, PathParams: params, Route: route}
	if err := openapi3filter.ValidateRequest(ctx, in); err != nil && want == http.StatusOK {
		t.Errorf("%s: the request does not match the document: %v", name, err)
	}
	out := &openapi3filter.ResponseValidationInput{RequestValidationInput: in, Status: res.StatusCode, Header: res.Header,
		Options: &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true}}
	if res.Header.Get("Content-Type") == "text/event-stream" {
		out.Options.ExcludeResponseBody = true
	}
	out.SetBodyBytes(body)
	if err := openapi3filter.ValidateResponse(ctx, out); err != nil {
		t.Errorf("%s: response does not match its schema: %v\n%.600s", name, err, body)
	}
}
