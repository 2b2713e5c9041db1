package auth_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/envmon/envmon/auth"
	"github.com/envmon/envmon/db"
	"github.com/envmon/envmon/db/dbtest"
)

func TestRequire(t *testing.T) {
	for _, eng := range []struct {
		name  string
		fresh func(testing.TB) db.Config
	}{{"sqlite", dbtest.SQLite}, {"postgres", dbtest.Postgres}} {
		t.Run(eng.name, func(t *testing.T) {
			d, err := db.Open(t.Context(), eng.fresh(t))
			if err != nil {
				t.Fatal(err)
			}
			defer d.Close()
			now := time.Date(2026, 5, 10, 8, 0, 0, 0, time.UTC)
			st, err := auth.Open(t.Context(), d, func() time.Time { return now })
			if err != nil {
				t.Fatal(err)
			}
			officer, _ := st.Create(t.Context(), auth.CreateOptions{Role: auth.Officer, Team: "t1"})
			viewer, _ := st.Create(t.Context(), auth.CreateOptions{Role: auth.Viewer})
			short, _ := st.Create(t.Context(), auth.CreateOptions{Role: auth.Admin, TTL: time.Hour})
			revoked, _ := st.Create(t.Context(), auth.CreateOptions{Role: auth.Admin})
			if err := st.Revoke(t.Context(), revoked.TokenID); err != nil {
				t.Fatal(err)
			}
			now = now.Add(2 * time.Hour)
			h := auth.Require(st, auth.Officer)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				p, _ := auth.FromContext(r.Context())
				w.Write([]byte(p.Team))
			}))
			for _, tt := range []struct {
				name, header string
				status       int
			}{
				{"none", "", 401},
				{"wrong", "Bearer envmon_nope", 401},
				{"expired", "Bearer " + short.Token, 401},
				{"revoked", "Bearer " + revoked.Token, 401},
				{"too small", "Bearer " + viewer.Token, 403},
				{"ok", "Bearer " + officer.Token, 200},
			} {
				r := httptest.NewRequest("POST", "/", nil)
				if tt.header != "" {
					r.Header.Set("Authorization", tt.header)
				}
				w := httptest.NewRecorder()
				h.ServeHTTP(w, r)
				if w.Code != tt.status {
					t.Errorf("%s: %d, want %d", tt.name, w.Code, tt.status)
				}
				if tt.status != 200 && w.Header().Get("Content-Type") != "application/problem+json" {
					t.Errorf("%s: content type %q", tt.name, w.Header().Get("Content-Type"))
				}
				if strings.Contains(w.Body.String(), "envmon_") {
					t.Errorf("%s: the body repeats a token: %s", tt.name, w.Body.String())
				}
			}
		})
	}
}
