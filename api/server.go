package api

import (
	"context"
	"embed"
	"io/fs"
	"log/slog"
	"net/http"
	"path"
	"slices"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/go-chi/chi/v5/middleware"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/envmon/envmon/internal/secret"
	"github.com/envmon/envmon/reading"
	"github.com/envmon/envmon/station"
	"github.com/envmon/envmon/store"
)

// Stations is the station registry as the API reads it.
type Stations interface {
	List() []station.View
	// Page lists up to limit stations after (point, id) in List's order,
	// and how many there are.
	Page(afterPoint, afterID string, limit int) ([]station.View, int)
	Get(id string) (station.View, bool)
	Latest(id string) ([]reading.Latest, bool)
}

// Readings answers history queries; store.Store satisfies it.
type Readings interface {
	Query(ctx context.Context, q store.Query) ([]reading.Sample, error)
}

// Check is one readiness check, such as "the store answers a ping".
type Check struct {
	Name  string
	Check func(ctx context.Context) error
}

// Config configures the HTTP handler.
type Config struct {
	Stations Stations
	Readings Readings
	// Ready lists what /readyz checks.
	Ready []Check
	// DeadLetters, if set, is listed at /api/v1/ingest/rejected for holders
	// of AdminToken.
	DeadLetters DeadLetters
	AdminToken  secret.String
	Gatherer    prometheus.Gatherer
	// Registerer, if set, takes the HTTP server's metrics
	// (envmon_http_requests_total, envmon_http_requests_in_flight).
	Registerer prometheus.Registerer
	Logger     *slog.Logger
	// Now is the clock; default time.Now.
	Now func() time.Time
	// Mounts are the components' routes (the public air quality, alerts,
	// cases, Open311), served beside api's own with the same middleware.
	Mounts []Mount
}

// Mount is a component's HTTP handler at Pattern, a full path. With
// Prefix, it serves everything under Pattern (chi's Mount); otherwise
// Pattern alone, with any method (chi's Handle).
type Mount struct {
	Pattern string
	Handler http.Handler
	Prefix  bool
}

//go:embed web
var web embed.FS

// Handler returns envmon's whole HTTP handler.
func Handler(cfg Config) http.Handler {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Gatherer == nil {
		cfg.Gatherer = prometheus.NewRegistry()
	}
	r := chi.NewRouter()
	r.Use(middleware.RequestID, newHTTPMetrics(cfg.Registerer).middleware, requestLogger(cfg.Logger),
		middleware.Recoverer, problemFor405, headAsGet)
	r.NotFound(notFound)

	r.Get("/healthz", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	r.Get("/readyz", readyHandler(cfg.Ready))
	r.Handle("/metrics", promhttp.HandlerFor(cfg.Gatherer, promhttp.HandlerOpts{ErrorLog: slog.NewLogLogger(cfg.Logger.Handler(), slog.LevelError)}))

	for _, m := range cfg.Mounts {
		if m.Prefix {
			r.Mount(m.Pattern, m.Handler)
		} else {
			r.Handle(m.Pattern, m.Handler)
		}
	}
	r.Route("/api/v1", func(r chi.Router) {
		r.Mount("/stations", stationsResource{stations: cfg.Stations, readings: cfg.Readings, now: cfg.Now, log: cfg.Logger}.Routes())
		if cfg.DeadLetters != nil {
			r.Mount("/ingest", ingestResource{dead: cfg.DeadLetters, admin: adminAuth{cfg.AdminToken}}.Routes())
		}
	})

	// Go's profiler, for operators holding the admin token.
	r.With(adminAuth{cfg.AdminToken}.require).Mount("/debug", middleware.Profiler())

	// Every other path under /api, of any version, is a JSON 404.
	r.Handle("/api", http.HandlerFunc(notFound))
	r.Handle("/api/*", http.HandlerFunc(notFound))
	static, _ := fs.Sub(web, "web")
	r.Get("/*", staticFiles(static).ServeHTTP)
	return r
}

// notFound answers 404 as a problem.
func notFound(w http.ResponseWriter, r *http.Request) {
	writeProblem(w, http.StatusNotFound, "no resource at %s", clip(r.URL.Path))
}

// headAsGet routes HEAD requests to the GET routes; net/http leaves out the
// body. (chi's middleware.GetHead asks chi's Match, which finds a HEAD
// route in every mounted router, and so 405s them.)
func headAsGet(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if rctx := chi.RouteContext(r.Context()); rctx != nil && r.Method == http.MethodHead {
			rctx.RouteMethod = http.MethodGet
		}
		next.ServeHTTP(w, r)
	})
}

