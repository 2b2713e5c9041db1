package open311_test

import (
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/envmon/envmon/auth"
	"github.com/envmon/envmon/cases"
	"github.com/envmon/envmon/cases/open311"
	"github.com/envmon/envmon/cases/pii"
	"github.com/envmon/envmon/db"
	"github.com/envmon/envmon/db/dbtest"
	"github.com/envmon/envmon/station"
	"github.com/envmon/envmon/station/demo"
)

var shanghai, _ = time.LoadLocation("Asia/Shanghai")

// clock is the controllable clock, as in package cases' tests.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

func at(s string) time.Time {
	t, err := time.ParseInLocation("2006-01-02 15:04", s, shanghai)
	if err != nil {
		panic(err)
	}
	return t
}

// The test complainant; none of this may be in a public response.
const (
	cFirst = "Zhao"
	cLast  = "Xiaolan"
	cPhone = "13912345678"
	cEmail = "zhao.xiaolan@example.invalid"
)

func noPII(t *testing.T, where, s string) {
	t.Helper()
	for _, p := range []string{cFirst + " " + cLast, cLast, cPhone, "1391234", cEmail} {
		if strings.Contains(s, p) {
			t.Errorf("%s holds %q in clear: %s", where, p, s)
		}
	}
}

// fixture is the endpoint over a real case queue on SQLite, with the
// demo registry.
type fixture struct {
	h     http.Handler
	svc   *cases.Service
	clock *clock
}

