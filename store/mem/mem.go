// Package mem keeps readings in memory; it is the store other packages' tests
// use as a fake.
package mem

import (
	"cmp"
	"context"
	"errors"
	"fmt"
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
