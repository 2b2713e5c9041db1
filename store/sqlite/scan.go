package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"math"
	"time"

	"github.com/envmon/envmon/reading"
	"github.com/envmon/envmon/store"
)

var (
	_ store.Scanner    = (*Store)(nil)
	_ store.Aggregator = (*Store)(nil)
)

// Scan calls fn with every reading in [from, to), station by station in
// name order, each station's oldest first.
//
// Its cost: the latest table gives the series whose newest value is not
// older than from (the others have nothing in the range); then, for each
// station, one range seek per metric on the primary key (station, metric,
// ts), all of the station's cursors open at once on one connection and
// merged by time. So it reads only the rows in the range, plus one seek a
// series, and holds one row per metric of one station. While a station is
// read, its cursors hold one read snapshot, which writers do not wait for
// (WAL) but which keeps a checkpoint from finishing behind it.
// BenchmarkScan reads about 1.3 million values/s on a 2-core machine.
func (s *Store) Scan(ctx context.Context, from, to time.Time, fn func(reading.Reading) error) error {
	lo, hi := store.UnixNanos(from, math.MinInt64), store.UnixNanos(to, math.MaxInt64)
	stations, err := s.seriesSince(ctx, lo)
	if err != nil {
		return fmt.Errorf("scan sqlite: %w", err)
	}
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return fmt.Errorf("scan sqlite: %w", err)
	}
	defer conn.Close()
	for _, st := range stations {
		if err := scanStation(ctx, conn, st, lo, hi, fn); err != nil {
			return err
		}
	}
	return nil
}

// stationSeries is a station and its metrics, in name order.
type stationSeries struct {
	station string
	metrics []string
}

// seriesSince returns the series with a value at or after lo, by station.
func (s *Store) seriesSince(ctx context.Context, lo int64) ([]stationSeries, error) {
	rows, err := s.db.QueryContext(ctx, `
		SELECT station, metric FROM latest WHERE ts >= ? ORDER BY station, metric`, lo)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []stationSeries
	for rows.Next() {
		var station, metric string
		if err := rows.Scan(&station, &metric); err != nil {
			return nil, err
		}
		if n := len(out); n == 0 || out[n-1].station != station {
			out = append(out, stationSeries{station: station})
		}
		out[len(out)-1].metrics = append(out[len(out)-1].metrics, metric)
	}
	return out, rows.Err()
}

// cursor is the scan of one series, at its current row.
type cursor struct {
	rows   *sql.Rows
	metric string
	ok     bool // false once the rows are done
	ts     int64
	medium string
	point  string
	value  float64
	qc     int64
}

func (c *cursor) next() error {
	if c.ok = c.rows.Next(); c.ok {
		return c.rows.Scan(&c.ts, &c.medium, &c.point, &c.value, &c.qc)
	}
	return c.rows.Err()
}

// scanStation passes the readings of one station to fn, merging its
// series' cursors by time. Values at one time under one point and medium
// make one reading, in metric order.
func scanStation(ctx context.Context, conn *sql.Conn, st stationSeries, lo, hi int64, fn func(reading.Reading) error) error {
	cs := make([]*cursor, 0, len(st.metrics))
	defer func() {
		for _, c := range cs {
			c.rows.Close()
		}
	}()
	for _, m := range st.metrics {
		rows, err := conn.QueryContext(ctx, `
			SELECT ts, medium, point, value, qc FROM readings
			WHERE station = ? AND metric = ? AND ts >= ? AND ts < ?
			ORDER BY ts`, st.station, m, lo, hi)
		if err != nil {
			return fmt.Errorf("scan sqlite: %w", err)
		}
		c := &cursor{rows: rows, metric: m}
		cs = append(cs, c)
		if err := c.next(); err != nil {
			return fmt.Errorf("scan sqlite: %w", err)
		}
	}
	// at holds the cursors at the oldest time, in metric order.
	at := make([]*cursor, 0, len(cs))
	for {
		at = at[:0]
		for _, c := range cs {
			switch {
			case !c.ok:
			case len(at) == 0 || c.ts < at[0].ts:
				at = append(at[:0], c)
			case c.ts == at[0].ts:
				at = append(at, c)
			}
		}
		if len(at) == 0 {
			return nil
		}
		ts := at[0].ts
		// Usually one reading; more if the station changed its point or
		// medium and two of its series have a value at the same time.
		// (rest is filtered in place: at is not used after this.)
		for rest := at; len(rest) > 0; {
			r := reading.Reading{
				Point:   rest[0].point,
				Station: st.station,
				Medium:  reading.Medium(rest[0].medium),
				Time:    time.Unix(0, rest[0].ts).UTC(),
				Values:  make([]reading.Value, 0, len(rest)),
			}
			other := rest[:0]
			for _, c := range rest {
				if c.point == r.Point && c.medium == string(r.Medium) {
					r.Values = append(r.Values, reading.Value{Metric: c.metric, Value: c.value, QC: reading.Flags(c.qc)})
				} else {
					other = append(other, c)
				}
			}
			if err := fn(r); err != nil {
				return err
			}
			rest = other
		}
		for _, c := range cs {
			if !c.ok || c.ts != ts {
				continue
			}
			if err := c.next(); err != nil {
				return fmt.Errorf("scan sqlite: %w", err)
			}
		}
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("scan sqlite: %w", err)
		}
	}
}

// Aggregate returns the buckets q asks for. Its cost: one range seek on
// the primary key, then each sample of the series in the range visited
// once, in time order, and aggregated in Go; memory is that of the buckets.
func (s *Store) Aggregate(ctx context.Context, q store.AggregateQuery) ([]store.Bucket, error) {
	a, err := store.NewAggregation(q)
	if err != nil {
		return nil, err
	}
	rows, err := s.db.QueryContext(ctx, `
		SELECT ts, value, qc FROM readings
		WHERE station = ? AND metric = ? AND ts >= ? AND ts < ?`,
		q.Station, q.Metric, q.From.UnixNano(), q.To.UnixNano())
	if err != nil {
		return nil, fmt.Errorf("aggregate sqlite: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var (
			ts, qc int64
			v      float64
		)
		if err := rows.Scan(&ts, &v, &qc); err != nil {
			return nil, fmt.Errorf("aggregate sqlite: %w", err)
		}
		a.Add(ts, v, reading.Flags(qc))
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("aggregate sqlite: %w", err)
	}
	return a.Buckets(), nil
}
