// Package open311 serves Open311 GeoReport v2 under /open311/v2/, in JSON
// and XML, on top of the case queue: discovery, services,
// services/{code}, requests (GET and POST), requests/{id} and
// tokens/{token}. Public responses carry no personal data and round
// locations to 0.001° (about 100 m); errors are the spec's array of
// {code, description}.
//
// A request body is read up to MaxBodyBytes (413 beyond), and each client
// may POST at most Config.RateLimit service requests per Config.RateWindow
// (429 beyond).
//
// open311 may import cases, github.com/go-chi/httprate and the standard
// library.
package open311

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/go-chi/httprate"

	"github.com/envmon/envmon/cases"
)

// Backend is what the endpoint needs of the case queue; *cases.Service is
// one.
type Backend interface {
	Submit(ctx context.Context, c cases.Complaint) (cases.Receipt, error)
	Requests(ctx context.Context, f cases.PublicFilter) ([]cases.PublicRequest, error)
	RequestOfToken(ctx context.Context, token string) (string, error)
	Open311() cases.Open311Config
}

// Prefix is where the endpoint is mounted.
const Prefix = "/open311/v2/"

type service struct {
	Code, Name, NameZh, Description, Keywords, Group string
}

var services = []service{
	{"air", "Air pollution", "大气污染", "Smoke, dust, odour or burning", "smoke,dust,odour,burning", "environment"},
	{"water", "Water pollution", "水污染", "Discharges, dead fish, discoloured or smelly water", "discharge,sewage,river", "environment"},
	{"noise", "Noise", "噪声污染", "Construction, industrial, traffic or social noise", "noise,construction,night", "environment"},
	{"other", "Other environmental problem", "其他环境问题", "Waste, soil, radiation or anything else", "waste,soil", "environment"},
}

// MaxBodyBytes bounds a request body: 64 KiB, the bound of the desk's
// POST /api/v1/cases. It holds a form with a description of
// cases.MaxDescription characters even when every one is a 4-byte UTF-8
// sequence percent-encoded (12 bytes each, 48,000 in all).
const MaxBodyBytes = 64 << 10

// The defaults of Config's rate limit: 10 service requests a minute per
// client. This is envmon's own figure: GeoReport v2 sets none. It is far
// above what one citizen files, and bounds the cases (each notifying a
// team and starting its deadlines) one client can open.
const (
	DefaultRateLimit  = 10
	DefaultRateWindow = time.Minute
)

// Config tunes the handler; the zero value has the defaults.
type Config struct {
	// RateLimit is how many service requests (POST requests) one client
	// may make per RateWindow, whether or not they are accepted; beyond
	// it a POST is refused with 429 and Retry-After. 0 means
	// DefaultRateLimit; negative, no limit. Reading is not limited here.
	RateLimit int
	// RateWindow is the window of RateLimit; 0 means DefaultRateWindow.
	RateWindow time.Duration
	// ClientKey names the client a POST counts against. Nil means the
	// peer's address (r.RemoteAddr), an IPv6 one by its /64 (see
	// httprate.CanonicalizeIP). Behind a reverse proxy, give one that
	// takes X-Forwarded-For from trusted proxies only, as the public API's
	// rate limit does; else every client shares the proxy's count.
	ClientKey httprate.KeyFunc
	// Counter keeps the counts. Nil means in memory, so each process
	// (each replica) counts on its own.
	Counter httprate.LimitCounter
}

// Handler returns the GeoReport v2 handler with the default Config; mount
// it at Prefix.
func Handler(b Backend) http.Handler { return NewHandler(b, Config{}) }

