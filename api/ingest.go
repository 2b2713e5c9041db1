package api

import (
	"crypto/subtle"
	"net/http"
	"strconv"
	"strings"

	"github.com/go-chi/chi/v5"

	"github.com/envmon/envmon/ingest"
	"github.com/envmon/envmon/internal/secret"
)

// DeadLetters lists rejected messages; *ingest.DeadLetters satisfies it.
type DeadLetters interface {
	List(reason string, limit int) ([]ingest.Rejected, int64)
}

// ingestResource serves /api/v1/ingest, for operators.
type ingestResource struct {
	dead  DeadLetters
	admin adminAuth
}

func (res ingestResource) Routes() chi.Router {
	r := chi.NewRouter()
	r.Use(res.admin.require)
	r.Get("/rejected", res.rejected)
	return r
}

func (res ingestResource) rejected(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	reason := q.Get("reason")
	if reason != "" && !knownReason(reason) {
		writeProblem(w, http.StatusBadRequest, "reason %q is not one of %s", reason, strings.Join(ingest.Reasons(), ", "))
		return
	}
	limit := 100
	if l := q.Get("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 1 || n > 10_000 {
			writeProblem(w, http.StatusBadRequest, "limit %q is not a whole number from 1 to 10000", l)
			return
		}
		limit = n
	}
	list, total := res.dead.List(reason, limit)
	writeJSON(w, http.StatusOK, map[string]any{"total_rejected": total, "kept": len(list), "rejected": list})
}

func knownReason(s string) bool {
	for _, r := range ingest.Reasons() {
		if r == s {
			return true
		}
	}
	return false
}

// adminAuth guards operators' endpoints with a bearer token.
type adminAuth struct{ token secret.String }

func (a adminAuth) require(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if a.token.IsZero() {
			writeProblem(w, http.StatusForbidden, "admin endpoints are disabled: set api.admin_token (--admin-token, ENVMON_API_ADMIN_TOKEN)")
			return
		}
		got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok || subtle.ConstantTimeCompare([]byte(got), []byte(a.token.Reveal())) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="envmon admin"`)
			writeProblem(w, http.StatusUnauthorized, "a valid admin token is required: Authorization: Bearer <api.admin_token>")
			return
		}
		next.ServeHTTP(w, r)
	})
}
