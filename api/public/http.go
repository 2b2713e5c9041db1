package public

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"net"
	"net/http"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/envmon/envmon/quality"
)

// Paths are the routes Handler serves, as chi patterns, for a router that
// mounts them beside its own (see Service.Handler).
var Paths = []string{
	"/openapi.json",
	"/api/v1/aqi",
	"/api/v1/stations/{id}/aqi",
	"/api/v1/water",
	"/api/v1/noise",
	"/api/v1/ranking",
	"/api/v1/near",
	"/api/v1/stream",
}

// Handler returns the public routes, at the full paths of Paths. The
// parent router mounts them with r.Handle(p, h) for each p in Paths (and
// r.Options for CORS preflight), beside its own /api/v1/stations routes:
// chi prefers the longer pattern /api/v1/stations/{id}/aqi. Every Handler
// of s counts a client's requests against one limit.
func (s *Service) Handler() http.Handler {
	r := chi.NewRouter()
	r.Use(cors)
	if s.limit != nil {
		r.Use(s.limit)
	}
	r.Get("/openapi.json", serveSpec)
	r.Get("/api/v1/aqi", s.aqi)
	r.Get("/api/v1/stations/{id}/aqi", s.history)
	r.Get("/api/v1/water", s.water)
	r.Get("/api/v1/noise", s.noise)
	r.Get("/api/v1/ranking", s.ranking)
	r.Get("/api/v1/near", s.near)
	r.Get("/api/v1/stream", s.stream)
	r.NotFound(func(w http.ResponseWriter, r *http.Request) {
		writeProblem(w, http.StatusNotFound, "", nil, "no resource at %s", clip(r.URL.Path))
	})
	r.MethodNotAllowed(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Allow", "GET, HEAD, OPTIONS")
		writeProblem(w, http.StatusMethodNotAllowed, "", nil, "%s is not allowed on %s; allowed: GET, HEAD, OPTIONS", r.Method, clip(r.URL.Path))
	})
	return headAsGet(r)
}

// headAsGet serves HEAD as GET; net/http leaves out the body.
func headAsGet(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodHead {
			if rctx := chi.RouteContext(r.Context()); rctx != nil {
				rctx.RouteMethod = http.MethodGet // a parent chi router's context
			}
			r2 := r.Clone(r.Context())
			r2.Method = http.MethodGet
			r = r2
		}
		next.ServeHTTP(w, r)
	})
}

