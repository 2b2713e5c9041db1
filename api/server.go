package api

import (
	"context"
	"embed"
	"io/fs"
	"log/slog"
	"net/http"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/go-chi/chi/v5/middleware"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/envmon/envmon/reading"
	"github.com/envmon/envmon/station"
	"github.com/envmon/envmon/store"
)

// Stations is the station registry as the API reads it.
type Stations interface {
	List() []station.View
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
	AdminToken  string
	Gatherer    prometheus.Gatherer
	Logger      *slog.Logger
	// Now is the clock; default time.Now.
	Now func() time.Time
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
	r.Use(middleware.RequestID, middleware.RealIP, requestLogger(cfg.Logger), middleware.Recoverer)
	r.NotFound(func(w http.ResponseWriter, r *http.Request) {
		writeProblem(w, http.StatusNotFound, "no resource at %s", r.URL.Path)
	})
	r.MethodNotAllowed(func(w http.ResponseWriter, r *http.Request) {
		writeProblem(w, http.StatusMethodNotAllowed, "%s is not allowed on %s", r.Method, r.URL.Path)
	})

	r.Get("/healthz", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	r.Get("/readyz", readyHandler(cfg.Ready))
	r.Handle("/metrics", promhttp.HandlerFor(cfg.Gatherer, promhttp.HandlerOpts{ErrorLog: slog.NewLogLogger(cfg.Logger.Handler(), slog.LevelError)}))

	r.Route("/api/v1", func(r chi.Router) {
		r.Mount("/stations", stationsResource{stations: cfg.Stations, readings: cfg.Readings, now: cfg.Now}.Routes())
		if cfg.DeadLetters != nil {
			r.Mount("/ingest", ingestResource{dead: cfg.DeadLetters, admin: adminAuth{cfg.AdminToken}}.Routes())
		}
	})

	// Go's profiler, for operators holding the admin token.
	r.With(adminAuth{cfg.AdminToken}.require).Mount("/debug", middleware.Profiler())

	static, _ := fs.Sub(web, "web")
	r.Handle("/*", http.FileServerFS(static))
	return r
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
