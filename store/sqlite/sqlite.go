// Package sqlite keeps readings in an embedded SQLite database, the default
// store.
//
// It uses the pure-Go driver modernc.org/sqlite, so it needs no cgo. The
// database is in WAL mode with synchronous=FULL: a Write that returned nil
// survives a crash or power loss.
//
// Readings are kept one value a row, keyed by station, metric and time. A
// second table, latest, holds the newest row of each station and metric. It
// is updated in the same transaction as the readings, once per station and
// metric of a batch, so Latest reads one small table instead of finding the
// newest of every series in the readings table, which SQLite cannot do
// without visiting every row.
package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	_ "modernc.org/sqlite" // registers the "sqlite" driver

	"github.com/envmon/envmon/reading"
	"github.com/envmon/envmon/store"
)

// Store is a store.Store in an SQLite database file. It is safe for
// concurrent use.
type Store struct {
	db *sql.DB
}

var _ store.Store = (*Store)(nil)

// busyTimeout is how long a statement waits for another connection's lock.
const busyTimeout = 10 * time.Second

// Open opens the database at path, creating it, its parent directory and
// its schema if they do not exist, and migrating an older schema.
func Open(ctx context.Context, path string) (*Store, error) {
	if path == "" || strings.ContainsRune(path, '?') {
		return nil, fmt.Errorf("open sqlite store: bad path %q", path)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("open sqlite store: %w", err)
	}
	// Every connection gets these pragmas. _txlock=immediate makes writers
	// take the write lock at BEGIN, so two writers wait for each other
	// (busy_timeout) instead of one failing when it upgrades its lock.
	dsn := path + "?_pragma=busy_timeout(" + fmt.Sprint(busyTimeout.Milliseconds()) + ")" +
		"&_pragma=journal_mode(WAL)&_pragma=synchronous(FULL)&_pragma=temp_store(MEMORY)&_txlock=immediate"
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("open sqlite store %s: %w", path, err)
	}
	if err := migrate(ctx, db); err != nil {
		db.Close()
		return nil, fmt.Errorf("open sqlite store %s: %w", path, err)
	}
	return &Store{db: db}, nil
}

// Write stores rs in one transaction. It rejects the whole batch if a
// reading has no station or medium, a time outside the years 1678 to 2261,
// or a value that is not finite.
func (s *Store) Write(ctx context.Context, rs []reading.Reading) error {
	if err := checkAll(rs); err != nil {
		return fmt.Errorf("write to sqlite: %w", err)
	}
	if err := s.write(ctx, rs); err != nil {
		return fmt.Errorf("write to sqlite: %w", err)
	}
	return nil
}

func (s *Store) write(ctx context.Context, rs []reading.Reading) (err error) {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			tx.Rollback()
		}
	}()
	type key struct{ station, metric string }
	type newest struct {
		point  string
		medium reading.Medium
		ts     int64
		value  float64
		qc     reading.Flags
	}
	latest := make(map[key]newest)
	// Rows go in chunks of insertRows, one statement a chunk: far fewer
	// statement executions than one a row, which is what costs most.
	var full *sql.Stmt
	args := make([]any, 0, insertRows*insertCols)
	flush := func() error {
		if len(args) == 0 {
			return nil
		}
		var err error
		if len(args) == cap(args) {
			if full == nil {
				if full, err = tx.PrepareContext(ctx, insertSQL(insertRows)); err != nil {
					return err
				}
			}
			_, err = full.ExecContext(ctx, args...)
		} else {
			_, err = tx.ExecContext(ctx, insertSQL(len(args)/insertCols), args...)
		}
		args = args[:0]
		return err
	}
	for _, r := range rs {
		ts := r.Time.UnixNano()
		for _, v := range r.Values {
			args = append(args, r.Station, v.Metric, ts, string(r.Medium), r.Point, v.Value, int64(v.QC))
			if len(args) == cap(args) {
				if err := flush(); err != nil {
					return err
				}
			}
			k := key{r.Station, v.Metric}
			if l, ok := latest[k]; !ok || ts >= l.ts {
				latest[k] = newest{r.Point, r.Medium, ts, v.Value, v.QC}
			}
		}
	}
	if err := flush(); err != nil {
		return err
	}
	// Statements prepared in tx are closed when it ends.
	upd, err := tx.PrepareContext(ctx, upsertLatest)
	if err != nil {
		return err
	}
	for k, l := range latest {
		if _, err := upd.ExecContext(ctx, k.station, k.metric, l.ts, string(l.medium), l.point, l.value, int64(l.qc)); err != nil {
			return err
		}
	}
	return tx.Commit()
}

