// Package mem keeps readings in memory; it is the store other packages' tests
// use as a fake.
package mem

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
	"sync"
	"time"

	"github.com/envmon/envmon/reading"
	"github.com/envmon/envmon/store"
)

// Store is an in-memory store.Store. It is safe for concurrent use. The zero
// value is not usable; call New.
type Store struct {
	mu     sync.RWMutex
	closed bool
	// series holds each station's metric's samples by Unix nanosecond.
	series map[key]map[int64]entry
}

type key struct{ station, metric string }

type entry struct {
	point  string
	medium reading.Medium
	value  float64
	qc     reading.Flags
}

var _ store.Store = (*Store)(nil)

// errClosed is returned by every method of a closed Store but Close.
var errClosed = errors.New("mem store is closed")

// New returns an empty Store.
func New() *Store {
	return &Store{series: make(map[key]map[int64]entry)}
}

// Write stores rs. Like the other stores it rejects the whole batch if a
// reading has no station or medium, or a value that is not finite.
func (s *Store) Write(ctx context.Context, rs []reading.Reading) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("write readings: %w", err)
	}
	for i := range rs {
		if err := store.CheckReading(&rs[i]); err != nil {
			return fmt.Errorf("write readings: %w", err)
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return errClosed
	}
	for _, r := range rs {
		ts := r.Time.UnixNano()
		for _, v := range r.Values {
			k := key{r.Station, v.Metric}
			m := s.series[k]
			if m == nil {
				m = make(map[int64]entry)
				s.series[k] = m
			}
			m[ts] = entry{point: r.Point, medium: r.Medium, value: v.Value, qc: v.QC}
		}
	}
	return nil
}

// Query returns the samples q selects; of more than q.Limit it keeps the
// newest.
func (s *Store) Query(ctx context.Context, q store.Query) ([]reading.Sample, error) {
	if err := q.Validate(); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("query readings: %w", err)
	}
	from, to := store.UnixNanos(q.From, math.MinInt64), store.UnixNanos(q.To, math.MaxInt64)
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return nil, errClosed
	}
	var out []reading.Sample
	for ts, e := range s.series[key{q.Station, q.Metric}] {
		if ts >= from && ts < to {
			out = append(out, reading.Sample{Time: time.Unix(0, ts).UTC(), Value: e.value, QC: e.qc})
		}
	}
	slices.SortFunc(out, func(a, b reading.Sample) int { return a.Time.Compare(b.Time) })
	if len(out) > q.Limit {
		out = out[len(out)-q.Limit:]
	}
	return out, nil
}

// Latest returns the newest value of every metric of every station, ordered
// by station and metric.
func (s *Store) Latest(ctx context.Context) ([]reading.Latest, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("latest readings: %w", err)
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return nil, errClosed
	}
	out := make([]reading.Latest, 0, len(s.series))
	for k, m := range s.series {
		var (
			newest int64 = math.MinInt64
			e      entry
		)
		for ts, x := range m {
			if ts >= newest {
				newest, e = ts, x
			}
		}
		out = append(out, reading.Latest{
			Point:   e.point,
			Station: k.station,
			Medium:  e.medium,
			Metric:  k.metric,
			Time:    time.Unix(0, newest).UTC(),
			Value:   e.value,
			QC:      e.qc,
		})
	}
	slices.SortFunc(out, func(a, b reading.Latest) int {
		return cmp.Or(cmp.Compare(a.Station, b.Station), cmp.Compare(a.Metric, b.Metric))
	})
	return out, nil
}

// Ping reports an error only if the store is closed.
func (s *Store) Ping(ctx context.Context) error {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return errClosed
	}
	return ctx.Err()
}

// Close drops the readings. Later calls of other methods fail.
func (s *Store) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	s.series = nil
	return nil
}

var (
	_ store.Scanner    = (*Store)(nil)
	_ store.Aggregator = (*Store)(nil)
)

// Scan calls fn with every reading in [from, to), station by station in
// name order, each station's oldest first. It copies one station's
// readings at a time under the read lock, and calls fn without it.
func (s *Store) Scan(ctx context.Context, from, to time.Time, fn func(reading.Reading) error) error {
	lo, hi := store.UnixNanos(from, math.MinInt64), store.UnixNanos(to, math.MaxInt64)
	s.mu.RLock()
	if s.closed {
		s.mu.RUnlock()
		return errClosed
	}
	metrics := make(map[string][]string) // of each station
	for k := range s.series {
		metrics[k.station] = append(metrics[k.station], k.metric)
	}
	s.mu.RUnlock()

	type value struct {
		ts     int64
		point  string
		medium reading.Medium
		v      reading.Value
	}
	for _, station := range slices.Sorted(maps.Keys(metrics)) {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("scan readings: %w", err)
		}
		ms := metrics[station]
		slices.Sort(ms)
		var vs []value
		s.mu.RLock()
		if s.closed {
			s.mu.RUnlock()
			return errClosed
		}
		for _, m := range ms {
			for ts, e := range s.series[key{station, m}] {
				if ts >= lo && ts < hi {
					vs = append(vs, value{ts, e.point, e.medium, reading.Value{Metric: m, Value: e.value, QC: e.qc}})
				}
			}
		}
		s.mu.RUnlock()
		slices.SortFunc(vs, func(a, b value) int {
			return cmp.Or(cmp.Compare(a.ts, b.ts), cmp.Compare(a.point, b.point),
				cmp.Compare(a.medium, b.medium), cmp.Compare(a.v.Metric, b.v.Metric))
		})
		for i := 0; i < len(vs); {
			j := i + 1
			for j < len(vs) && vs[j].ts == vs[i].ts && vs[j].point == vs[i].point && vs[j].medium == vs[i].medium {
				j++
			}
			r := reading.Reading{Point: vs[i].point, Station: station, Medium: vs[i].medium, Time: time.Unix(0, vs[i].ts).UTC()}
			r.Values = make([]reading.Value, 0, j-i)
			for _, x := range vs[i:j] {
				r.Values = append(r.Values, x.v)
			}
			if err := fn(r); err != nil {
				return err
			}
			i = j
		}
	}
	return nil
}

// Aggregate returns the buckets q asks for; it visits every sample of the
// series.
func (s *Store) Aggregate(ctx context.Context, q store.AggregateQuery) ([]store.Bucket, error) {
	a, err := store.NewAggregation(q)
	if err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("aggregate readings: %w", err)
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return nil, errClosed
	}
	for ts, e := range s.series[key{q.Station, q.Metric}] {
		a.Add(ts, e.value, e.qc)
	}
	return a.Buckets(), nil
}