// cors allows any origin to GET the public routes: they are public and
// carry no credentials.
func cors(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Access-Control-Allow-Origin", "*")
		h.Set("Access-Control-Expose-Headers", "ETag, Last-Modified, Retry-After, X-RateLimit-Limit, X-RateLimit-Remaining, X-RateLimit-Reset")
		if r.Method == http.MethodOptions {
			h.Set("Access-Control-Allow-Methods", "GET, HEAD, OPTIONS")
			h.Set("Access-Control-Allow-Headers", "If-None-Match, If-Modified-Since, Last-Event-ID")
			h.Set("Access-Control-Max-Age", "86400")
			w.WriteHeader(http.StatusNoContent)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// ClientKey is the rate limit's key: the client's address. It is the
// peer's, unless the peer is a trusted proxy: then the right-most address
// of X-Forwarded-For that is not a trusted proxy. A client that is not a
// trusted proxy cannot choose its key with the header.
func (s *Service) ClientKey(r *http.Request) (string, error) {
	return clientIP(r.RemoteAddr, r.Header.Values("X-Forwarded-For"), s.cfg.TrustedProxies), nil
}

func clientIP(remote string, xff []string, trusted []netip.Prefix) string {
	host, _, err := net.SplitHostPort(remote)
	if err != nil {
		host = remote
	}
	peer, err := netip.ParseAddr(host)
	if err != nil {
		return host
	}
	peer = peer.Unmap()
	isTrusted := func(a netip.Addr) bool {
		return slices.ContainsFunc(trusted, func(p netip.Prefix) bool { return p.Contains(a) })
	}
	if !isTrusted(peer) {
		return peer.String()
	}
	var hops []string
	for _, v := range xff {
		hops = append(hops, strings.Split(v, ",")...)
	}
	client := peer
	for i := len(hops) - 1; i >= 0; i-- {
		a, err := netip.ParseAddr(strings.TrimSpace(hops[i]))
		if err != nil {
			break // a malformed hop: trust nothing before it
		}
		client = a.Unmap()
		if !isTrusted(client) {
			break
		}
	}
	return client.String()
}

// problem is an RFC 9457 problem details object, with the parameter at
// fault and what it allows as extension members.
type problem struct {
	Type    string   `json:"type"`
	Title   string   `json:"title"`
	Status  int      `json:"status"`
	Detail  string   `json:"detail"`
	Param   string   `json:"param,omitempty"`
	Allowed []string `json:"allowed,omitempty"`
}

func writeProblem(w http.ResponseWriter, status int, param string, allowed []string, format string, args ...any) {
	h := w.Header()
	h.Set("Content-Type", "application/problem+json")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(problem{Type: "about:blank", Title: http.StatusText(status), Status: status,
		Detail: fmt.Sprintf(format, args...), Param: param, Allowed: allowed})
}

// badParam answers 400 naming the parameter and what it allows.
func badParam(w http.ResponseWriter, param string, allowed []string, format string, args ...any) {
	writeProblem(w, http.StatusBadRequest, param, allowed, format, args...)
}

func clip(s string) string {
	const max = 128
	if len(s) <= max {
		return s
	}
	return s[:max] + "…"
}

var standardKeys = []string{"hj633-2026", "hj633-2012", "epa-2024"}

// standardParam parses ?standard=; absent gives the default for data
// ending at t.
func (s *Service) standardParam(w http.ResponseWriter, r *http.Request, t time.Time) (quality.Standard, bool) {
	v := r.URL.Query().Get("standard")
	if v == "" {
		return s.defaultStandard(t), true
	}
	for _, k := range standardKeys {
		if v == k {
			std, _ := quality.ParseStandard(k)
			return std, true
		}
	}
	badParam(w, "standard", standardKeys, "standard %q is not supported; use hj633-2026, hj633-2012 or epa-2024", clip(v))
	return 0, false
}

// serveBody answers with body, or 304 when the client holds it. gz, if
// set, is body gzipped; otherwise a large body is gzipped here when the
// client accepts it. The ETag is etag, or a hash of body when empty.
// Cache-Control's max-age runs to next, capped by maxAge.
func serveBody(w http.ResponseWriter, r *http.Request, body, gz []byte, etag string, lastMod, next, now time.Time, maxAge time.Duration) {
	if etag == "" {
		h := fnv.New64a()
		h.Write(body)
		etag = `"` + strconv.FormatUint(h.Sum64(), 36) + `"`
	}
	useGzip := acceptsGzip(r) && (gz != nil || len(body) > 1024)
	tag := etag
	if useGzip {
		tag = strings.TrimSuffix(etag, `"`) + `-gzip"`
	}
	hd := w.Header()
	hd.Set("ETag", tag)
	hd.Set("Vary", "Accept-Encoding")
	if !lastMod.IsZero() {
		hd.Set("Last-Modified", lastMod.UTC().Format(http.TimeFormat))
	}
	age := min(next.Sub(now), maxAge)
	if age < 0 {
		age = 0
	}
	hd.Set("Cache-Control", "public, max-age="+strconv.Itoa(int(age/time.Second)))
	if notModified(r, etag, tag, lastMod) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	hd.Set("Content-Type", "application/json")
	if useGzip {
		if gz == nil {
			gz = gzipFast(body)
		}
		hd.Set("Content-Encoding", "gzip")
		body = gz
	}
	hd.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		_, _ = w.Write(body)
	}
}

// notModified applies If-None-Match (which wins) and If-Modified-Since.
func notModified(r *http.Request, etag, gzTag string, lastMod time.Time) bool {
	if inm := r.Header.Get("If-None-Match"); inm != "" {
		for _, t := range strings.Split(inm, ",") {
			t = strings.TrimPrefix(strings.TrimSpace(t), "W/")
			if t == "*" || t == etag || t == gzTag {
				return true
			}
		}
		return false
	}
	if ims := r.Header.Get("If-Modified-Since"); ims != "" && !lastMod.IsZero() {
		if t, err := http.ParseTime(ims); err == nil && !lastMod.Truncate(time.Second).After(t) {
			return true
		}
	}
	return false
}

func acceptsGzip(r *http.Request) bool {
	for _, part := range strings.Split(r.Header.Get("Accept-Encoding"), ",") {
		name, q, _ := strings.Cut(strings.TrimSpace(part), ";")
		if strings.EqualFold(strings.TrimSpace(name), "gzip") {
			return strings.ReplaceAll(strings.TrimSpace(q), " ", "") != "q=0"
		}
	}
	return false
}

func gzipFast(b []byte) []byte {
	var out bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&out, gzip.BestSpeed)
	zw.Write(b)
	zw.Close()
	return out.Bytes()
}

// writeJSON marshals v and serves it with serveBody.
func (s *Service) writeJSON(w http.ResponseWriter, r *http.Request, v any, lastMod, next time.Time) {
	body, err := json.Marshal(v)
	if err != nil {
		writeProblem(w, http.StatusInternalServerError, "", nil, "encode response: %v", err)
		return
	}
	body = append(body, '\n')
	serveBody(w, r, body, nil, "", lastMod, next, s.cfg.Now(), s.cfg.MaxAge)
}

// aqi serves /api/v1/aqi from the snapshot.
func (s *Service) aqi(w http.ResponseWriter, r *http.Request) {
	std, ok := s.standardParam(w, r, s.cfg.Now())
	if !ok {
		return
	}
	snap := s.current(std)
	serveBody(w, r, snap.body, snap.gz, snap.etag, snap.lastModified, snap.next, s.cfg.Now(), s.cfg.MaxAge)
}

// parseTime parses RFC 3339 or Unix milliseconds.
func parseTime(v string) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339Nano, v); err == nil {
		return t, nil
	}
	ms, err := strconv.ParseInt(v, 10, 64)
	if err != nil || ms < -62135596800000 || ms > 253402300799000 {
		return time.Time{}, fmt.Errorf("want an RFC 3339 time (2026-11-22T10:00:00+08:00) or Unix milliseconds")
	}
	return time.UnixMilli(ms), nil
}