// insertRows is how many rows one insert statement writes, of insertCols
// columns each: well below SQLite's limit of 32766 parameters.
const (
	insertRows = 100
	insertCols = 7
)

// insertSQL returns a statement that inserts or replaces n readings rows.
// Within one statement a later row replaces an earlier one with the same key.
func insertSQL(n int) string {
	var b strings.Builder
	b.WriteString("INSERT INTO readings (station, metric, ts, medium, point, value, qc) VALUES ")
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString("(?,?,?,?,?,?,?)")
	}
	b.WriteString(` ON CONFLICT (station, metric, ts) DO UPDATE SET
	medium = excluded.medium, point = excluded.point, value = excluded.value, qc = excluded.qc`)
	return b.String()
}

// upsertLatest replaces the latest row unless it is newer than the new one.
const upsertLatest = `
INSERT INTO latest (station, metric, ts, medium, point, value, qc)
VALUES (?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (station, metric) DO UPDATE SET
	ts = excluded.ts, medium = excluded.medium, point = excluded.point,
	value = excluded.value, qc = excluded.qc
WHERE excluded.ts >= latest.ts`

// Query returns the samples q selects; of more than q.Limit it keeps the
// newest.
func (s *Store) Query(ctx context.Context, q store.Query) ([]reading.Sample, error) {
	if err := q.Validate(); err != nil {
		return nil, err
	}
	from, to := store.UnixNanos(q.From, math.MinInt64), store.UnixNanos(q.To, math.MaxInt64)
	// Newest first so that LIMIT keeps the newest; reversed below.
	rows, err := s.db.QueryContext(ctx, `
		SELECT ts, value, qc FROM readings
		WHERE station = ? AND metric = ? AND ts >= ? AND ts < ?
		ORDER BY ts DESC LIMIT ?`,
		q.Station, q.Metric, from, to, q.Limit)
	if err != nil {
		return nil, fmt.Errorf("query sqlite: %w", err)
	}
	defer rows.Close()
	var out []reading.Sample
	for rows.Next() {
		var (
			ts int64
			v  float64
			qc int64
		)
		if err := rows.Scan(&ts, &v, &qc); err != nil {
			return nil, fmt.Errorf("query sqlite: %w", err)
		}
		out = append(out, reading.Sample{Time: time.Unix(0, ts).UTC(), Value: v, QC: reading.Flags(qc)})
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("query sqlite: %w", err)
	}
	slices.Reverse(out)
	return out, nil
}

// Latest returns the newest value of every metric of every station, ordered
// by station and metric.
func (s *Store) Latest(ctx context.Context) ([]reading.Latest, error) {
	rows, err := s.db.QueryContext(ctx, `
		SELECT station, metric, ts, medium, point, value, qc FROM latest
		ORDER BY station, metric`)
	if err != nil {
		return nil, fmt.Errorf("latest from sqlite: %w", err)
	}
	defer rows.Close()
	var out []reading.Latest
	for rows.Next() {
		var (
			l      reading.Latest
			ts, qc int64
		)
		if err := rows.Scan(&l.Station, &l.Metric, &ts, &l.Medium, &l.Point, &l.Value, &qc); err != nil {
			return nil, fmt.Errorf("latest from sqlite: %w", err)
		}
		l.Time = time.Unix(0, ts).UTC()
		l.QC = reading.Flags(qc)
		out = append(out, l)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("latest from sqlite: %w", err)
	}
	return out, nil
}

// Ping checks that the database answers.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.db.PingContext(ctx); err != nil {
		return fmt.Errorf("ping sqlite: %w", err)
	}
	return nil
}

// Close closes the database.
func (s *Store) Close() error {
	if err := s.db.Close(); err != nil {
		return fmt.Errorf("close sqlite: %w", err)
	}
	return nil
}

// checkAll rejects a batch holding a reading the store cannot keep.
func checkAll(rs []reading.Reading) error {
	for i := range rs {
		if err := store.CheckReading(&rs[i]); err != nil {
			return err
		}
	}
	return nil
}