// NewHandler returns the GeoReport v2 handler configured by c; mount it at
// Prefix.
func NewHandler(b Backend, c Config) http.Handler {
	h := &handler{b: b}
	if c.RateLimit < 0 {
		return http.HandlerFunc(h.serve)
	}
	if c.RateLimit == 0 {
		c.RateLimit = DefaultRateLimit
	}
	if c.RateWindow <= 0 {
		c.RateWindow = DefaultRateWindow
	}
	if c.ClientKey == nil {
		c.ClientKey = peerKey
	}
	opts := []httprate.Option{
		httprate.WithKeyFuncs(c.ClientKey),
		httprate.WithLimitHandler(func(w http.ResponseWriter, r *http.Request) {
			_, f := route(r)
			h.fail(w, f, http.StatusTooManyRequests, fmt.Sprintf(
				"too many service requests from this client: at most %d per %v; retry after the Retry-After seconds", c.RateLimit, c.RateWindow))
		}),
		httprate.WithErrorHandler(func(w http.ResponseWriter, r *http.Request, _ error) {
			_, f := route(r)
			h.fail(w, f, http.StatusServiceUnavailable, "service requests cannot be taken now")
		}),
	}
	if c.Counter != nil {
		opts = append(opts, httprate.WithLimitCounter(c.Counter))
	}
	limited := httprate.NewRateLimiter(c.RateLimit, c.RateWindow, opts...).Handler(http.HandlerFunc(h.serve))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if path, _ := route(r); path == "requests" && r.Method == http.MethodPost {
			limited.ServeHTTP(w, r)
			return
		}
		h.serve(w, r)
	})
}

// peerKey is the default Config.ClientKey: the peer's address.
func peerKey(r *http.Request) (string, error) {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	return httprate.CanonicalizeIP(host), nil
}

type handler struct{ b Backend }

// route is the endpoint's path below Prefix, without the format suffix,
// and the format.
func route(r *http.Request) (string, string) {
	path, f := format(strings.TrimPrefix(r.URL.Path, strings.TrimSuffix(Prefix, "/")))
	return strings.Trim(path, "/"), f
}

// format cuts the .json or .xml suffix off the last path element.
func format(path string) (string, string) {
	if p, ok := strings.CutSuffix(path, ".xml"); ok {
		return p, "xml"
	}
	p, _ := strings.CutSuffix(path, ".json")
	return p, "json"
}

func (h *handler) serve(w http.ResponseWriter, r *http.Request) {
	path, f := route(r)
	r.Body = http.MaxBytesReader(w, r.Body, MaxBodyBytes)
	if err := r.ParseForm(); err != nil {
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			h.fail(w, f, http.StatusRequestEntityTooLarge, fmt.Sprintf("the request body is over %d bytes", MaxBodyBytes))
			return
		}
		h.fail(w, f, http.StatusBadRequest, "cannot read the form")
		return
	}
	cfg := h.b.Open311()
	if j := r.Form.Get("jurisdiction_id"); j != "" && cfg.Jurisdiction != "" && j != cfg.Jurisdiction {
		h.fail(w, f, http.StatusNotFound, "jurisdiction_id "+strconv.Quote(j)+" is not served here")
		return
	}
	parts := strings.Split(path, "/")
	switch {
	case path == "discovery" && r.Method == http.MethodGet:
		h.discovery(w, r, f)
	case path == "services" && r.Method == http.MethodGet:
		h.services(w, f)
	case len(parts) == 2 && parts[0] == "services" && r.Method == http.MethodGet:
		h.definition(w, f, parts[1])
	case path == "requests" && r.Method == http.MethodPost:
		h.post(w, r, f)
	case path == "requests" && r.Method == http.MethodGet:
		h.list(w, r, f)
	case len(parts) == 2 && parts[0] == "requests" && r.Method == http.MethodGet:
		h.one(w, r, f, parts[1])
	case len(parts) == 2 && parts[0] == "tokens" && r.Method == http.MethodGet:
		h.token(w, r, f, parts[1])
	default:
		h.fail(w, f, http.StatusNotFound, "no such endpoint: see discovery")
	}
}

// apiError is one error of the spec's array.
type apiError struct {
	XMLName     xml.Name `json:"-" xml:"error"`
	Code        int      `json:"code" xml:"code"`
	Description string   `json:"description" xml:"description"`
}

func (h *handler) fail(w http.ResponseWriter, f string, status int, desc string) {
	errs := []apiError{{Code: status, Description: desc}}
	write(w, f, status, errs, "errors")
}

