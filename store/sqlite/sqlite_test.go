package sqlite_test

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"
	"time"

	"github.com/envmon/envmon/reading"
	"github.com/envmon/envmon/store"
	"github.com/envmon/envmon/store/sqlite"
	"github.com/envmon/envmon/store/storetest"
)

func open(t testing.TB, path string) *sqlite.Store {
	t.Helper()
	s, err := sqlite.Open(context.Background(), path)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return s
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		return open(t, filepath.Join(t.TempDir(), "envmon.db"))
	})
}

func TestReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sub", "dir", "envmon.db")
	base := time.Date(2024, 5, 1, 8, 0, 0, 987654321, time.UTC)
	rs := storetest.Readings("p1", "s1", reading.Water, []string{"ph", "do"}, base, time.Minute, 10)

	s := open(t, path)
	if err := s.Write(t.Context(), rs); err != nil {
		t.Fatalf("Write: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}

	s = open(t, path)
	defer s.Close()
	got, err := s.Query(t.Context(), store.Query{Station: "s1", Metric: "do"})
	if err != nil {
		t.Fatalf("Query after reopen: %v", err)
	}
	want := storetest.Samples(rs, "s1", "do")
	if len(got) != len(want) {
		t.Fatalf("after reopen got %d samples, want %d", len(got), len(want))
	}
	for i := range got {
		if !got[i].Time.Equal(want[i].Time) || got[i].Value != want[i].Value {
			t.Errorf("sample %d = %v, want %v", i, got[i], want[i])
		}
	}
	latest, err := s.Latest(t.Context())
	if err != nil {
		t.Fatalf("Latest after reopen: %v", err)
	}
	if len(latest) != 2 || !latest[0].Time.Equal(base.Add(9*time.Minute)) || latest[0].Medium != reading.Water {
		t.Errorf("Latest after reopen = %+v", latest)
	}
}

func TestNewerSchema(t *testing.T) {
	path := filepath.Join(t.TempDir(), "envmon.db")
	open(t, path).Close()
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec("PRAGMA user_version = 99"); err != nil {
		t.Fatal(err)
	}
	db.Close()
	if s, err := sqlite.Open(t.Context(), path); err == nil {
		s.Close()
		t.Fatal("Open of a database with a newer schema succeeded")
	}
}

func TestOpenBadPath(t *testing.T) {
	tests := []struct{ name, path string }{
		{"empty", ""},
		{"question mark", filepath.Join(t.TempDir(), "a?b.db")},
		{"parent is a file", filepath.Join(t.TempDir(), "envmon.db", "x.db")},
	}
	// Make the parent a file for the last case.
	dir := filepath.Dir(tests[2].path)
	open(t, dir).Close()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if s, err := sqlite.Open(t.Context(), tt.path); err == nil {
				s.Close()
				t.Errorf("Open(%q) succeeded", tt.path)
			}
		})
	}
}

// BenchmarkWrite writes batches of 1000 readings of 6 values each.
func BenchmarkWrite(b *testing.B) {
	s := open(b, filepath.Join(b.TempDir(), "envmon.db"))
	defer s.Close()
	storetest.BenchmarkWrite(b, s, time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC))
}

// BenchmarkScan scans 360,000 values of 100 stations.
func BenchmarkScan(b *testing.B) {
	s := open(b, filepath.Join(b.TempDir(), "envmon.db"))
	defer s.Close()
	storetest.BenchmarkScan(b, s, time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC))
}
