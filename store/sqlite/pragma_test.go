package sqlite

import (
	"database/sql"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/envmon/envmon/reading"
	"github.com/envmon/envmon/store"
)

// TestPragmas checks the settings that make a Write durable, on every
// connection of the pool.
func TestPragmas(t *testing.T) {
	s, err := Open(t.Context(), filepath.Join(t.TempDir(), "envmon.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	s.db.SetMaxIdleConns(3)

	tests := []struct {
		pragma, want string
	}{
		{"journal_mode", "wal"},
		{"synchronous", "2"}, // FULL
		{"busy_timeout", "10000"},
		{"temp_store", "2"}, // MEMORY
		{"user_version", "2"},
	}
	// Hold three connections at once so that the pool has to open them.
	for range 3 {
		conn, err := s.db.Conn(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		for _, tt := range tests {
			var got string
			if err := conn.QueryRowContext(t.Context(), "PRAGMA "+tt.pragma).Scan(&got); err != nil {
				t.Fatalf("PRAGMA %s: %v", tt.pragma, err)
			}
			if got != tt.want {
				t.Errorf("PRAGMA %s = %s, want %s", tt.pragma, got, tt.want)
			}
		}
	}
}

// TestMigrate opens a database of schema version 1 and expects its readings
// to survive the migration, unflagged.
func TestMigrate(t *testing.T) {
	path := filepath.Join(t.TempDir(), "envmon.db")
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	for _, stmt := range []string{
		migrations[0],
		"PRAGMA user_version = 1",
		"INSERT INTO readings VALUES ('s1', 'pm25', 1700000000000000000, 'air', 'p1', 12.5)",
		"INSERT INTO latest VALUES ('s1', 'pm25', 1700000000000000000, 'air', 'p1', 12.5)",
	} {
		if _, err := db.Exec(stmt); err != nil {
			t.Fatalf("%s: %v", stmt, err)
		}
	}
	db.Close()

	s, err := Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	got, err := s.Query(t.Context(), store.Query{Station: "s1", Metric: "pm25"})
	if err != nil {
		t.Fatal(err)
	}
	want := []reading.Sample{{Time: time.Unix(0, 1700000000000000000).UTC(), Value: 12.5}}
	if !slices.Equal(got, want) {
		t.Errorf("Query = %v, want %v", got, want)
	}
	latest, err := s.Latest(t.Context())
	if err != nil || len(latest) != 1 || latest[0].QC != 0 || latest[0].Value != 12.5 {
		t.Errorf("Latest = %+v, %v", latest, err)
	}
	if err := s.Write(t.Context(), []reading.Reading{{Station: "s1", Medium: reading.Air, Time: time.Unix(1800000000, 0),
		Values: []reading.Value{{Metric: "pm25", Value: 1, QC: reading.FlagSpike}}}}); err != nil {
		t.Fatalf("Write after migration: %v", err)
	}
}
