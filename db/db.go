package db

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	_ "modernc.org/sqlite" // registers the "sqlite" driver
)

// Engine names the SQL engine behind a DB.
type Engine string

// The engines a DB can run on.
const (
	SQLite   Engine = "sqlite"
	Postgres Engine = "postgres"
)

// SQLiteFile is the name of the SQLite database file in Config.DataDir. It
// is not the readings store's file.
const SQLiteFile = "envmon-state.db"

// TxAttempts is how many times Tx and ReadTx run a transaction whose error
// says it may succeed if tried again.
const TxAttempts = 5

// Defaults of Config.
const (
	DefaultBusyTimeout  = 10 * time.Second
	DefaultMaxOpenConns = 8
)

// Config says which database to open.
type Config struct {
	// DSN, when it is a postgres:// or postgresql:// URL, selects
	// PostgreSQL. Empty selects SQLite in DataDir. It may hold a password:
	// it never appears in errors or logs.
	DSN string `yaml:"dsn"`
	// DataDir is the folder of the SQLite file, created if missing.
	DataDir string `yaml:"-"`
	// BusyTimeout is how long an SQLite statement waits for another
	// connection's write lock before failing with SQLITE_BUSY. Zero means
	// DefaultBusyTimeout. PostgreSQL ignores it.
	BusyTimeout time.Duration `yaml:"busy_timeout"`
	// MaxOpenConns bounds the connections of the pool. Zero means
	// DefaultMaxOpenConns.
	MaxOpenConns int `yaml:"max_open_conns"`
	// Logger logs migrations and retried transactions. Nil means
	// slog.Default().
	Logger *slog.Logger `yaml:"-"`
}

// Engine reports which engine c selects.
func (c Config) Engine() Engine {
	if isPostgresURL(c.DSN) {
		return Postgres
	}
	return SQLite
}

// Validate reports the first bad setting of c, naming its key.
func (c Config) Validate() error {
	switch {
	case c.DSN != "" && !isPostgresURL(c.DSN):
		// Name the scheme only: the rest may hold a password.
		scheme, _, _ := strings.Cut(c.DSN, ":")
		if len(scheme) > 20 {
			scheme = scheme[:20] + "…"
		}
		return fmt.Errorf("db.dsn: want a postgres:// or postgresql:// URL, or empty for SQLite in data_dir (got scheme %q)", scheme)
	case c.DSN == "" && c.DataDir == "":
		return errors.New("data_dir: needed for the SQLite database when db.dsn is empty")
	case c.DSN == "" && strings.ContainsRune(c.DataDir, '?'):
		return fmt.Errorf("data_dir: %q must not contain '?'", c.DataDir)
	case c.BusyTimeout < 0:
		return fmt.Errorf("db.busy_timeout: %v is negative", c.BusyTimeout)
	case c.MaxOpenConns < 0:
		return fmt.Errorf("db.max_open_conns: %d is negative", c.MaxOpenConns)
	}
	return nil
}

func isPostgresURL(dsn string) bool {
	return strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://")
}

// DB is a pool of connections to the shared database. It is safe for
// concurrent use.
type DB struct {
	db     *sql.DB
	engine Engine
	log    *slog.Logger
}

// Open opens the database cfg names and checks that it answers. On SQLite
// it creates DataDir and the file if they do not exist.
func Open(ctx context.Context, cfg Config) (*DB, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("open database: %w", err)
	}
	d := &DB{engine: cfg.Engine(), log: cfg.Logger}
	if d.log == nil {
		d.log = slog.Default()
	}
	var err error
	if d.engine == Postgres {
		d.db, err = openPostgres(cfg)
	} else {
		d.db, err = openSQLite(cfg)
	}
	if err != nil {
		return nil, fmt.Errorf("open %s database: %w", d.engine, err)
	}
	conns := cfg.MaxOpenConns
	if conns == 0 {
		conns = DefaultMaxOpenConns
	}
	d.db.SetMaxOpenConns(conns)
	d.db.SetMaxIdleConns(conns)
	d.db.SetConnMaxIdleTime(5 * time.Minute)
	if err := d.db.PingContext(ctx); err != nil {
		d.db.Close()
		return nil, fmt.Errorf("open %s database: %w", d.engine, err)
	}
	return d, nil
}

