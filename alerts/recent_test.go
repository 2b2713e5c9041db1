package alerts

import (
	"slices"
	"testing"
	"time"
)

// TestRecentRing: the ring gives the last recentN values, oldest first,
// as the slice it replaced did (append, dropping the first when full).
func TestRecentRing(t *testing.T) {
	var r recentRing
	if r.samples() != nil {
		t.Fatal("an empty ring has samples")
	}
	var want []sample
	t0 := time.Date(2026, 5, 10, 0, 0, 0, 0, time.UTC)
	for i := range 3*recentN + 5 {
		s := sample{T: t0.Add(time.Duration(i) * time.Minute), V: float64(i)}
		r.add(s)
		if len(want) == recentN {
			want = want[1:]
		}
		want = append(want, s)
		if got := r.samples(); !slices.Equal(got, want) {
			t.Fatalf("after %d values: %v, want %v", i+1, got, want)
		}
	}
}
