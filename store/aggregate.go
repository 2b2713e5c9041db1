package store

import (
	"context"
	"fmt"
	"time"

	"github.com/envmon/envmon/reading"
)

// Aggregator answers downsampled queries: one metric of one station over a
// time range, in buckets of a fixed length, each with one aggregate of its
// QC-clean samples. The sqlite, influx and mem stores implement it;
// store/storetest checks them.
type Aggregator interface {
	// Aggregate returns every bucket of q, empty ones included, oldest
	// first. Errors for invalid queries wrap ErrBadQuery.
	Aggregate(ctx context.Context, q AggregateQuery) ([]Bucket, error)
}

// AggregateFunc adapts a function to Aggregator.
type AggregateFunc func(ctx context.Context, q AggregateQuery) ([]Bucket, error)

// Aggregate calls f.
func (f AggregateFunc) Aggregate(ctx context.Context, q AggregateQuery) ([]Bucket, error) {
	return f(ctx, q)
}

// AggregateQuery selects one metric of one station from From (inclusive) to
// To (exclusive), in buckets of Every: [From, From+Every), [From+Every,
// From+2*Every), and so on, the last one cut short at To. Buckets are
// aligned to From, so a caller who wants them on the hour or at local
// midnight passes a From that is.
type AggregateQuery struct {
	Station string
	Metric  string
	From    time.Time // required
	To      time.Time // required
	Every   time.Duration
	Fn      Fn
}

// MaxBuckets bounds the buckets an AggregateQuery may ask for.
const MaxBuckets = 10_000

// Fn is the aggregate of a bucket's QC-clean samples.
type Fn string

// The aggregates.
const (
	FnMean Fn = "mean" // arithmetic mean
	FnMin  Fn = "min"  // smallest value
	FnMax  Fn = "max"  // largest value
	FnLast Fn = "last" // the value with the latest time
)

// ParseFn returns the aggregate called s; its error wraps ErrBadQuery.
func ParseFn(s string) (Fn, error) {
	switch f := Fn(s); f {
	case FnMean, FnMin, FnMax, FnLast:
		return f, nil
	}
	return "", fmt.Errorf("%w: fn %q: want mean, min, max or last", ErrBadQuery, s)
}

// Bucket is one bucket of an aggregated query: the samples with a time in
// [Start, End). Where one time labels it, as the API's does, it is End, the
// way China's national platform labels an hourly mean by the hour it ends.
type Bucket struct {
	Start time.Time
	End   time.Time
	// Value is the aggregate of the bucket's QC-clean samples; it means
	// nothing when Count is zero.
	Value float64
	// Count is how many QC-clean samples Value aggregates.
	Count int
	// Flagged is how many samples the bucket has that were left out for
	// their quality-control flags. A bucket with Count zero and Flagged
	// above zero is missing because of QC; with both zero, for no data.
	Flagged int
}

// Validate checks q: station and metric set, From before To, both within
// the years 1678 to 2261 that Unix nanoseconds hold, Every positive, a known
// Fn, and at most MaxBuckets buckets.
func (q *AggregateQuery) Validate() error {
	switch {
	case q.Station == "":
		return fmt.Errorf("%w: station is required", ErrBadQuery)
	case q.Metric == "":
		return fmt.Errorf("%w: metric is required", ErrBadQuery)
	case q.From.IsZero() || q.To.IsZero():
		return fmt.Errorf("%w: from and to are required", ErrBadQuery)
	case q.From.Before(minTime) || q.To.After(maxTime):
		return fmt.Errorf("%w: from and to must be within the years 1678 to 2261", ErrBadQuery)
	case !q.From.Before(q.To):
		return fmt.Errorf("%w: from must be before to", ErrBadQuery)
	case q.Every <= 0:
		return fmt.Errorf("%w: every must be positive", ErrBadQuery)
	}
	if _, err := ParseFn(string(q.Fn)); err != nil {
		return err
	}
	if q.count() > MaxBuckets {
		return fmt.Errorf("%w: %v to %v in buckets of %v is more than %d buckets", ErrBadQuery,
			q.From.UTC().Format(time.RFC3339), q.To.UTC().Format(time.RFC3339), q.Every, MaxBuckets)
	}
	return nil
}

// count returns how many buckets q has, From before To and Every positive.
// To-From is taken in nanoseconds as a uint64, since it may not fit a
// time.Duration.
func (q *AggregateQuery) count() uint64 {
	span, every := uint64(q.To.UnixNano())-uint64(q.From.UnixNano()), uint64(q.Every)
	n := span / every
	if span%every != 0 {
		n++
	}
	return n
}

// Buckets returns the buckets of a valid q, in UTC, all empty.
func (q *AggregateQuery) Buckets() []Bucket {
	out := make([]Bucket, q.count())
	start := q.From.UTC()
	for i := range out {
		// Step by step: i*Every may not fit a time.Duration.
		out[i].Start = start
		start = start.Add(q.Every)
		out[i].End = start
		if out[i].End.After(q.To) {
			out[i].End = q.To.UTC()
		}
	}
	return out
}

// BucketOf returns the index, among q.Buckets, of the bucket that holds
// the time t (Unix nanoseconds), or false if t is outside [From, To).
func (q *AggregateQuery) BucketOf(t int64) (int, bool) {
	from, to := q.From.UnixNano(), q.To.UnixNano()
	if t < from || t >= to {
		return 0, false
	}
	return int((uint64(t) - uint64(from)) / uint64(q.Every)), true
}

// Aggregation aggregates samples, added in any order, into the buckets of
// an AggregateQuery. Stores that aggregate in Go (sqlite, mem) use it. Its
// memory is that of the buckets.
type Aggregation struct {
	q       AggregateQuery
	buckets []Bucket
	sums    []float64 // FnMean: the sum of each bucket's clean values
	times   []int64   // FnLast: the time of each bucket's Value
}

// NewAggregation returns an empty Aggregation for q, or q's error.
func NewAggregation(q AggregateQuery) (*Aggregation, error) {
	if err := q.Validate(); err != nil {
		return nil, err
	}
	a := &Aggregation{q: q, buckets: q.Buckets()}
	switch q.Fn {
	case FnMean:
		a.sums = make([]float64, len(a.buckets))
	case FnLast:
		a.times = make([]int64, len(a.buckets))
	}
	return a, nil
}

// Add adds the sample v at time ts (Unix nanoseconds) with the flags qc;
// a time outside the query's range is ignored.
func (a *Aggregation) Add(ts int64, v float64, qc reading.Flags) {
	i, ok := a.q.BucketOf(ts)
	if !ok {
		return
	}
	b := &a.buckets[i]
	if qc != 0 {
		b.Flagged++
		return
	}
	first := b.Count == 0
	b.Count++
	switch a.q.Fn {
	case FnMean:
		a.sums[i] += v
	case FnMin:
		if first || v < b.Value {
			b.Value = v
		}
	case FnMax:
		if first || v > b.Value {
			b.Value = v
		}
	case FnLast:
		if first || ts > a.times[i] {
			b.Value, a.times[i] = v, ts
		}
	}
}

// Buckets returns the buckets with their aggregates.
func (a *Aggregation) Buckets() []Bucket {
	if a.q.Fn == FnMean {
		for i := range a.buckets {
			if n := a.buckets[i].Count; n > 0 {
				a.buckets[i].Value = a.sums[i] / float64(n)
			}
		}
	}
	return a.buckets
}
