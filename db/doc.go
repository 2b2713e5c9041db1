// Package db gives components the shared SQL database, on SQLite or
// PostgreSQL, with per-component migrations, retried transactions and
// leases.
//
// # Engines
//
// Open selects the engine from Config.DSN. Empty means SQLite in the file
// SQLiteFile under Config.DataDir, through the pure-Go driver
// modernc.org/sqlite; it is not the readings store's file. A postgres:// or
// postgresql:// URL means PostgreSQL through pgx's database/sql driver.
// Parameters of the URL that pgx does not know are sent to the server, so
// "?search_path=myschema" selects a schema.
//
// SQLite runs in WAL mode with synchronous=FULL, foreign keys on, and a
// busy timeout (Config.BusyTimeout). Read-write transactions take the write
// lock at BEGIN (BEGIN IMMEDIATE), so that concurrent writers queue instead
// of failing; read-only transactions (ReadTx, or sql.TxOptions.ReadOnly)
// and statements outside a transaction do not, so readers run beside a
// writer.
//
// # Writing SQL for both engines
//
// Components use database/sql through DB.SQL, Tx and ReadTx, and write SQL
// that both engines run:
//
//   - Placeholders are $1, $2, …, on both engines; a number may repeat.
//   - Times are BIGINT Unix milliseconds (or nanoseconds), and booleans
//     are integers 0 and 1 where both must read them; TEXT, BIGINT,
//     DOUBLE PRECISION and BLOB/BYTEA are the common types.
//   - INSERT … ON CONFLICT (…) DO UPDATE/NOTHING and RETURNING work on
//     both.
//   - Where SQL must differ, branch on DB.Engine, or, in migrations, keep a
//     folder per engine (below).
//
// A component prefixes its tables with its name ("alerts_rules"), so that
// components sharing the database do not collide.
//
// # Migrations
//
// Each component migrates its own tables with DB.Migrate, which runs goose
// (github.com/pressly/goose/v3) SQL migrations and records the versions in
// a table of the component's own, VersionTable(component), so versions of
// different components never collide. A component embeds its folder:
//
//	//go:embed migrations
//	var migrations embed.FS
//
//	sub, _ := fs.Sub(migrations, "migrations")
//	err := d.Migrate(ctx, "alerts", sub)
//
// The folder holds files named NNNNN_what.sql, each starting with a
// "-- +goose Up" line (and a "-- +goose Down" section if wanted), run in a
// transaction. When the SQL of some version differs between engines, the
// folder instead holds two subfolders, sqlite/ and postgres/, each with
// every version: Migrate uses the one for the engine, and rejects folders
// that mix the two layouts or whose subfolders have different versions.
// Version N then means the same schema on both engines.
//
// Migrate skips versions already applied, and fails with ErrSchemaNewer,
// without changing anything, when the database is ahead of the build. On
// PostgreSQL, replicas that migrate one component at once take turns on an
// advisory lock.
//
// # Transactions and leases
//
// Tx runs a function in a transaction and runs it again when the engine
// says the transaction lost a conflict (IsRetryable): SQLITE_BUSY, or a
// PostgreSQL serialization failure or deadlock. IsUniqueViolation tells a
// duplicate key on either engine.
//
// For timers that several replicas on one PostgreSQL watch, and that must
// fire once, select the due rows inside Tx with SkipLocked, which is FOR
// UPDATE SKIP LOCKED on PostgreSQL: each transaction gets rows no other
// holds, and changes and commits them. On SQLite, Tx's BEGIN IMMEDIATE has
// the same effect by running claimers one after another. When the work is
// outside the database, ClaimDue leases due rows to a claimer for a while.
package db
