package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
)

// migrations are the schema changes in order; migrations[i] takes the schema
// from version i to i+1, and PRAGMA user_version holds the version. Append
// new migrations; never edit an old one.
var migrations = []string{
	// 1: readings, one value a row, and the newest row of each series.
	`
CREATE TABLE readings (
	station TEXT NOT NULL,
	metric  TEXT NOT NULL,
	ts      INTEGER NOT NULL, -- Unix nanoseconds
	medium  TEXT NOT NULL,
	point   TEXT NOT NULL,
	value   REAL NOT NULL,
	PRIMARY KEY (station, metric, ts)
) WITHOUT ROWID;

CREATE TABLE latest (
	station TEXT NOT NULL,
	metric  TEXT NOT NULL,
	ts      INTEGER NOT NULL,
	medium  TEXT NOT NULL,
	point   TEXT NOT NULL,
	value   REAL NOT NULL,
	PRIMARY KEY (station, metric)
) WITHOUT ROWID;
`,
	// 2: the quality-control flags of each value (reading.Flags bits).
	`
ALTER TABLE readings ADD COLUMN qc INTEGER NOT NULL DEFAULT 0;
ALTER TABLE latest ADD COLUMN qc INTEGER NOT NULL DEFAULT 0;
`,
}

// errNewer reports a database written by a newer version of this package.
var errNewer = errors.New("database schema is newer than this program")

// migrate brings the schema of db up to the newest version.
func migrate(ctx context.Context, db *sql.DB) (err error) {
	// BEGIN IMMEDIATE (see the DSN) serializes concurrent Opens of one file.
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("migrate schema: %w", err)
	}
	defer func() {
		if err != nil {
			tx.Rollback()
		}
	}()
	var version int
	if err := tx.QueryRowContext(ctx, "PRAGMA user_version").Scan(&version); err != nil {
		return fmt.Errorf("read schema version: %w", err)
	}
	if version > len(migrations) {
		return fmt.Errorf("%w: version %d, want at most %d", errNewer, version, len(migrations))
	}
	for v := version; v < len(migrations); v++ {
		if _, err := tx.ExecContext(ctx, migrations[v]); err != nil {
			return fmt.Errorf("migrate schema to version %d: %w", v+1, err)
		}
	}
	// PRAGMA takes no parameters; v is an integer we control.
	if _, err := tx.ExecContext(ctx, fmt.Sprintf("PRAGMA user_version = %d", len(migrations))); err != nil {
		return fmt.Errorf("set schema version: %w", err)
	}
	return tx.Commit()
}
