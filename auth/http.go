package auth

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
)

// Verifier checks a bearer token; *Store is one.
type Verifier interface {
	Verify(ctx context.Context, token string) (Principal, error)
}

type ctxKey struct{}

// FromContext returns the principal that Require put in ctx.
func FromContext(ctx context.Context) (Principal, bool) {
	p, ok := ctx.Value(ctxKey{}).(Principal)
	return p, ok
}

// WithPrincipal returns ctx carrying p.
func WithPrincipal(ctx context.Context, p Principal) context.Context {
	return context.WithValue(ctx, ctxKey{}, p)
}

// Optional returns middleware for routes open to anyone that show more to
// a principal: a request without an Authorization header passes as
// anonymous; one with a header passes only with a valid token (of any
// role), as Require checks it, and carries its principal.
func Optional(v Verifier) func(http.Handler) http.Handler {
	require := Require(v, Viewer)
	return func(next http.Handler) http.Handler {
		checked := require(next)
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Header.Get("Authorization") == "" {
				next.ServeHTTP(w, r)
				return
			}
			checked.ServeHTTP(w, r)
		})
	}
}

// Require returns middleware that lets a request through only with a bearer
// token of at least role min. A missing, unknown, expired or revoked token
// is 401, a role too small 403, both as application/problem+json (RFC
// 9457); the body never repeats the token.
func Require(v Verifier, min Role) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			h := r.Header.Get("Authorization")
			tok, ok := strings.CutPrefix(h, "Bearer ")
			if !ok || tok == "" {
				w.Header().Set("WWW-Authenticate", `Bearer realm="envmon"`)
				Problem(w, http.StatusUnauthorized, "a bearer token is required (an Authorization: Bearer header)")
				return
			}
			p, err := v.Verify(r.Context(), strings.TrimSpace(tok))
			switch {
			case errors.Is(err, ErrUnknown), errors.Is(err, ErrExpired), errors.Is(err, ErrRevoked):
				w.Header().Set("WWW-Authenticate", `Bearer realm="envmon", error="invalid_token"`)
				Problem(w, http.StatusUnauthorized, "the token is "+strings.TrimPrefix(err.Error(), "token "))
				return
			case err != nil:
				Problem(w, http.StatusServiceUnavailable, "tokens cannot be checked now")
				return
			case !p.Role.AtLeast(min):
				Problem(w, http.StatusForbidden, "this needs the role "+string(min)+" or above; the token has "+string(p.Role))
				return
			}
			next.ServeHTTP(w, r.WithContext(WithPrincipal(r.Context(), p)))
		})
	}
}

// Problem writes an RFC 9457 problem with the given status and detail.
func Problem(w http.ResponseWriter, status int, detail string) {
	w.Header().Set("Content-Type", "application/problem+json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]any{
		"type":   "about:blank",
		"title":  http.StatusText(status),
		"status": status,
		"detail": detail,
	})
}
