package cases_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"os"
	"slices"
	"testing"
	"testing/fstest"

	"github.com/envmon/envmon/cases"
	"github.com/envmon/envmon/cases/pii"
	"github.com/envmon/envmon/db"
)

func sha(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])
}

// stored returns every value of every complainant's row, as text.
func stored(t *testing.T, d *db.DB) []string {
	t.Helper()
	rows, err := d.SQL().Query(`SELECT * FROM cases_complainants`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	cols, _ := rows.Columns()
	var out []string
	for rows.Next() {
		vals := make([]sql.NullString, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		for _, v := range vals {
			out = append(out, v.String)
		}
	}
	return out
}

// requestOf checks that token finds request id, or none when id is "";
// what names the token in failures, which do not show it.
func requestOf(t *testing.T, e *env, what, token, id string) {
	t.Helper()
	got, err := e.svc.RequestOfToken(context.Background(), token)
	switch {
	case id == "" && !errors.Is(err, cases.ErrNotFound):
		t.Errorf("%s: request %q, %v; want ErrNotFound", what, got, err)
	case id != "" && (err != nil || got != id):
		t.Errorf("%s: request %q, %v; want %s", what, got, err, id)
	}
}

// TestTokenStoredHashed: a complainant's token is stored as its SHA-256
// only; the token finds its request, and neither the hash nor another
// string does.
func TestTokenStoredHashed(t *testing.T) {
	for _, eng := range engines {
		t.Run(eng.name, func(t *testing.T) {
			c := &clock{t: at("2026-05-11 09:00")}
			e := newEnv(t, eng.fresh(t), c, pii.New(), &sink{}, &bytes.Buffer{}, "r1")
			rc := complaint(t, e, 0)
			vals := stored(t, e.db)
			if slices.Contains(vals, rc.Token) || !slices.Contains(vals, sha(rc.Token)) {
				t.Errorf("the complainant's row holds the token in clear, or not its SHA-256")
			}
			requestOf(t, e, "the token", rc.Token, rc.RequestID)
			for _, bad := range []struct{ what, token string }{
				{"the token's hash", sha(rc.Token)}, {"no token", ""},
				{"the token less a character", rc.Token[:len(rc.Token)-1]}, {"10,000 NULs", string(make([]byte, 10000))},
			} {
				requestOf(t, e, bad.what, bad.token, "")
			}
		})
	}
}

// TestClearTokensHashedOnUpgrade: a token stored in clear by an earlier
// version (schema 1) is hashed when the service starts on the database,
// and still finds its request; a restart hashes nothing twice.
func TestClearTokensHashedOnUpgrade(t *testing.T) {
	v1, err := os.ReadFile("migrations/00001_cases.sql")
	if err != nil {
		t.Fatal(err)
	}
	const clear = "0123456789abcdef01234567" // as randomID(12) made them
	for _, eng := range engines {
		t.Run(eng.name, func(t *testing.T) {
			cfg := eng.fresh(t)
			old, err := db.Open(t.Context(), cfg)
			if err != nil {
				t.Fatal(err)
			}
			if err := old.Migrate(t.Context(), "cases", fstest.MapFS{"00001_cases.sql": {Data: v1}}); err != nil {
				t.Fatal(err)
			}
			if _, err := old.SQL().Exec(`INSERT INTO cases_complainants (id, token, case_id, channel, category, received_at, created_at)
				VALUES ('sr-old', $1, 'case-old', 'open311', 'air', 0, 0)`, clear); err != nil {
				t.Fatal(err)
			}
			old.Close()

			c := &clock{t: at("2026-05-11 09:00")}
			e := newEnv(t, cfg, c, pii.New(), &sink{}, &bytes.Buffer{}, "r1")
			if vals := stored(t, e.db); slices.Contains(vals, clear) || !slices.Contains(vals, sha(clear)) {
				t.Errorf("after the upgrade the old row holds its token in clear, or not its SHA-256")
			}
			requestOf(t, e, "the old token", clear, "sr-old")
			rc := complaint(t, e, 0)
			e.start()
			requestOf(t, e, "the old token after a restart", clear, "sr-old")
			requestOf(t, e, "a new token after a restart", rc.Token, rc.RequestID)
		})
	}
}