func newFixture(t *testing.T, o cases.Open311Config) *fixture {
	t.Helper()
	d, err := db.Open(t.Context(), dbtest.SQLite(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	f, err := demo.Registry()
	if err != nil {
		t.Fatal(err)
	}
	reg := station.New(f.Stations, true, slog.New(slog.DiscardHandler), station.WithFile(f))
	c := &clock{t: at("2026-05-08 14:00")}
	svc, err := cases.New(t.Context(), cases.Config{DB: d, Registry: reg, Keys: pii.New(), DefaultTeam: "t-hexi",
		Now: c.Now, Open311: o, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	// Every request of a test comes from one address: no rate limit here
	// but in TestRateLimit's.
	return &fixture{h: open311.NewHandler(svc, open311.Config{RateLimit: -1}), svc: svc, clock: c}
}

type resp struct {
	code       int
	ct         string
	body       string
	retryAfter string
}

// do sends a request; a non-nil form is the POST body.
func (f *fixture) do(t *testing.T, method, target string, form url.Values) resp {
	t.Helper()
	return f.doFrom(t, "", method, target, form)
}

// doFrom is do from the peer address remote; "" is httptest's.
func (f *fixture) doFrom(t *testing.T, remote, method, target string, form url.Values) resp {
	t.Helper()
	var r *http.Request
	if form != nil {
		r = httptest.NewRequest(method, target, strings.NewReader(form.Encode()))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	} else {
		r = httptest.NewRequest(method, target, nil)
	}
	if remote != "" {
		r.RemoteAddr = remote
	}
	w := httptest.NewRecorder()
	f.h.ServeHTTP(w, r)
	b, _ := io.ReadAll(w.Result().Body)
	return resp{w.Code, w.Header().Get("Content-Type"), string(b), w.Header().Get("Retry-After")}
}

// decode reads body as JSON or XML, by format, and checks the content
// type and, for XML, the declaration.
func decode(t *testing.T, f string, r resp, v any) {
	t.Helper()
	switch f {
	case "json":
		if !strings.HasPrefix(r.ct, "application/json") {
			t.Errorf("JSON answered as %q", r.ct)
		}
		if err := json.Unmarshal([]byte(r.body), v); err != nil {
			t.Fatalf("JSON: %v\n%s", err, r.body)
		}
	case "xml":
		if !strings.HasPrefix(r.ct, "text/xml") {
			t.Errorf("XML answered as %q", r.ct)
		}
		if !strings.HasPrefix(r.body, "<?xml") {
			t.Errorf("XML without its declaration: %.60s", r.body)
		}
		if err := xml.Unmarshal([]byte(r.body), v); err != nil {
			t.Fatalf("XML: %v\n%s", err, r.body)
		}
	}
}

// apiErrors is the spec's error array, in JSON or XML (<errors><error>).
type apiErrors struct {
	XMLName xml.Name `xml:"errors"`
	Errors  []struct {
		Code        int    `json:"code" xml:"code"`
		Description string `json:"description" xml:"description"`
	} `xml:"error"`
}

// wantError checks that r is status code with the spec's error array
// holding that code and a description.
func wantError(t *testing.T, f, what string, r resp, code int) {
	t.Helper()
	if r.code != code {
		t.Errorf("%s: %d %s; want %d", what, r.code, r.body, code)
		return
	}
	var e apiErrors
	if f == "json" {
		decode(t, f, r, &e.Errors)
	} else {
		decode(t, f, r, &e)
	}
	if len(e.Errors) != 1 || e.Errors[0].Code != code || e.Errors[0].Description == "" {
		t.Errorf("%s: the error array is %+v; want one error with code %d and a description (%s)", what, e.Errors, code, r.body)
	}
}

var formats = []string{"json", "xml"}

type endpointOut struct {
	Specification string   `json:"specification" xml:"specification"`
	URL           string   `json:"url" xml:"url"`
	Changeset     string   `json:"changeset" xml:"changeset"`
	Type          string   `json:"type" xml:"type"`
	Formats       []string `json:"formats" xml:"formats>format"`
}

type discoveryOut struct {
	XMLName    xml.Name      `json:"-" xml:"discovery"`
	Changeset  string        `json:"changeset" xml:"changeset"`
	Contact    string        `json:"contact" xml:"contact"`
	KeyService string        `json:"key_service" xml:"key_service"`
	Endpoints  []endpointOut `json:"endpoints" xml:"endpoints>endpoint"`
}

// TestDiscovery: the discovery document, whose XML root is <discovery>
// as the Service Discovery spec's example has it.
func TestDiscovery(t *testing.T) {
	fx := newFixture(t, cases.Open311Config{})
	for _, f := range formats {
		t.Run(f, func(t *testing.T) {
			r := fx.do(t, "GET", "/open311/v2/discovery."+f, nil)
			if r.code != 200 {
				t.Fatalf("%d %s", r.code, r.body)
			}
			var d discoveryOut
			decode(t, f, r, &d)
			if d.Changeset == "" || d.Contact == "" || len(d.Endpoints) != 1 {
				t.Fatalf("discovery %+v", d)
			}
			ep := d.Endpoints[0]
			if ep.Specification != "http://wiki.open311.org/GeoReport_v2" || ep.URL != "http://example.com/open311/v2" || ep.Type != "production" ||
				!slices.Contains(ep.Formats, "text/xml") || !slices.Contains(ep.Formats, "application/json") {
				t.Errorf("endpoint %+v", ep)
			}
			if _, err := time.Parse(time.RFC3339, ep.Changeset); err != nil {
				t.Errorf("changeset %q is not W3C: %v", ep.Changeset, err)
			}
		})
	}
}

type serviceOut struct {
	Code        string `json:"service_code" xml:"service_code"`
	Name        string `json:"service_name" xml:"service_name"`
	Description string `json:"description" xml:"description"`
	Metadata    bool   `json:"metadata" xml:"metadata"`
	Type        string `json:"type" xml:"type"`
	Keywords    string `json:"keywords" xml:"keywords"`
	Group       string `json:"group" xml:"group"`
}

type servicesXML struct {
	XMLName  xml.Name     `xml:"services"`
	Services []serviceOut `xml:"service"`
}

// TestServices: the service list, one per case category, in both formats.
func TestServices(t *testing.T) {
	fx := newFixture(t, cases.Open311Config{})
	for _, f := range formats {
		t.Run(f, func(t *testing.T) {
			r := fx.do(t, "GET", "/open311/v2/services."+f, nil)
			if r.code != 200 {
				t.Fatalf("%d %s", r.code, r.body)
			}
			var got []serviceOut
			if f == "json" {
				decode(t, f, r, &got)
			} else {
				var x servicesXML
				decode(t, f, r, &x)
				got = x.Services
			}
			var codes []string
			for _, s := range got {
				codes = append(codes, s.Code)
				if s.Name == "" || s.Description == "" || !s.Metadata || s.Type != "realtime" || s.Group == "" {
					t.Errorf("service %+v: want a name, a description, metadata true, type realtime, a group", s)
				}
			}
			if !slices.Equal(codes, cases.Categories) {
				t.Errorf("service codes %v, want the categories %v", codes, cases.Categories)
			}
		})
	}
}

type definitionOut struct {
	XMLName    xml.Name `json:"-" xml:"service_definition"`
	Code       string   `json:"service_code" xml:"service_code"`
	Attributes []struct {
		Variable bool   `json:"variable" xml:"variable"`
		Code     string `json:"code" xml:"code"`
		Datatype string `json:"datatype" xml:"datatype"`
		Required bool   `json:"required" xml:"required"`
		Order    int    `json:"order" xml:"order"`
		Desc     string `json:"description" xml:"description"`
		Values   []struct {
			Key  string `json:"key" xml:"key"`
			Name string `json:"name" xml:"name"`
		} `json:"values" xml:"values>value"`
	} `json:"attributes" xml:"attributes>attribute"`
}

// TestServiceDefinition: services/{code} for every code in both formats,
// with the point and public_name attributes; an unknown code is 404.
func TestServiceDefinition(t *testing.T) {
	fx := newFixture(t, cases.Open311Config{})
	for _, f := range formats {
		for _, code := range cases.Categories {
			t.Run(f+"/"+code, func(t *testing.T) {
				r := fx.do(t, "GET", "/open311/v2/services/"+code+"."+f, nil)
				if r.code != 200 {
					t.Fatalf("%d %s", r.code, r.body)
				}
				var d definitionOut
				decode(t, f, r, &d)
				if d.Code != code || len(d.Attributes) != 2 {
					t.Fatalf("definition %+v", d)
				}
				pt, pub := d.Attributes[0], d.Attributes[1]
				if pt.Code != "point" || pt.Datatype != "string" || pt.Required || !pt.Variable || pt.Order != 1 || pt.Desc == "" {
					t.Errorf("the point attribute %+v", pt)
				}
				if pub.Code != "public_name" || pub.Datatype != "singlevaluelist" || len(pub.Values) != 2 || pub.Values[0].Key != "no" || pub.Values[1].Key != "yes" {
					t.Errorf("the public_name attribute %+v", pub)
				}
			})
		}
		t.Run(f+"/unknown", func(t *testing.T) {
			wantError(t, f, "services/fire", fx.do(t, "GET", "/open311/v2/services/fire."+f, nil), 404)
		})
	}
}

type receiptOut struct {
	ID     string `json:"service_request_id" xml:"service_request_id"`
	Token  string `json:"token" xml:"token"`
	Notice string `json:"service_notice" xml:"service_notice"`
}

type receiptsXML struct {
	XMLName  xml.Name     `xml:"service_requests"`
	Requests []receiptOut `xml:"request"`
}

func complaint(code string) url.Values {
	return url.Values{"service_code": {code}, "lat": {"30.65987"}, "long": {"104.06712"}, "description": {"Black smoke; call " + cPhone},
		"first_name": {cFirst}, "last_name": {cLast}, "phone": {cPhone}, "email": {cEmail}}
}

// post files a complaint and returns its receipt.
func (f *fixture) post(t *testing.T, format string, form url.Values) receiptOut {
	t.Helper()
	r := f.do(t, "POST", "/open311/v2/requests."+format, form)
	if r.code != 201 {
		t.Fatalf("POST requests.%s: %d %s", format, r.code, r.body)
	}
	noPII(t, "the POST answer", r.body)
	var rs []receiptOut
	if format == "json" {
		decode(t, format, r, &rs)
	} else {
		var x receiptsXML
		decode(t, format, r, &x)
		rs = x.Requests
	}
	if len(rs) != 1 || !strings.HasPrefix(rs[0].ID, "sr-") || rs[0].Token == "" || rs[0].Notice == "" {
		t.Fatalf("receipt %+v", rs)
	}
	return rs[0]
}

// TestPostRequest: a complaint by location or by service point is filed
// in both formats; malformed ones are 400 with the spec's error array.
func TestPostRequest(t *testing.T) {
	fx := newFixture(t, cases.Open311Config{})
	for _, f := range formats {
		t.Run(f, func(t *testing.T) {
			rc := fx.post(t, f, complaint("air"))
			byPoint := url.Values{"service_code": {"noise"}, "attribute[point]": {"p-industrial"}, "description": {"Night works"}}
			rp := fx.post(t, f, byPoint)
			admin := auth.Principal{Role: auth.Admin, TokenID: "test"}
			page, err := fx.svc.List(t.Context(), admin, cases.Query{Source: cases.SourceOpen311, Limit: 500})
			if err != nil {
				t.Fatal(err)
			}
			found := map[string]*cases.Case{}
			for _, c := range page.Cases {
				got, err := fx.svc.Get(t.Context(), admin, c.ID)
				if err != nil {
					t.Fatal(err)
				}
				for _, x := range got.Complainants {
					found[x.RequestID] = got
				}
			}
			if c := found[rc.ID]; c == nil || c.Category != "air" || c.Team != "t-civic-street" {
				t.Errorf("the located complaint %s: case %+v; want air, routed by the nearest station to t-civic-street", rc.ID, c)
			} else if x := c.Complainants[len(c.Complainants)-1]; x.Name != cFirst+" "+cLast || x.Phone != cPhone || x.Email != cEmail {
				t.Errorf("the complainant was not kept for the team: %+v", x)
			}
			if c := found[rp.ID]; c == nil || c.Category != "noise" || c.Team != "t-industrial" {
				t.Errorf("the complaint naming p-industrial: case %+v; want noise, team t-industrial", c)
			}
			for _, tt := range []struct {
				name string
				form url.Values
			}{
				{"no service_code", url.Values{"lat": {"30.66"}, "long": {"104.07"}}},
				{"unknown service_code", url.Values{"service_code": {"fire"}, "lat": {"30.66"}, "long": {"104.07"}}},
				{"lat without long", url.Values{"service_code": {"air"}, "lat": {"30.66"}}},
				{"lat not a number", url.Values{"service_code": {"air"}, "lat": {"north"}, "long": {"104.07"}}},
				{"off the Earth", url.Values{"service_code": {"air"}, "lat": {"91"}, "long": {"104.07"}}},
				{"no location", url.Values{"service_code": {"air"}, "description": {"somewhere"}}},
				{"unknown point", url.Values{"service_code": {"air"}, "attribute[point]": {"p-atlantis"}}},
			} {
				wantError(t, f, tt.name, fx.do(t, "POST", "/open311/v2/requests."+f, tt.form), 400)
			}
		})
	}
}

// TestAPIKey: with keys configured, a POST needs one of them (403
// otherwise); reading needs none.
func TestAPIKey(t *testing.T) {
	fx := newFixture(t, cases.Open311Config{APIKeys: []string{"key-one", "key-two"}})
	for _, f := range formats {
		t.Run(f, func(t *testing.T) {
			for _, tt := range []struct {
				name, key string
				code      int
			}{{"no key", "", 403}, {"a wrong key", "key-three", 403}, {"a prefix of a key", "key-tw", 403}, {"the second key", "key-two", 201}} {
				form := complaint("water")
				if tt.key != "" {
					form.Set("api_key", tt.key)
				}
				r := fx.do(t, "POST", "/open311/v2/requests."+f, form)
				if tt.code == 201 {
					if r.code != 201 {
						t.Errorf("%s: %d %s", tt.name, r.code, r.body)
					}
					continue
				}
				wantError(t, f, tt.name, r, tt.code)
			}
			if r := fx.do(t, "GET", "/open311/v2/requests."+f, nil); r.code != 200 {
				t.Errorf("GET requests without a key: %d %s", r.code, r.body)
			}
		})
	}
	// Without keys configured, a POST needs none.
	open := newFixture(t, cases.Open311Config{})
	open.post(t, "json", complaint("air"))
}

// TestJurisdiction: another jurisdiction_id is refused with 404 on every
// endpoint; ours, or none, is served.
func TestJurisdiction(t *testing.T) {
	fx := newFixture(t, cases.Open311Config{Jurisdiction: "qingshui"})
	rc := fx.post(t, "json", complaint("air"))
	for _, f := range formats {
		for _, target := range []string{"discovery", "services", "services/air", "requests", "requests/" + rc.ID, "tokens/" + rc.Token} {
			t.Run(f+"/"+target, func(t *testing.T) {
				u := "/open311/v2/" + target + "." + f
				wantError(t, f, "GET "+target+" elsewhere", fx.do(t, "GET", u+"?jurisdiction_id=elsewhere", nil), 404)
				for _, q := range []string{"", "?jurisdiction_id=qingshui"} {
					if r := fx.do(t, "GET", u+q, nil); r.code != 200 {
						t.Errorf("GET %s%s: %d %s", u, q, r.code, r.body)
					}
				}
			})
		}
		t.Run(f+"/POST", func(t *testing.T) {
			form := complaint("air")
			form.Set("jurisdiction_id", "elsewhere")
			wantError(t, f, "POST elsewhere", fx.do(t, "POST", "/open311/v2/requests."+f, form), 404)
			form.Set("jurisdiction_id", "qingshui")
			fx.post(t, f, form)
		})
	}
}

type requestOut struct {
	ID          string   `json:"service_request_id" xml:"service_request_id"`
	Status      string   `json:"status" xml:"status"`
	StatusNotes string   `json:"status_notes" xml:"status_notes"`
	ServiceName string   `json:"service_name" xml:"service_name"`
	ServiceCode string   `json:"service_code" xml:"service_code"`
	Description string   `json:"description" xml:"description"`
	Agency      string   `json:"agency_responsible" xml:"agency_responsible"`
	Requested   string   `json:"requested_datetime" xml:"requested_datetime"`
	Updated     string   `json:"updated_datetime" xml:"updated_datetime"`
	Expected    string   `json:"expected_datetime" xml:"expected_datetime"`
	Address     string   `json:"address" xml:"address"`
	Lat         *float64 `json:"lat" xml:"lat"`
	Long        *float64 `json:"long" xml:"long"`
	Extended    *struct {
		SubStatus    string `json:"sub_status" xml:"sub_status"`
		Corroborated bool   `json:"corroborated" xml:"corroborated"`
		Name         string `json:"complainant_first_name" xml:"complainant_first_name"`
	} `json:"extended_attributes" xml:"extended_attributes"`
}

type requestsXML struct {
	XMLName  xml.Name     `xml:"service_requests"`
	Requests []requestOut `xml:"request"`
}

func (f *fixture) requests(t *testing.T, format, target string) []requestOut {
	t.Helper()
	r := f.do(t, "GET", target, nil)
	if r.code != 200 {
		t.Fatalf("GET %s: %d %s", target, r.code, r.body)
	}
	noPII(t, "GET "+target, r.body)
	var rs []requestOut
	if format == "json" {
		decode(t, format, r, &rs)
	} else {
		var x requestsXML
		decode(t, format, r, &x)
		rs = x.Requests
	}
	return rs
}

func ids(rs []requestOut) []string {
	var out []string
	for _, r := range rs {
		out = append(out, r.ID)
	}
	return out
}

// TestGetRequests: GET requests and requests/{id}, in both formats, with
// the spec's filters, extensions, rounded locations and no personal data;
// tokens/{token} gives the request id; unknown ids and tokens are 404.
func TestGetRequests(t *testing.T) {
	fx := newFixture(t, cases.Open311Config{})
	air := fx.post(t, "json", complaint("air")) // 14:00
	fx.clock.Add(time.Hour)
	named := url.Values{"service_code": {"noise"}, "attribute[point]": {"p-industrial"}, "first_name": {"Li"}, "last_name": {"Lei"},
		"attribute[public_name]": {"yes"}, "description": {"Night works"}}
	noise := fx.post(t, "xml", named) // 15:00
	fx.clock.Add(time.Hour)
	water := fx.post(t, "json", url.Values{"service_code": {"water"}, "attribute[point]": {"p-riverside"}, "description": {"Dead fish"}}) // 16:00
	// Handle the water complaint to the end: it is closed to the public.
	admin := auth.Principal{Role: auth.Admin, TokenID: "test"}
	page, err := fx.svc.List(t.Context(), admin, cases.Query{Source: cases.SourceOpen311})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range page.Cases {
		if c.Category != "water" {
			continue
		}
		for _, a := range []string{"acknowledge", "contact", "forward", "start", "resolve"} {
			if _, err := fx.svc.Act(t.Context(), admin, c.ID, a, cases.ActionInput{StatusNotes: "Sampled the river."}); err != nil {
				t.Fatalf("%s: %v", a, err)
			}
		}
	}
	for _, f := range formats {
		t.Run(f, func(t *testing.T) {
			base := "/open311/v2/requests." + f
			all := fx.requests(t, f, base)
			if got, want := ids(all), []string{water.ID, noise.ID, air.ID}; !slices.Equal(got, want) {
				t.Fatalf("requests %v, want newest first %v", got, want)
			}
			w, n, a := all[0], all[1], all[2]
			if w.Status != "closed" || w.StatusNotes != "Sampled the river." || n.Status != "open" || a.Status != "open" {
				t.Errorf("statuses %s %q / %s / %s: want the handled one closed with its notes, the others open", w.Status, w.StatusNotes, n.Status, a.Status)
			}
			if a.ServiceCode != "air" || a.ServiceName != "Air pollution" || a.Agency != "t-civic-street" || a.Address == "" {
				t.Errorf("the air request %+v", a)
			}
			if a.Lat == nil || a.Long == nil || *a.Lat != 30.66 || *a.Long != 104.067 {
				t.Errorf("the air request is at %v,%v; want 30.66,104.067, rounded to 0.001°", a.Lat, a.Long)
			}
			if n.Lat != nil || n.Long != nil {
				t.Errorf("a request given by point has a location %v,%v", n.Lat, n.Long)
			}
			if rq, err := time.Parse(time.RFC3339, a.Requested); err != nil || !rq.Equal(at("2026-05-08 14:00")) {
				t.Errorf("requested_datetime %q: %v", a.Requested, err)
			}
			// Entered Fri 8 May 14:00: feedback within 3 working days
			// (Sat 9 May is a make-up working day) ends Tue 12 May 24:00.
			if ex, err := time.Parse(time.RFC3339, a.Expected); err != nil || !ex.Equal(at("2026-05-13 00:00")) {
				t.Errorf("expected_datetime %q: %v; want 2026-05-13 00:00 +08:00", a.Expected, err)
			}
			if a.Description == "" || strings.Contains(a.Description, cPhone) {
				t.Errorf("description %q: want it with the phone withheld", a.Description)
			}
			if a.Extended != nil {
				t.Errorf("extended attributes without extensions=true: %+v", a.Extended)
			}
			ext := fx.requests(t, f, base+"?extensions=true")
			if e := ext[2].Extended; e == nil || e.SubStatus != "assigned" || e.Name != "" {
				t.Errorf("extensions of the air request %+v: want sub_status assigned, no name", e)
			}
			if e := ext[1].Extended; e == nil || e.Name != "Li" {
				t.Errorf("extensions of the request whose complainant chose to be named: %+v; want the first name only", e)
			}
			if e := ext[0].Extended; e == nil || e.SubStatus != "resolved" {
				t.Errorf("extensions of the handled request %+v", e)
			}
			for _, tt := range []struct {
				query string
				want  []string
			}{
				{"service_code=noise", []string{noise.ID}},
				{"status=open", []string{noise.ID, air.ID}},
				{"status=closed", []string{water.ID}},
				{"service_request_id=" + air.ID + "," + water.ID, []string{water.ID, air.ID}},
				{"start_date=2026-05-08T06:30:00Z", []string{water.ID, noise.ID}},
				{"end_date=2026-05-08T15:30:00%2B08:00", []string{noise.ID, air.ID}},
				{"start_date=2026-05-08T05:30:00Z&end_date=2026-05-08T06:30:00Z&status=open", []string{air.ID}},
				{"service_code=other", nil},
			} {
				if got := ids(fx.requests(t, f, base+"?"+tt.query)); !slices.Equal(got, tt.want) {
					t.Errorf("?%s: %v, want %v", tt.query, got, tt.want)
				}
			}
			for _, q := range []string{"status=pending", "start_date=yesterday", "end_date=2026-05-08"} {
				wantError(t, f, "?"+q, fx.do(t, "GET", base+"?"+q, nil), 400)
			}

			one := fx.requests(t, f, "/open311/v2/requests/"+air.ID+"."+f)
			if len(one) != 1 || one[0].ID != air.ID || one[0].Status != "open" || *one[0].Lat != 30.66 {
				t.Errorf("requests/%s: %+v", air.ID, one)
			}
			wantError(t, f, "requests/sr-nope", fx.do(t, "GET", "/open311/v2/requests/sr-nope."+f, nil), 404)

			r := fx.do(t, "GET", "/open311/v2/tokens/"+noise.Token+"."+f, nil)
			if r.code != 200 {
				t.Fatalf("tokens: %d %s", r.code, r.body)
			}
			var toks []receiptOut
			if f == "json" {
				decode(t, f, r, &toks)
			} else {
				var x receiptsXML
				decode(t, f, r, &x)
				toks = x.Requests
			}
			if len(toks) != 1 || toks[0].ID != noise.ID || toks[0].Token != noise.Token {
				t.Errorf("tokens/%s: %+v, want request %s", noise.Token, toks, noise.ID)
			}
			wantError(t, f, "tokens/nope", fx.do(t, "GET", "/open311/v2/tokens/nope."+f, nil), 404)
		})
	}
}

// TestUnknownEndpoint: anything else is 404 with the error array; the
// format follows the suffix, JSON without one.
func TestUnknownEndpoint(t *testing.T) {
	fx := newFixture(t, cases.Open311Config{})
	for _, tt := range []struct{ f, method, target string }{
		{"json", "GET", "/open311/v2/nothing.json"},
		{"xml", "GET", "/open311/v2/nothing.xml"},
		{"json", "GET", "/open311/v2/nothing"},
		{"json", "DELETE", "/open311/v2/requests.json"},
		{"xml", "POST", "/open311/v2/services.xml"},
		{"json", "GET", "/open311/v2/requests/a/b.json"},
	} {
		wantError(t, tt.f, tt.method+" "+tt.target, fx.do(t, tt.method, tt.target, nil), 404)
	}
}

// TestDescriptionWithheld: the public description of a request has the
// complainant's names, alone or together, their phone however written,
// their e-mail and any other mobile number or e-mail address withheld.
func TestDescriptionWithheld(t *testing.T) {
	fx := newFixture(t, cases.Open311Config{})
	form := complaint("air")
	form.Set("description", "I am "+cLast+"; Mr "+cFirst+" next door too. Call 139 1234 5678 or +86 139-1234-5678, mail "+cEmail+
		", or my son on 186 0000 1111, son@example.invalid")
	rc := fx.post(t, "json", form)
	for _, f := range formats {
		rs := fx.requests(t, f, "/open311/v2/requests/"+rc.ID+"."+f)
		if len(rs) != 1 {
			t.Fatalf("%s: %d requests", f, len(rs))
		}
		d := rs[0].Description
		for _, p := range []string{cFirst, cLast, "1234", "5678", "0000 1111", "example.invalid"} {
			if strings.Contains(d, p) {
				t.Errorf("%s: the description %q holds %q", f, d, p)
			}
		}
		if !strings.Contains(d, "I am [withheld]; Mr [withheld] next door too.") {
			t.Errorf("%s: the description %q", f, d)
		}
	}
}

// stored is how many Open311 complaints the queue holds.
func (f *fixture) stored(t *testing.T) int {
	t.Helper()
	admin := auth.Principal{Role: auth.Admin, TokenID: "test"}
	page, err := f.svc.List(t.Context(), admin, cases.Query{Source: cases.SourceOpen311, Limit: 500})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, c := range page.Cases {
		got, err := f.svc.Get(t.Context(), admin, c.ID)
		if err != nil {
			t.Fatal(err)
		}
		n += len(got.Complainants)
	}
	return n
}

// TestSizeLimits: a body over MaxBodyBytes is 413 and a description, name,
// phone or e-mail over its limit is 400, both with the spec's error array
// and nothing stored; the longest description taken, even in 4-byte
// characters, fits in the body.
func TestSizeLimits(t *testing.T) {
	fx := newFixture(t, cases.Open311Config{})
	for _, f := range formats {
		t.Run(f, func(t *testing.T) {
			for _, tt := range []struct {
				name  string
				field string
				value string
				code  int
			}{
				{"a description over the body limit", "description", strings.Repeat("x", open311.MaxBodyBytes), 413},
				{"an address over the body limit", "address_string", strings.Repeat("x", open311.MaxBodyBytes), 413},
				{"a description over the limit", "description", strings.Repeat("烟", cases.MaxDescription+1), 400},
				{"a name over the limit", "first_name", strings.Repeat("z", cases.MaxName+1), 400},
				{"a phone over the limit", "phone", strings.Repeat("1", cases.MaxPhone+1), 400},
				{"an e-mail over the limit", "email", strings.Repeat("e", cases.MaxEmail-len("@example.invalid")+1) + "@example.invalid", 400},
			} {
				form := complaint("air")
				form.Set(tt.field, tt.value)
				before := fx.stored(t)
				r := fx.do(t, "POST", "/open311/v2/requests."+f, form)
				wantError(t, f, tt.name, r, tt.code)
				if r.code == 400 && !strings.Contains(r.body, "at most") {
					t.Errorf("%s: the error %s does not give the limit", tt.name, r.body)
				}
				if n := fx.stored(t); n != before {
					t.Errorf("%s: %d complaints stored; want %d", tt.name, n, before)
				}
			}
			form := complaint("air")
			form.Set("description", strings.Repeat("😷", cases.MaxDescription))
			before := fx.stored(t)
			if n := len(form.Encode()); n > open311.MaxBodyBytes {
				t.Fatalf("the longest description takes a body of %d bytes, over %d", n, open311.MaxBodyBytes)
			}
			fx.post(t, f, form)
			if n := fx.stored(t); n != before+1 {
				t.Errorf("the longest description: %d complaints stored; want %d", n, before+1)
			}
		})
	}
}

// counter is an httprate.LimitCounter that counts per key and never
// forgets, so that a test of the rate limit does not depend on the clock.
type counter struct {
	mu sync.Mutex
	n  map[string]int
}

func (c *counter) Config(int, time.Duration)             {}
func (c *counter) Increment(k string, w time.Time) error { return c.IncrementBy(k, w, 1) }
func (c *counter) IncrementBy(k string, _ time.Time, n int) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.n == nil {
		c.n = map[string]int{}
	}
	c.n[k] += n
	return nil
}
func (c *counter) Get(k string, _, _ time.Time) (int, int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n[k], 0, nil
}

// TestRateLimit: one client may POST RateLimit service requests (10 by
// default), refused or not; the next is 429 with Retry-After and the
// spec's error array, and stores nothing, while another client's POST and
// the first client's reading are still served. A ClientKey names the
// client; a negative RateLimit is none.
func TestRateLimit(t *testing.T) {
	const a, b = "198.51.100.7:4000", "203.0.113.9:4000"
	for _, tt := range []struct {
		name string
		cfg  open311.Config
		want int // POSTs taken from one client
	}{
		{"default", open311.Config{}, open311.DefaultRateLimit},
		{"configured", open311.Config{RateLimit: 3}, 3},
		{"another port is the same client", open311.Config{RateLimit: 2}, 2},
		{"none", open311.Config{RateLimit: -1}, 25},
	} {
		t.Run(tt.name, func(t *testing.T) {
			for _, f := range formats {
				fx := newFixture(t, cases.Open311Config{})
				tt.cfg.Counter = &counter{}
				fx.h = open311.NewHandler(fx.svc, tt.cfg)
				target := "/open311/v2/requests." + f
				for i := range tt.want {
					from := a
					if tt.name == "another port is the same client" {
						from = "198.51.100.7:" + strconv.Itoa(5000+i)
					}
					form := complaint("air")
					if i == 0 {
						form.Del("service_code") // a refused POST counts too
					}
					r := fx.doFrom(t, from, "POST", target, form)
					if want := map[bool]int{true: 400, false: 201}[i == 0]; r.code != want {
						t.Fatalf("%s: POST %d: %d %s; want %d", f, i+1, r.code, r.body, want)
					}
				}
				before := fx.stored(t)
				r := fx.doFrom(t, a, "POST", target, complaint("air"))
				if tt.cfg.RateLimit < 0 {
					if r.code != 201 {
						t.Errorf("%s: with no limit, POST %d: %d %s", f, tt.want+1, r.code, r.body)
					}
					continue
				}
				wantError(t, f, fmt.Sprintf("POST %d", tt.want+1), r, 429)
				if r.retryAfter == "" {
					t.Errorf("%s: the 429 has no Retry-After", f)
				}
				if n := fx.stored(t); n != before {
					t.Errorf("%s: the refused POST stored a complaint: %d, were %d", f, n, before)
				}
				if r := fx.doFrom(t, b, "POST", target, complaint("water")); r.code != 201 {
					t.Errorf("%s: another client's POST: %d %s; want 201", f, r.code, r.body)
				}
				if r := fx.doFrom(t, a, "GET", target, nil); r.code != 200 {
					t.Errorf("%s: the limited client's GET: %d %s; want 200", f, r.code, r.body)
				}
			}
		})
	}

	// A ClientKey, here a header a trusted proxy would set, names the
	// client instead of the peer.
	fx := newFixture(t, cases.Open311Config{})
	fx.h = open311.NewHandler(fx.svc, open311.Config{RateLimit: 1, Counter: &counter{},
		ClientKey: func(r *http.Request) (string, error) { return r.Header.Get("X-Test-Client"), nil }})
	send := func(client string) int {
		r := httptest.NewRequest("POST", "/open311/v2/requests.json", strings.NewReader(complaint("air").Encode()))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		r.Header.Set("X-Test-Client", client)
		w := httptest.NewRecorder()
		fx.h.ServeHTTP(w, r)
		return w.Code
	}
	for i, tt := range []struct {
		client string
		code   int
	}{{"one", 201}, {"one", 429}, {"two", 201}, {"two", 429}} {
		if got := send(tt.client); got != tt.code {
			t.Errorf("POST %d as %s: %d; want %d", i+1, tt.client, got, tt.code)
		}
	}
}
