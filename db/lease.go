package db

import (
	"context"
	"database/sql"
	"fmt"
	"regexp"
	"time"
)

// SkipLocked returns the locking clause to end a SELECT with inside Tx, so
// that concurrent transactions select disjoint rows: " FOR UPDATE SKIP
// LOCKED" on PostgreSQL, where transactions run side by side, and "" on
// SQLite, where Tx holds the write lock from BEGIN, so transactions run one
// after another and each sees what the previous committed.
func (d *DB) SkipLocked() string {
	if d.engine == Postgres {
		return " FOR UPDATE SKIP LOCKED"
	}
	return ""
}

// A Lease names a table of items that come due, such as timers, and its
// columns, for ClaimDue.
type Lease struct {
	Table string // the table
	Key   string // the column that identifies an item
	Due   string // a BIGINT column: when the item is due, in Unix milliseconds
	Owner string // a TEXT column: who holds the lease, or NULL
	Until string // a BIGINT column: when the lease ends, in Unix milliseconds, or NULL
}

var identifier = regexp.MustCompile(`^[a-z_][a-z0-9_]*$`)

func (l Lease) check() error {
	for _, id := range []string{l.Table, l.Key, l.Due, l.Owner, l.Until} {
		if !identifier.MatchString(id) {
			return fmt.Errorf("bad identifier %q in %+v", id, l)
		}
	}
	return nil
}

// ClaimDue leases to owner, until now+ttl, up to limit items of l that are
// due at now (Due <= now) and whose lease, if any, has ended, earliest due
// first, and returns their keys. Claimers that run ClaimDue at the same time,
// in this process or other replicas on the same database, never get the
// same item while its lease lasts.
//
// This is for work done outside the database, such as sending a
// notification. The claimer finishes an item by updating it with "WHERE
// <key> = $1 AND <owner> = $2", which changes nothing if its lease ended
// and another claimer took the item: work that takes longer than ttl may be
// done twice. Work that is itself a database change is done exactly once by
// doing it in the claiming transaction instead: select the due rows with
// SkipLocked in Tx, change them, and commit.
func (d *DB) ClaimDue(ctx context.Context, l Lease, owner string, now time.Time, ttl time.Duration, limit int) ([]string, error) {
	if err := l.check(); err != nil {
		return nil, fmt.Errorf("claim due items: %w", err)
	}
	nowMs := now.UnixMilli()
	q := fmt.Sprintf(`UPDATE %[1]s SET %[3]s = $1, %[4]s = $2
WHERE %[2]s IN (
	SELECT %[2]s FROM %[1]s
	WHERE %[5]s <= $3 AND (%[4]s IS NULL OR %[4]s <= $3)
	ORDER BY %[5]s, %[2]s LIMIT $4%[6]s
)
RETURNING %[2]s`, l.Table, l.Key, l.Owner, l.Until, l.Due, d.SkipLocked())
	var keys []string
	err := d.Tx(ctx, func(tx *sql.Tx) error {
		keys = keys[:0]
		rows, err := tx.QueryContext(ctx, q, owner, now.Add(ttl).UnixMilli(), nowMs, limit)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var k string
			if err := rows.Scan(&k); err != nil {
				return err
			}
			keys = append(keys, k)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("claim due items of %s: %w", l.Table, err)
	}
	return keys, nil
}
