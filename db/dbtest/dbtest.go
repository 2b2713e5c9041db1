// Package dbtest is the conformance kit of package db: the same tests, run
// on every engine, and the fresh databases to run them and components'
// tests on.
package dbtest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"net/url"
	"os"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" driver

	"github.com/envmon/envmon/db"
)

// PostgresEnv names the environment variable that overrides
// DefaultPostgresDSN.
const PostgresEnv = "ENVMON_TEST_POSTGRES"

// DefaultPostgresDSN is the test PostgreSQL server, which the machine
// starts before a session and CI runs on: trust authentication, database
// test.
const DefaultPostgresDSN = "postgres://root@127.0.0.1:5432/test?sslmode=disable"

// SQLite returns the Config of a new, empty SQLite database in a temporary
// folder of t.
func SQLite(t testing.TB) db.Config {
	return db.Config{DataDir: t.TempDir()}
}

// Postgres returns the Config of a new, empty schema on the test
// PostgreSQL server ($ENVMON_TEST_POSTGRES, else DefaultPostgresDSN),
// selected with the search_path parameter and dropped when t ends, so
// that tests never see each other's tables. If the server does not answer,
// Postgres skips t under -short and fails it otherwise.
func Postgres(t testing.TB) db.Config {
	t.Helper()
	dsn := os.Getenv(PostgresEnv)
	if dsn == "" {
		dsn = DefaultPostgresDSN
	}
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatalf("$%s is not a URL", PostgresEnv) // the error may quote a password
	}
	admin, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatalf("open PostgreSQL at %s: %v", u.Redacted(), err)
	}
	t.Cleanup(func() { admin.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := admin.PingContext(ctx); err != nil {
		msg := "PostgreSQL at " + u.Redacted() + " does not answer: " + err.Error()
		if testing.Short() {
			t.Skip(msg)
		}
		t.Fatalf("%s; start it (the machine starts it before the session; CI runs on the same machine), or set $%s", msg, PostgresEnv)
	}
	var b [6]byte
	rand.Read(b[:])
	schema := "envmon_test_" + hex.EncodeToString(b[:])
	if _, err := admin.ExecContext(ctx, "CREATE SCHEMA "+schema); err != nil {
		t.Fatalf("create schema %s: %v", schema, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := admin.ExecContext(ctx, "DROP SCHEMA "+schema+" CASCADE"); err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
		}
	})
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return db.Config{DSN: u.String()}
}