// write encodes v as JSON, or as XML inside a root element; with no root,
// v's own element is the document's root.
func write(w http.ResponseWriter, f string, status int, v any, root string) {
	if f == "xml" {
		w.Header().Set("Content-Type", "text/xml; charset=utf-8")
		w.WriteHeader(status)
		w.Write([]byte(xml.Header))
		enc := xml.NewEncoder(w)
		enc.Indent("", "  ")
		if root != "" {
			enc.EncodeToken(xml.StartElement{Name: xml.Name{Local: root}})
		}
		enc.Encode(v)
		if root != "" {
			enc.EncodeToken(xml.EndElement{Name: xml.Name{Local: root}})
		}
		enc.Flush()
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

type endpoint struct {
	XMLName       xml.Name `json:"-" xml:"endpoint"`
	Specification string   `json:"specification" xml:"specification"`
	URL           string   `json:"url" xml:"url"`
	Changeset     string   `json:"changeset" xml:"changeset"`
	Type          string   `json:"type" xml:"type"`
	Formats       []string `json:"formats" xml:"formats>format"`
}

type discovery struct {
	XMLName    xml.Name   `json:"-" xml:"discovery"`
	Changeset  string     `json:"changeset" xml:"changeset"`
	Contact    string     `json:"contact" xml:"contact"`
	KeyService string     `json:"key_service" xml:"key_service"`
	Endpoints  []endpoint `json:"endpoints" xml:"endpoints>endpoint"`
}

func (h *handler) discovery(w http.ResponseWriter, r *http.Request, f string) {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	d := discovery{Changeset: "2026-01-01T00:00:00Z", Contact: "the local eco-environmental service point (生态环境服务点)",
		KeyService: "api keys are issued by the operator", Endpoints: []endpoint{{
			Specification: "http://wiki.open311.org/GeoReport_v2", URL: scheme + "://" + r.Host + strings.TrimSuffix(Prefix, "/"),
			Changeset: "2026-01-01T00:00:00Z", Type: "production", Formats: []string{"application/json", "text/xml"},
		}}}
	write(w, f, http.StatusOK, d, "") // XML: <discovery> is the root, as the Service Discovery spec has it
}

type serviceOut struct {
	XMLName     xml.Name `json:"-" xml:"service"`
	Code        string   `json:"service_code" xml:"service_code"`
	Name        string   `json:"service_name" xml:"service_name"`
	Description string   `json:"description" xml:"description"`
	Metadata    bool     `json:"metadata" xml:"metadata"`
	Type        string   `json:"type" xml:"type"`
	Keywords    string   `json:"keywords" xml:"keywords"`
	Group       string   `json:"group" xml:"group"`
}

func (h *handler) services(w http.ResponseWriter, f string) {
	var out []serviceOut
	for _, s := range services {
		out = append(out, serviceOut{Code: s.Code, Name: s.Name + " / " + s.NameZh, Description: s.Description, Metadata: true, Type: "realtime", Keywords: s.Keywords, Group: s.Group})
	}
	write(w, f, http.StatusOK, out, "services")
}

type value struct {
	XMLName xml.Name `json:"-" xml:"value"`
	Key     string   `json:"key" xml:"key"`
	Name    string   `json:"name" xml:"name"`
}

type attribute struct {
	XMLName     xml.Name `json:"-" xml:"attribute"`
	Variable    bool     `json:"variable" xml:"variable"`
	Code        string   `json:"code" xml:"code"`
	Datatype    string   `json:"datatype" xml:"datatype"`
	Required    bool     `json:"required" xml:"required"`
	DatatypeDes string   `json:"datatype_description" xml:"datatype_description"`
	Order       int      `json:"order" xml:"order"`
	Description string   `json:"description" xml:"description"`
	Values      []value  `json:"values,omitempty" xml:"values>value,omitempty"`
}

type definition struct {
	XMLName    xml.Name    `json:"-" xml:"service_definition"`
	Code       string      `json:"service_code" xml:"service_code"`
	Attributes []attribute `json:"attributes" xml:"attributes>attribute"`
}

func (h *handler) definition(w http.ResponseWriter, f, code string) {
	known := false
	for _, s := range services {
		known = known || s.Code == code
	}
	if !known {
		h.fail(w, f, http.StatusNotFound, "no service "+strconv.Quote(code))
		return
	}
	d := definition{Code: code, Attributes: []attribute{
		{Variable: true, Code: "point", Datatype: "string", DatatypeDes: "a service point id", Order: 1,
			Description: "The eco-environmental service point the complaint is for, if known (else the nearest station's)."},
		{Variable: true, Code: "public_name", Datatype: "singlevaluelist", Order: 2,
			Description: "Show your first name with the public request?", Values: []value{{Key: "no", Name: "No (default)"}, {Key: "yes", Name: "Yes"}}},
	}}
	write(w, f, http.StatusOK, d, "")
}

type receipt struct {
	XMLName   xml.Name `json:"-" xml:"request"`
	ID        string   `json:"service_request_id" xml:"service_request_id"`
	Token     string   `json:"token,omitempty" xml:"token,omitempty"`
	Notice    string   `json:"service_notice" xml:"service_notice"`
	AccountID string   `json:"account_id,omitempty" xml:"account_id,omitempty"`
}

func (h *handler) post(w http.ResponseWriter, r *http.Request, f string) {
	cfg := h.b.Open311()
	if len(cfg.APIKeys) > 0 {
		key := r.Form.Get("api_key")
		ok := false
		for _, k := range cfg.APIKeys {
			ok = ok || subtle.ConstantTimeCompare([]byte(k), []byte(key)) == 1
		}
		if !ok {
			h.fail(w, f, http.StatusForbidden, "a valid api_key is required")
			return
		}
	}
	code := r.Form.Get("service_code")
	if code == "" {
		h.fail(w, f, http.StatusBadRequest, "service_code is required")
		return
	}
	c := cases.Complaint{Channel: cases.SourceOpen311, Category: code, Description: r.Form.Get("description"),
		Point: r.Form.Get("attribute[point]"), PublicName: r.Form.Get("attribute[public_name]") == "yes",
		Name: strings.TrimSpace(r.Form.Get("first_name") + " " + r.Form.Get("last_name")), Phone: r.Form.Get("phone"), Email: r.Form.Get("email")}
	if lat, lon := r.Form.Get("lat"), r.Form.Get("long"); lat != "" || lon != "" {
		la, err1 := strconv.ParseFloat(lat, 64)
		lo, err2 := strconv.ParseFloat(lon, 64)
		if err1 != nil || err2 != nil {
			h.fail(w, f, http.StatusBadRequest, "lat and long must be decimal degrees")
			return
		}
		c.Lat, c.Lon = &la, &lo
	}
	if c.Lat == nil && c.Point == "" && r.Form.Get("address_string") == "" {
		h.fail(w, f, http.StatusBadRequest, "a location is required: lat and long, address_string, or attribute[point]")
		return
	}
	rc, err := h.b.Submit(r.Context(), c)
	var bad cases.BadRequest
	switch {
	case errors.As(err, &bad):
		h.fail(w, f, http.StatusBadRequest, bad.Error())
		return
	case err != nil:
		h.fail(w, f, http.StatusInternalServerError, "the request could not be stored")
		return
	}
	out := []receipt{{ID: rc.RequestID, Token: rc.Token, Notice: "Received. The local team will contact you within 24 hours."}}
	write(w, f, http.StatusCreated, out, "service_requests")
}

// request is a public service request. It has no personal data: first
// and last name, phone, e-mail and the address given are never shown.
type request struct {
	XMLName     xml.Name   `json:"-" xml:"request"`
	ID          string     `json:"service_request_id" xml:"service_request_id"`
	Status      string     `json:"status" xml:"status"`
	StatusNotes string     `json:"status_notes" xml:"status_notes"`
	ServiceName string     `json:"service_name" xml:"service_name"`
	ServiceCode string     `json:"service_code" xml:"service_code"`
	Description string     `json:"description" xml:"description"`
	Agency      string     `json:"agency_responsible" xml:"agency_responsible"`
	Notice      string     `json:"service_notice" xml:"service_notice"`
	Requested   string     `json:"requested_datetime" xml:"requested_datetime"`
	Updated     string     `json:"updated_datetime" xml:"updated_datetime"`
	Expected    string     `json:"expected_datetime" xml:"expected_datetime"`
	Address     string     `json:"address" xml:"address"`
	AddressID   string     `json:"address_id" xml:"address_id"`
	Zipcode     string     `json:"zipcode" xml:"zipcode"`
	Lat         *float64   `json:"lat" xml:"lat,omitempty"`
	Long        *float64   `json:"long" xml:"long,omitempty"`
	MediaURL    string     `json:"media_url" xml:"media_url"`
	Extended    *extension `json:"extended_attributes,omitempty" xml:"extended_attributes,omitempty"`
}

type extension struct {
	SubStatus    string `json:"sub_status" xml:"sub_status"`
	Corroborated bool   `json:"corroborated" xml:"corroborated"`
	Name         string `json:"complainant_first_name,omitempty" xml:"complainant_first_name,omitempty"`
}

func serviceName(code string) string {
	for _, s := range services {
		if s.Code == code {
			return s.Name
		}
	}
	return code
}

func (h *handler) render(rs []cases.PublicRequest, ext bool, loc *time.Location) []request {
	out := []request{}
	for _, p := range rs {
		q := request{ID: p.ID, Status: "closed", StatusNotes: p.StatusNotes, ServiceName: serviceName(p.Category), ServiceCode: p.Category,
			Description: p.Description, Agency: p.Team, Address: p.Grid, Lat: p.Lat, Long: p.Lon,
			Requested: p.Requested.Format(time.RFC3339), Updated: p.Updated.Format(time.RFC3339)}
		if p.Open {
			q.Status = "open"
		}
		if p.Expected != nil {
			q.Expected = p.Expected.Format(time.RFC3339)
		}
		if ext {
			q.Extended = &extension{SubStatus: string(p.SubState), Corroborated: p.Corroborated}
			if p.PublicName != "" {
				first, _, _ := strings.Cut(p.PublicName, " ")
				q.Extended.Name = first
			}
		}
		out = append(out, q)
	}
	return out
}

func (h *handler) list(w http.ResponseWriter, r *http.Request, f string) {
	flt := cases.PublicFilter{Category: r.Form.Get("service_code")}
	if ids := r.Form.Get("service_request_id"); ids != "" {
		flt.IDs = strings.Split(ids, ",")
	}
	switch st := r.Form.Get("status"); st {
	case "":
	case "open", "closed":
		o := st == "open"
		flt.Open = &o
	default:
		h.fail(w, f, http.StatusBadRequest, "status is open or closed")
		return
	}
	for _, d := range []struct {
		name string
		t    *time.Time
	}{{"start_date", &flt.Start}, {"end_date", &flt.End}} {
		if v := r.Form.Get(d.name); v != "" {
			t, err := time.Parse(time.RFC3339, v)
			if err != nil {
				h.fail(w, f, http.StatusBadRequest, d.name+" must be W3C (RFC 3339)")
				return
			}
			*d.t = t
		}
	}
	flt.Limit = 1000 // the spec's bound on one response
	rs, err := h.b.Requests(r.Context(), flt)
	if err != nil {
		h.fail(w, f, http.StatusInternalServerError, "requests cannot be read now")
		return
	}
	write(w, f, http.StatusOK, h.render(rs, r.Form.Get("extensions") == "true", time.UTC), "service_requests")
}

func (h *handler) one(w http.ResponseWriter, r *http.Request, f, id string) {
	rs, err := h.b.Requests(r.Context(), cases.PublicFilter{IDs: []string{id}})
	if err != nil {
		h.fail(w, f, http.StatusInternalServerError, "requests cannot be read now")
		return
	}
	if len(rs) == 0 {
		h.fail(w, f, http.StatusNotFound, "no service request "+strconv.Quote(id))
		return
	}
	write(w, f, http.StatusOK, h.render(rs, r.Form.Get("extensions") == "true", time.UTC), "service_requests")
}

type tokenOut struct {
	XMLName xml.Name `json:"-" xml:"request"`
	ID      string   `json:"service_request_id" xml:"service_request_id"`
	Token   string   `json:"token" xml:"token"`
}

func (h *handler) token(w http.ResponseWriter, r *http.Request, f, tok string) {
	id, err := h.b.RequestOfToken(r.Context(), tok)
	if errors.Is(err, cases.ErrNotFound) {
		h.fail(w, f, http.StatusNotFound, "no request for that token")
		return
	}
	if err != nil {
		h.fail(w, f, http.StatusInternalServerError, "tokens cannot be read now")
		return
	}
	write(w, f, http.StatusOK, []tokenOut{{ID: id, Token: tok}}, "service_requests")
}
