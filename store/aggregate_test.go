package store_test

import (
	"errors"
	"testing"
	"time"

	"github.com/envmon/envmon/store"
)

func TestAggregateQueryBuckets(t *testing.T) {
	day := 24 * time.Hour
	tests := []struct {
		name   string
		q      store.AggregateQuery
		n      int       // buckets; -1 means a bad query
		last   time.Time // End of the last bucket
		before int64     // a time in the first bucket
	}{
		{"exact", agg(t0(), t0().Add(time.Hour), time.Minute), 60, t0().Add(time.Hour), t0().UnixNano()},
		{"cut short", agg(t0(), t0().Add(time.Hour+time.Second), time.Minute), 61, t0().Add(time.Hour + time.Second), t0().UnixNano()},
		{"before 1970", agg(time.Date(1900, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(1900, 1, 3, 0, 0, 0, 0, time.UTC), day), 2,
			time.Date(1900, 1, 3, 0, 0, 0, 0, time.UTC), time.Date(1900, 1, 1, 23, 0, 0, 0, time.UTC).UnixNano()},
		{"across 1970", agg(time.Unix(-90, 0), time.Unix(90, 0), time.Minute), 3, time.Unix(90, 0).UTC(), time.Unix(-31, 0).UnixNano()},
		{"whole range by 100 years", agg(time.Unix(0, -1<<63), time.Unix(0, 1<<63-1), 100*365*day), 6, time.Unix(0, 1<<63-1).UTC(), -1 << 63},
		{"whole range by second", agg(time.Unix(0, -1<<63), time.Unix(0, 1<<63-1), time.Second), -1, time.Time{}, 0},
		{"max", agg(t0(), t0().Add(store.MaxBuckets*time.Minute), time.Minute), store.MaxBuckets, t0().Add(store.MaxBuckets * time.Minute), t0().UnixNano()},
		{"one over max", agg(t0(), t0().Add(store.MaxBuckets*time.Minute+1), time.Minute), -1, time.Time{}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.q.Validate()
			if tt.n < 0 {
				if !errors.Is(err, store.ErrBadQuery) {
					t.Errorf("Validate = %v, want an error wrapping ErrBadQuery", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Validate: %v", err)
			}
			bs := tt.q.Buckets()
			if len(bs) != tt.n {
				t.Fatalf("%d buckets, want %d", len(bs), tt.n)
			}
			if !bs[0].Start.Equal(tt.q.From) || !bs[len(bs)-1].End.Equal(tt.last) {
				t.Errorf("buckets from %v to %v, want %v to %v", bs[0].Start, bs[len(bs)-1].End, tt.q.From, tt.last)
			}
			for i := 1; i < len(bs); i++ {
				if !bs[i].Start.Equal(bs[i-1].End) {
					t.Fatalf("bucket %d starts at %v, not at the end of the one before, %v", i, bs[i].Start, bs[i-1].End)
				}
			}
			if i, ok := tt.q.BucketOf(tt.before); !ok || i != 0 {
				t.Errorf("BucketOf(%d) = %d, %v; want 0, true", tt.before, i, ok)
			}
			for _, b := range bs {
				if i, ok := tt.q.BucketOf(b.End.UnixNano() - 1); !ok || !bs[i].Start.Equal(b.Start) {
					t.Fatalf("BucketOf(the end of bucket %v - 1ns) = %d, %v", b.Start, i, ok)
				}
			}
			if _, ok := tt.q.BucketOf(tt.q.To.UnixNano()); ok && tt.q.To.UnixNano() != 1<<63-1 {
				t.Errorf("BucketOf(To) is in a bucket")
			}
		})
	}
}

func TestParseFn(t *testing.T) {
	for _, s := range []string{"mean", "min", "max", "last"} {
		if f, err := store.ParseFn(s); err != nil || string(f) != s {
			t.Errorf("ParseFn(%q) = %q, %v", s, f, err)
		}
	}
	for _, s := range []string{"", "avg", "MEAN", "median"} {
		if _, err := store.ParseFn(s); !errors.Is(err, store.ErrBadQuery) {
			t.Errorf("ParseFn(%q) = %v, want an error wrapping ErrBadQuery", s, err)
		}
	}
}

func t0() time.Time { return time.Date(2024, 5, 1, 0, 0, 0, 123, time.UTC) }

func agg(from, to time.Time, every time.Duration) store.AggregateQuery {
	return store.AggregateQuery{Station: "s1", Metric: "pm25", From: from, To: to, Every: every, Fn: store.FnMean}
}
