package station

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestStatusLogSurvivesReopen: statuses appended are there after the log
// is opened again, the latest per station by time (whatever order they
// were appended in), and a line cut short by a crash is ignored.
func TestStatusLogSurvivesReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "status.jsonl")
	l, got, err := OpenStatusLog(path)
	if err != nil || len(got) != 0 {
		t.Fatalf("open new: %v, %v", got, err)
	}
	t0 := time.Date(2026, 11, 30, 8, 0, 0, 0, time.UTC)
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(l.Append([]StatusRecord{{Point: "p1", Station: "st-1", Status: Online, At: t0}, {Point: "p1", Station: "st-2", Status: Online, At: t0}}))
	must(l.Append([]StatusRecord{{Point: "p1", Station: "st-1", Status: Offline, At: t0.Add(time.Hour)}}))
	must(l.Append([]StatusRecord{{Point: "p1", Station: "st-2", Status: Offline, At: t0.Add(-time.Minute)}})) // older, appended late
	must(l.Close())
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	must(err)
	f.WriteString(`{"point":"p1","station":"st-2","status":"offl`) // torn
	f.Close()

	l, got, err = OpenStatusLog(path)
	must(err)
	defer l.Close()
	want := []StatusRecord{{Point: "p1", Station: "st-1", Status: Offline, At: t0.Add(time.Hour)}, {Point: "p1", Station: "st-2", Status: Online, At: t0}}
	if len(got) != len(want) {
		t.Fatalf("got %+v, want %+v", got, want)
	}
	for i := range want {
		if got[i].Station != want[i].Station || got[i].Status != want[i].Status || !got[i].At.Equal(want[i].At) {
			t.Errorf("record %d = %+v, want %+v", i, got[i], want[i])
		}
	}
	b, _ := os.ReadFile(path)
	if n := len(splitNonEmpty(string(b))); n != 2 {
		t.Errorf("the reopened log has %d lines, want 2 (compacted)", n)
	}
}

func splitNonEmpty(s string) []string {
	var out []string
	start := 0
	for i := 0; i < len(s); i++ {
		if s[i] == '\n' {
			if i > start {
				out = append(out, s[start:i])
			}
			start = i + 1
		}
	}
	return out
}