// problemFor405 turns chi's 405, which has the route's Allow header but an
// empty body, into a problem. (A handler of chi's MethodNotAllowed would
// not know the allowed methods: chi keeps them to itself.) GET routes
// answer HEAD too (headAsGet), so the Allow header says so.
func problemFor405(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		next.ServeHTTP(&allowWriter{ResponseWriter: w, r: r}, r)
	})
}

// allowWriter rewrites an empty 405 as a problem.
type allowWriter struct {
	http.ResponseWriter
	r        *http.Request
	replaced bool
}

func (w *allowWriter) WriteHeader(code int) {
	h := w.Header()
	if code != http.StatusMethodNotAllowed || h.Get("Content-Type") != "" || w.replaced {
		w.ResponseWriter.WriteHeader(code)
		return
	}
	w.replaced = true
	allowed := h.Values("Allow")
	if slices.Contains(allowed, http.MethodGet) && !slices.Contains(allowed, http.MethodHead) {
		allowed = append(allowed, http.MethodHead)
	}
	list := strings.Join(allowed, ", ")
	h.Set("Allow", list)
	writeProblem(w.ResponseWriter, code, "%s is not allowed on %s; allowed: %s", w.r.Method, clip(w.r.URL.Path), list)
}

func (w *allowWriter) Write(b []byte) (int, error) {
	if w.replaced {
		return len(b), nil
	}
	return w.ResponseWriter.Write(b)
}

// Flush passes flushes on, for streamed responses.
func (w *allowWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// Unwrap gives http.ResponseController the underlying writer.
func (w *allowWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// pageCSP is the public page's Content-Security-Policy: scripts, styles
// and data from envmon itself only, no inline script or style attribute
// (the page sets colours through the CSSOM), and map tiles from
// OpenStreetMap.
const pageCSP = "default-src 'self'; script-src 'self'; style-src 'self'; " +
	"img-src 'self' data: https://*.tile.openstreetmap.org; connect-src 'self'; font-src 'self'; " +
	"object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

// staticFiles serves the public page's files, and a problem for a path
// that names none (http.FileServer's own 404 is plain text).
func staticFiles(fsys fs.FS) http.Handler {
	files := http.FileServerFS(fsys)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name := strings.TrimPrefix(path.Clean("/"+r.URL.Path), "/")
		if name == "" {
			name = "."
		}
		fi, err := fs.Stat(fsys, name)
		if err == nil && fi.IsDir() {
			_, err = fs.Stat(fsys, path.Join(name, "index.html"))
		}
		if err != nil {
			notFound(w, r)
			return
		}
		h := w.Header()
		h.Set("Content-Security-Policy", pageCSP)
		h.Set("X-Content-Type-Options", "nosniff")
		files.ServeHTTP(w, r)
	})
}

// clip bounds a request's text quoted in a response.
func clip(s string) string {
	const max = 256
	if len(s) <= max {
		return s
	}
	return s[:max] + "…"
}

func readyHandler(checks []Check) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 3*time.Second)
		defer cancel()
		status := http.StatusOK
		out := map[string]string{}
		for _, c := range checks {
			if err := c.Check(ctx); err != nil {
				status = http.StatusServiceUnavailable
				out[c.Name] = err.Error()
			} else {
				out[c.Name] = "ok"
			}
		}
		writeJSON(w, status, out)
	}
}

func requestLogger(logger *slog.Logger) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			ww := middleware.NewWrapResponseWriter(w, r.ProtoMajor)
			start := time.Now()
			next.ServeHTTP(ww, r)
			logger.Debug("http request", "method", r.Method, "path", r.URL.Path, "status", ww.Status(),
				"bytes", ww.BytesWritten(), "duration", time.Since(start), "request_id", middleware.GetReqID(r.Context()))
		})
	}
}
