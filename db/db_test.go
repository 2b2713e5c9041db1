package db_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/envmon/envmon/db"
	"github.com/envmon/envmon/db/dbtest"
)

func TestSQLite(t *testing.T) { dbtest.Run(t, dbtest.SQLite) }

func TestPostgres(t *testing.T) { dbtest.Run(t, dbtest.Postgres) }

func TestOpenSQLiteFile(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "new", "data")
	d, err := db.Open(t.Context(), db.Config{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if _, err := os.Stat(filepath.Join(dir, db.SQLiteFile)); err != nil {
		t.Errorf("no database file: %v", err)
	}
	var mode string
	if err := d.SQL().QueryRowContext(t.Context(), "PRAGMA journal_mode").Scan(&mode); err != nil || mode != "wal" {
		t.Errorf("journal_mode = %q, %v; want wal", mode, err)
	}
	var fk int
	if err := d.SQL().QueryRowContext(t.Context(), "PRAGMA foreign_keys").Scan(&fk); err != nil || fk != 1 {
		t.Errorf("foreign_keys = %d, %v; want 1", fk, err)
	}
}

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name string
		cfg  db.Config
		want string // a part of the error, or "" for none
		eng  db.Engine
	}{
		{"sqlite", db.Config{DataDir: "/var/lib/envmon"}, "", db.SQLite},
		{"postgres", db.Config{DSN: "postgres://u:pw@localhost/envmon"}, "", db.Postgres},
		{"postgresql", db.Config{DSN: "postgresql://localhost/envmon?sslmode=disable"}, "", db.Postgres},
		{"no data dir", db.Config{}, "data_dir", db.SQLite},
		{"mysql", db.Config{DSN: "mysql://u:secret@h/db"}, `db.dsn: want a postgres:// or postgresql:// URL, or empty for SQLite in data_dir (got scheme "mysql")`, db.SQLite},
		{"question mark", db.Config{DataDir: "/tmp/x?y"}, "data_dir", db.SQLite},
		{"busy timeout", db.Config{DataDir: "d", BusyTimeout: -1}, "db.busy_timeout", db.SQLite},
		{"conns", db.Config{DataDir: "d", MaxOpenConns: -1}, "db.max_open_conns", db.SQLite},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.cfg.Validate()
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("Validate() = %v", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Errorf("Validate() = %v, want an error with %q", err, tt.want)
			}
			if err != nil && strings.Contains(err.Error(), "secret") {
				t.Errorf("error %q shows the password", err)
			}
			if got := tt.cfg.Engine(); got != tt.eng {
				t.Errorf("Engine() = %q, want %q", got, tt.eng)
			}
		})
	}
}

func TestOpenPostgresBadURLHidesPassword(t *testing.T) {
	_, err := db.Open(context.Background(), db.Config{DSN: "postgres://u:secret@host:notaport/db"})
	if err == nil {
		t.Fatal("Open accepted a bad URL")
	}
	if strings.Contains(err.Error(), "secret") {
		t.Errorf("error %q shows the password", err)
	}
}