func openPostgres(cfg Config) (*sql.DB, error) {
	// Parameters pgx does not know, such as search_path, are sent to the
	// server as run-time parameters of every connection.
	pc, err := pgx.ParseConfig(cfg.DSN)
	if err != nil {
		return nil, errors.New("db.dsn: not a valid PostgreSQL URL") // pgx's message may quote the DSN
	}
	return stdlib.OpenDB(*pc), nil
}

func openSQLite(cfg Config) (*sql.DB, error) {
	if err := os.MkdirAll(cfg.DataDir, 0o755); err != nil {
		return nil, err
	}
	busy := cfg.BusyTimeout
	if busy == 0 {
		busy = DefaultBusyTimeout
	}
	// Every connection gets these settings. busy_timeout comes first, so
	// that switching a new file to WAL waits for a concurrent opener.
	// synchronous(FULL) makes a committed transaction survive power loss.
	// _txlock=immediate makes read-write transactions take the write lock
	// at BEGIN, so that concurrent writers queue under busy_timeout instead
	// of one failing when it upgrades a read lock. The driver begins a
	// read-only transaction (sql.TxOptions.ReadOnly) with a plain BEGIN,
	// and statements outside a transaction take no lock up front, so
	// readers are not serialised.
	dsn := filepath.Join(cfg.DataDir, SQLiteFile) +
		"?_pragma=busy_timeout(" + fmt.Sprint(busy.Milliseconds()) + ")" +
		"&_pragma=journal_mode(WAL)&_pragma=synchronous(FULL)&_pragma=foreign_keys(1)" +
		"&_txlock=immediate"
	return sql.Open("sqlite", dsn)
}

// Close closes the pool.
func (d *DB) Close() error { return d.db.Close() }

// Engine reports the engine d runs on.
func (d *DB) Engine() Engine { return d.engine }

// SQL returns the pool, for statements outside Tx and ReadTx. Write
// placeholders as $1, $2: both engines read them.
func (d *DB) SQL() *sql.DB { return d.db }

// Tx runs fn in a read-write transaction and commits it if fn returns nil.
// On SQLite the transaction holds the write lock from its start (BEGIN
// IMMEDIATE). If the transaction fails with an error that IsRetryable
// accepts, whether from BEGIN, fn or COMMIT, Tx rolls it back and runs it
// again, up to TxAttempts times in all, so fn must have no effects outside
// the transaction. Other errors of fn are returned as they are.
func (d *DB) Tx(ctx context.Context, fn func(*sql.Tx) error) error {
	return d.retry(ctx, nil, fn)
}

// ReadTx is Tx for a read-only transaction, which on SQLite takes no write
// lock and on PostgreSQL is BEGIN READ ONLY.
func (d *DB) ReadTx(ctx context.Context, fn func(*sql.Tx) error) error {
	return d.retry(ctx, &sql.TxOptions{ReadOnly: true}, fn)
}

func (d *DB) retry(ctx context.Context, opts *sql.TxOptions, fn func(*sql.Tx) error) error {
	for attempt := 1; ; attempt++ {
		err := d.once(ctx, opts, fn)
		if err == nil || !IsRetryable(err) {
			return err
		}
		if attempt == TxAttempts {
			return fmt.Errorf("transaction failed %d times: %w", attempt, err)
		}
		d.log.DebugContext(ctx, "retrying transaction", "engine", d.engine, "attempt", attempt, "err", err)
		t := time.NewTimer(backoff(attempt))
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("transaction: %w (after %w)", context.Cause(ctx), err)
		case <-t.C:
		}
	}
}

// backoff is the pause after the given failed attempt: doubling from 5 ms,
// with full jitter so that transactions that collided do not collide again.
func backoff(attempt int) time.Duration {
	d := 5 * time.Millisecond << min(attempt-1, 6)
	return d/2 + rand.N(d/2+1)
}

func (d *DB) once(ctx context.Context, opts *sql.TxOptions, fn func(*sql.Tx) error) (err error) {
	tx, err := d.db.BeginTx(ctx, opts)
	if err != nil {
		return err
	}
	done := false
	defer func() {
		if !done { // fn failed or panicked
			tx.Rollback()
		}
	}()
	if err := fn(tx); err != nil {
		return err
	}
	done = true
	return tx.Commit()
}
