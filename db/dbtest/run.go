package dbtest

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	"github.com/envmon/envmon/db"
)

// Run runs the conformance tests of package db on the engine that fresh
// selects. fresh returns the Config of a new, empty database for one test,
// such as SQLite or Postgres do; a test may open it several times, to have
// several handles on one database.
func Run(t *testing.T, fresh func(t testing.TB) db.Config) {
	tests := []struct {
		name string
		fn   func(t *testing.T, cfg db.Config)
	}{
		{"OpenClose", testOpenClose},
		{"Placeholders", testPlaceholders},
		{"MigrationsCoexist", testMigrationsCoexist},
		{"MigrationsNewerSchema", testMigrationsNewerSchema},
		{"MigrationsPerEngine", testMigrationsPerEngine},
		{"MigrationsBadFolders", testMigrationsBadFolders},
		{"UniqueViolation", testUniqueViolation},
		{"TxCommitRollback", testTxCommitRollback},
		{"TxRetry", testTxRetry},
		{"TxRetryBounded", testTxRetryBounded},
		{"WriteLockAtBegin", testWriteLockAtBegin},
		{"ConcurrentWriters", testConcurrentWriters},
		{"ClaimDue", testClaimDue},
		{"SkipLockedOnce", testSkipLockedOnce},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { tt.fn(t, fresh(t)) })
	}
}

// open opens cfg and closes it when t ends.
func open(t *testing.T, cfg db.Config) *db.DB {
	t.Helper()
	d, err := db.Open(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := d.Engine(), cfg.Engine(); got != want {
		t.Fatalf("Engine() = %q, want %q", got, want)
	}
	t.Cleanup(func() {
		if err := d.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	return d
}

// kitSchema holds the tables the tests below use, in SQL both engines run.
var kitSchema = fstest.MapFS{
	"00001_kit.sql": {Data: []byte(`-- +goose Up
CREATE TABLE kit_items (
	id   TEXT PRIMARY KEY,
	name TEXT NOT NULL UNIQUE,
	n    BIGINT NOT NULL
);
CREATE TABLE kit_counter (id BIGINT PRIMARY KEY, n BIGINT NOT NULL);
INSERT INTO kit_counter (id, n) VALUES (1, 0);
CREATE TABLE kit_timers (
	id    TEXT PRIMARY KEY,
	due   BIGINT NOT NULL,
	owner TEXT,
	until BIGINT
);
CREATE TABLE kit_jobs (id BIGINT PRIMARY KEY, done INTEGER NOT NULL DEFAULT 0);
CREATE TABLE kit_fired (job_id BIGINT PRIMARY KEY, fired_by TEXT NOT NULL);
`)},
}

// openKit opens cfg with the kit's tables.
func openKit(t *testing.T, cfg db.Config) *db.DB {
	t.Helper()
	d := open(t, cfg)
	if err := d.Migrate(t.Context(), "kit", kitSchema); err != nil {
		t.Fatal(err)
	}
	return d
}

func counter(t *testing.T, d *db.DB) int64 {
	t.Helper()
	var n int64
	if err := d.SQL().QueryRowContext(t.Context(), "SELECT n FROM kit_counter WHERE id = 1").Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func count(t *testing.T, d *db.DB, table string) int {
	t.Helper()
	var n int
	if err := d.SQL().QueryRowContext(t.Context(), "SELECT count(*) FROM "+table).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func testOpenClose(t *testing.T, cfg db.Config) {
	d := openKit(t, cfg)
	if _, err := d.SQL().ExecContext(t.Context(), "INSERT INTO kit_items (id, name, n) VALUES ($1, $2, $3)", "a", "alpha", 1); err != nil {
		t.Fatal(err)
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	if err := d.SQL().PingContext(t.Context()); err == nil {
		t.Error("Ping after Close succeeded")
	}
	// A new handle sees what the first committed.
	d2 := open(t, cfg)
	var name string
	if err := d2.SQL().QueryRowContext(t.Context(), "SELECT name FROM kit_items WHERE id = $1", "a").Scan(&name); err != nil {
		t.Fatal(err)
	}
	if name != "alpha" {
		t.Errorf("name = %q, want alpha", name)
	}
}

func testPlaceholders(t *testing.T, cfg db.Config) {
	d := openKit(t, cfg)
	ctx := t.Context()
	// Out of order, and $1 used twice.
	if _, err := d.SQL().ExecContext(ctx, "INSERT INTO kit_items (name, id, n) VALUES ($2, $1, $3)", "x", "ex", 7); err != nil {
		t.Fatal(err)
	}
	var id, name string
	err := d.SQL().QueryRowContext(ctx, "SELECT id, name FROM kit_items WHERE n >= $1 AND n <= $1 AND id = $2", 7, "x").Scan(&id, &name)
	if err != nil {
		t.Fatal(err)
	}
	if id != "x" || name != "ex" {
		t.Errorf("got (%q, %q), want (x, ex)", id, name)
	}
}

// migrations returns a component's folder with versions 1..n; version v
// creates table <prefix>_v<v>.
func migrations(prefix string, n int) fstest.MapFS {
	m := fstest.MapFS{}
	for v := 1; v <= n; v++ {
		m[fmt.Sprintf("%05d_v%d.sql", v, v)] = &fstest.MapFile{Data: fmt.Appendf(nil,
			"-- +goose Up\nCREATE TABLE %s_v%d (id BIGINT PRIMARY KEY);\n-- +goose Down\nDROP TABLE %[1]s_v%[2]d;\n", prefix, v)}
	}
	return m
}

func version(t *testing.T, d *db.DB, component string) int64 {
	t.Helper()
	var v int64
	q := "SELECT max(version_id) FROM " + db.VersionTable(component)
	if err := d.SQL().QueryRowContext(t.Context(), q).Scan(&v); err != nil {
		t.Fatal(err)
	}
	return v
}

func testMigrationsCoexist(t *testing.T, cfg db.Config) {
	d := open(t, cfg)
	ctx := t.Context()
	// The two components have files of the same names and versions.
	a, b := migrations("comp_a", 2), migrations("comp_b", 2)
	a1 := migrations("comp_a", 1)
	for _, step := range []struct {
		component string
		fsys      fs.FS
	}{{"comp_a", a1}, {"comp_b", b}, {"comp_a", a}} {
		if err := d.Migrate(ctx, step.component, step.fsys); err != nil {
			t.Fatal(err)
		}
	}
	check := func(d *db.DB) {
		t.Helper()
		for _, table := range []string{"comp_a_v1", "comp_a_v2", "comp_b_v1", "comp_b_v2"} {
			if _, err := d.SQL().ExecContext(ctx, "INSERT INTO "+table+" (id) VALUES ($1)", int64(len(table))); err != nil {
				t.Errorf("table %s: %v", table, err)
			}
			if _, err := d.SQL().ExecContext(ctx, "DELETE FROM "+table); err != nil {
				t.Error(err)
			}
		}
		for _, c := range []string{"comp_a", "comp_b"} {
			if v := version(t, d, c); v != 2 {
				t.Errorf("%s at version %d, want 2", c, v)
			}
			// goose records version 0 and each version applied, once.
			if n := count(t, d, db.VersionTable(c)); n != 3 {
				t.Errorf("%s has %d rows, want 3 (versions 0, 1 and 2)", db.VersionTable(c), n)
			}
		}
	}
	check(d)
	// Running again, on this handle or another, changes nothing.
	d2 := open(t, cfg)
	for _, h := range []*db.DB{d, d2} {
		if err := h.Migrate(ctx, "comp_a", a); err != nil {
			t.Fatal(err)
		}
		if err := h.Migrate(ctx, "comp_b", b); err != nil {
			t.Fatal(err)
		}
	}
	check(d2)
	if err := d.Migrate(ctx, "Bad-Name", a); err == nil {
		t.Error("Migrate accepted component name Bad-Name")
	}
}

func testMigrationsNewerSchema(t *testing.T, cfg db.Config) {
	d := open(t, cfg)
	ctx := t.Context()
	if err := d.Migrate(ctx, "comp_a", migrations("comp_a", 3)); err != nil {
		t.Fatal(err)
	}
	err := d.Migrate(ctx, "comp_a", migrations("comp_a", 2))
	if !errors.Is(err, db.ErrSchemaNewer) {
		t.Fatalf("Migrate with versions 1..2 on a database at 3: got %v, want ErrSchemaNewer", err)
	}
	for _, want := range []string{"comp_a", "version 3", "up to 2"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
	if v := version(t, d, "comp_a"); v != 3 {
		t.Errorf("version = %d after the refused migration, want 3", v)
	}
}

func testMigrationsPerEngine(t *testing.T, cfg db.Config) {
	d := open(t, cfg)
	ctx := t.Context()
	m := fstest.MapFS{
		"sqlite/00001_seq.sql": {Data: []byte("-- +goose Up\nCREATE TABLE comp_seq (id INTEGER PRIMARY KEY AUTOINCREMENT, engine TEXT NOT NULL DEFAULT 'sqlite');\n")},
		"postgres/00001_seq.sql": {Data: []byte("-- +goose Up\n" +
			"CREATE TABLE comp_seq (id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY, engine TEXT NOT NULL DEFAULT 'postgres');\n")},
		"sqlite/00002_note.sql":   {Data: []byte("-- +goose Up\nALTER TABLE comp_seq ADD COLUMN note TEXT;\n")},
		"postgres/00002_note.sql": {Data: []byte("-- +goose Up\nALTER TABLE comp_seq ADD COLUMN note TEXT;\n")},
	}
	if err := d.Migrate(ctx, "comp_seq", m); err != nil {
		t.Fatal(err)
	}
	var ids []int64
	for range 2 {
		var id int64
		if err := d.SQL().QueryRowContext(ctx, "INSERT INTO comp_seq (note) VALUES ($1) RETURNING id", "n").Scan(&id); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	if !slices.Equal(ids, []int64{1, 2}) {
		t.Errorf("ids = %v, want [1 2]", ids)
	}
	var engine string
	if err := d.SQL().QueryRowContext(ctx, "SELECT engine FROM comp_seq WHERE id = 1").Scan(&engine); err != nil {
		t.Fatal(err)
	}
	if engine != string(d.Engine()) {
		t.Errorf("ran the migrations for %s on %s", engine, d.Engine())
	}
}

func testMigrationsBadFolders(t *testing.T, cfg db.Config) {
	d := open(t, cfg)
	up := func(s string) *fstest.MapFile { return &fstest.MapFile{Data: []byte("-- +goose Up\n" + s + ";\n")} }
	tests := []struct {
		name string
		fsys fstest.MapFS
		want string
	}{
		{"empty", fstest.MapFS{}, "no .sql migrations"},
		{"mixed", fstest.MapFS{"00001_a.sql": up("SELECT 1"), "sqlite/00001_a.sql": up("SELECT 1"), "postgres/00001_a.sql": up("SELECT 1")}, "use one or the other"},
		{"one engine", fstest.MapFS{"postgres/00001_a.sql": up("SELECT 1")}, "each engine needs its folder"},
		{"versions differ", fstest.MapFS{
			"sqlite/00001_a.sql": up("SELECT 1"), "sqlite/00002_b.sql": up("SELECT 1"),
			"postgres/00001_a.sql": up("SELECT 1"),
		}, "each version must exist for both engines"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := d.Migrate(t.Context(), "comp_bad", tt.fsys)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got %v, want an error saying %q", err, tt.want)
			}
		})
	}
}

func testUniqueViolation(t *testing.T, cfg db.Config) {
	d := openKit(t, cfg)
	ctx := t.Context()
	ins := func(id, name string) error {
		_, err := d.SQL().ExecContext(ctx, "INSERT INTO kit_items (id, name, n) VALUES ($1, $2, 0)", id, name)
		return err
	}
	if err := ins("a", "alpha"); err != nil {
		t.Fatal(err)
	}
	_, notNull := d.SQL().ExecContext(ctx, "INSERT INTO kit_items (id, name, n) VALUES ($1, NULL, 0)", "b")
	tests := []struct {
		name string
		err  error
		want bool
	}{
		{"primary key", ins("a", "other"), true},
		{"unique column", ins("b", "alpha"), true},
		{"wrapped", fmt.Errorf("save: %w", ins("a", "alpha")), true},
		{"not null", notNull, false},
		{"plain error", errors.New("UNIQUE constraint failed"), false},
		{"nil", nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.want && tt.err == nil {
				t.Fatal("statement succeeded, want a constraint error")
			}
			if got := db.IsUniqueViolation(tt.err); got != tt.want {
				t.Errorf("IsUniqueViolation(%v) = %v, want %v", tt.err, got, tt.want)
			}
			if db.IsRetryable(tt.err) {
				t.Errorf("IsRetryable(%v) = true", tt.err)
			}
		})
	}
}

func testTxCommitRollback(t *testing.T, cfg db.Config) {
	d := openKit(t, cfg)
	ctx := t.Context()
	bump := func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, "UPDATE kit_counter SET n = n + 1 WHERE id = 1")
		return err
	}
	if err := d.Tx(ctx, bump); err != nil {
		t.Fatal(err)
	}
	errFail := errors.New("fail")
	calls := 0
	err := d.Tx(ctx, func(tx *sql.Tx) error {
		calls++
		if err := bump(tx); err != nil {
			return err
		}
		return errFail
	})
	if err != errFail {
		t.Errorf("Tx returned %v, want fn's error as it is", err)
	}
	if calls != 1 {
		t.Errorf("fn ran %d times for an error that is not retryable, want 1", calls)
	}
	func() {
		defer func() {
			if recover() == nil {
				t.Error("Tx swallowed fn's panic")
			}
		}()
		d.Tx(ctx, func(tx *sql.Tx) error {
			bump(tx)
			panic("boom")
		})
	}()
	if err := d.ReadTx(ctx, func(tx *sql.Tx) error { return nil }); err != nil {
		t.Fatal(err)
	}
	if n := counter(t, d); n != 1 {
		t.Errorf("counter = %d, want 1: the failed and panicking transactions must roll back", n)
	}
}

// conflict makes the engine fail the statement it runs in tx with an error
// for which the transaction should be retried: on SQLite, other's write
// meets tx's write lock (other must have a short busy timeout); on
// PostgreSQL, tx, at repeatable read, updates a row that other changed since
// tx's snapshot. It must be the first statement of tx. It reports whether
// other's write was committed.
func conflict(t *testing.T, tx *sql.Tx, other *db.DB) (otherWrote bool, err error) {
	ctx := t.Context()
	const bump = "UPDATE kit_counter SET n = n + 1 WHERE id = 1"
	switch other.Engine() {
	case db.SQLite:
		_, err := other.SQL().ExecContext(ctx, bump)
		if err == nil {
			t.Fatal("SQLite: a write beside Tx's transaction succeeded")
		}
		return false, err
	case db.Postgres:
		if _, err := tx.ExecContext(ctx, "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ"); err != nil {
			t.Fatal(err)
		}
		var n int64
		if err := tx.QueryRowContext(ctx, "SELECT n FROM kit_counter WHERE id = 1").Scan(&n); err != nil {
			t.Fatal(err)
		}
		if _, err := other.SQL().ExecContext(ctx, bump); err != nil {
			t.Fatal(err)
		}
		_, err := tx.ExecContext(ctx, bump)
		if err == nil {
			t.Fatal("PostgreSQL: a concurrent update at repeatable read succeeded")
		}
		return true, err
	}
	t.Fatalf("unknown engine %q", other.Engine())
	return false, nil
}

// impatient returns cfg with a busy timeout short enough to meet SQLITE_BUSY
// at once.
func impatient(cfg db.Config) db.Config {
	cfg.BusyTimeout = time.Millisecond
	return cfg
}

func testTxRetry(t *testing.T, cfg db.Config) {
	d := openKit(t, cfg)
	other := open(t, impatient(cfg))
	ctx := t.Context()
	calls := 0
	want := int64(1)
	err := d.Tx(ctx, func(tx *sql.Tx) error {
		calls++
		if calls == 1 {
			wrote, err := conflict(t, tx, other)
			if wrote {
				want++
			}
			if !db.IsRetryable(err) {
				t.Fatalf("IsRetryable(%v) = false", err)
			}
			return fmt.Errorf("bump: %w", err)
		}
		if _, err := tx.ExecContext(ctx, "INSERT INTO kit_items (id, name, n) VALUES ($1, $2, $3)", "r", "retried", calls); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, "UPDATE kit_counter SET n = n + 1 WHERE id = 1")
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if calls != 2 {
		t.Errorf("fn ran %d times, want 2", calls)
	}
	if n := counter(t, d); n != want {
		t.Errorf("counter = %d, want %d", n, want)
	}
	if n := count(t, d, "kit_items"); n != 1 {
		t.Errorf("%d items, want the one of the second attempt", n)
	}
}

func testTxRetryBounded(t *testing.T, cfg db.Config) {
	d := openKit(t, cfg)
	other := open(t, impatient(cfg))
	ctx := t.Context()
	calls := 0
	err := d.Tx(ctx, func(tx *sql.Tx) error {
		calls++
		_, err := conflict(t, tx, other)
		return err
	})
	if !db.IsRetryable(err) {
		t.Errorf("Tx returned %v, want the last retryable error", err)
	}
	if calls != db.TxAttempts {
		t.Errorf("fn ran %d times, want %d", calls, db.TxAttempts)
	}
	// A cancelled context ends the retries.
	cctx, cancel := context.WithCancel(ctx)
	calls = 0
	err = d.Tx(cctx, func(tx *sql.Tx) error {
		calls++
		_, err := conflict(t, tx, other)
		cancel()
		return err
	})
	if !errors.Is(err, context.Canceled) || calls != 1 {
		t.Errorf("after cancel: Tx returned %v after %d calls, want context.Canceled after 1", err, calls)
	}
}

func testWriteLockAtBegin(t *testing.T, cfg db.Config) {
	d := openKit(t, cfg)
	other := open(t, impatient(cfg))
	ctx := t.Context()
	write := func() error {
		_, err := other.SQL().ExecContext(ctx, "INSERT INTO kit_items (id, name, n) VALUES ($1, $1, 0)", fmt.Sprint(time.Now().UnixNano()))
		return err
	}
	read := func(tx *sql.Tx) error {
		var n int
		return tx.QueryRowContext(ctx, "SELECT count(*) FROM kit_items").Scan(&n)
	}
	// A read-only transaction does not keep writers out, on any engine.
	err := d.ReadTx(ctx, func(tx *sql.Tx) error {
		if err := read(tx); err != nil {
			return err
		}
		if err := write(); err != nil {
			t.Errorf("write beside a ReadTx: %v", err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if d.Engine() != db.SQLite {
		return // PostgreSQL locks rows, not the database
	}
	// On SQLite, a read-write transaction holds the write lock from BEGIN,
	// even before it writes.
	calls := 0
	err = d.Tx(ctx, func(tx *sql.Tx) error {
		calls++
		if err := read(tx); err != nil {
			return err
		}
		if err := write(); !db.IsRetryable(err) {
			t.Errorf("write beside a Tx that has only read: got %v, want SQLITE_BUSY", err)
		}
		return nil
	})
	if err != nil || calls != 1 {
		t.Errorf("Tx: %v after %d calls", err, calls)
	}
}

func testConcurrentWriters(t *testing.T, cfg db.Config) {
	handles := []*db.DB{openKit(t, cfg), open(t, cfg)}
	ctx := t.Context()
	const workers, txs = 4, 25
	var wg sync.WaitGroup
	errs := make(chan error, workers*txs+1)
	for w := range workers {
		d := handles[w%len(handles)]
		wg.Go(func() {
			for i := range txs {
				err := d.Tx(ctx, func(tx *sql.Tx) error {
					var n int
					if err := tx.QueryRowContext(ctx, "SELECT count(*) FROM kit_items").Scan(&n); err != nil {
						return err
					}
					id := fmt.Sprintf("w%d-%d", w, i)
					if _, err := tx.ExecContext(ctx, "INSERT INTO kit_items (id, name, n) VALUES ($1, $1, $2)", id, n); err != nil {
						return err
					}
					_, err := tx.ExecContext(ctx, "UPDATE kit_counter SET n = n + 1 WHERE id = 1")
					return err
				})
				if err != nil {
					errs <- err
					return
				}
			}
		})
	}
	// A reader beside them.
	stop := make(chan struct{})
	var rg sync.WaitGroup
	rg.Go(func() {
		for {
			select {
			case <-stop:
				return
			default:
			}
			if err := handles[1].ReadTx(ctx, func(tx *sql.Tx) error {
				var n int
				return tx.QueryRowContext(ctx, "SELECT count(*) FROM kit_items").Scan(&n)
			}); err != nil {
				errs <- fmt.Errorf("reader: %w", err)
				return
			}
		}
	})
	wg.Wait()
	close(stop)
	rg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if n := counter(t, handles[0]); n != workers*txs {
		t.Errorf("counter = %d, want %d", n, workers*txs)
	}
	if n := count(t, handles[1], "kit_items"); n != workers*txs {
		t.Errorf("%d items, want %d", n, workers*txs)
	}
}

var timers = db.Lease{Table: "kit_timers", Key: "id", Due: "due", Owner: "owner", Until: "until"}

func testClaimDue(t *testing.T, cfg db.Config) {
	handles := []*db.DB{openKit(t, cfg), open(t, cfg)}
	d := handles[0]
	ctx := t.Context()
	now := time.Date(2025, 3, 1, 8, 0, 0, 0, time.UTC)
	const due, later = 60, 10
	err := d.Tx(ctx, func(tx *sql.Tx) error {
		for i := range due + later {
			at := now.Add(time.Duration(i-due) * time.Second) // the last `later` are not due yet
			if i >= due {
				at = now.Add(time.Duration(i-due+1) * time.Minute)
			}
			if _, err := tx.ExecContext(ctx, "INSERT INTO kit_timers (id, due) VALUES ($1, $2)", fmt.Sprintf("t%02d", i), at.UnixMilli()); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	const ttl = time.Minute
	var (
		mu      sync.Mutex
		claimed = map[string][]string{} // key → owners
		wg      sync.WaitGroup
	)
	for w := range 6 {
		owner := fmt.Sprintf("replica%d", w)
		h := handles[w%len(handles)]
		wg.Go(func() {
			for {
				keys, err := h.ClaimDue(ctx, timers, owner, now, ttl, 4)
				if err != nil {
					t.Error(err)
					return
				}
				if len(keys) == 0 {
					return
				}
				mu.Lock()
				for _, k := range keys {
					claimed[k] = append(claimed[k], owner)
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if len(claimed) != due {
		t.Errorf("claimed %d timers, want the %d due", len(claimed), due)
	}
	for k, owners := range claimed {
		if len(owners) != 1 {
			t.Errorf("timer %s claimed by %v, want one claimer", k, owners)
		}
		var owner string
		if err := d.SQL().QueryRowContext(ctx, "SELECT owner FROM kit_timers WHERE id = $1", k).Scan(&owner); err != nil {
			t.Fatal(err)
		}
		if owner != owners[0] {
			t.Errorf("timer %s: owner %q in the table, but ClaimDue gave it to %q", k, owner, owners[0])
		}
	}
	// While the leases last, nothing more is due.
	if keys, err := d.ClaimDue(ctx, timers, "late", now.Add(ttl-time.Millisecond), ttl, 100); err != nil || len(keys) != 0 {
		t.Errorf("claim before the leases end: %v, %v; want none", keys, err)
	}
	// The owner of t00 finishes it: it is due again in an hour.
	finish := func(owner string) int64 {
		res, err := d.SQL().ExecContext(ctx, "UPDATE kit_timers SET due = $1, owner = NULL, until = NULL WHERE id = $2 AND owner = $3",
			now.Add(time.Hour).UnixMilli(), "t00", owner)
		if err != nil {
			t.Fatal(err)
		}
		n, _ := res.RowsAffected()
		return n
	}
	if n := finish("someone else"); n != 0 {
		t.Errorf("a claimer without the lease finished t00")
	}
	if n := finish(claimed["t00"][0]); n != 1 {
		t.Errorf("the claimer of t00 could not finish it")
	}
	// When the leases end, the unfinished timers go to a new claimer, and
	// the timers that have come due since with them, earliest first.
	after := now.Add(ttl)
	keys, err := d.ClaimDue(ctx, timers, "next", after, ttl, 100)
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != due-1+1 || slices.Contains(keys, "t00") || !slices.Contains(keys, "t60") {
		t.Errorf("after the leases end, claimed %d timers %v, want t01..t60", len(keys), keys)
	}
	if _, err := d.ClaimDue(ctx, db.Lease{Table: "kit_timers; DROP TABLE kit_timers", Key: "id", Due: "due", Owner: "owner", Until: "until"}, "x", now, ttl, 1); err == nil {
		t.Error("ClaimDue accepted a bad table name")
	}
}

func testSkipLockedOnce(t *testing.T, cfg db.Config) {
	handles := []*db.DB{openKit(t, cfg), open(t, cfg)}
	ctx := t.Context()
	const jobs = 60
	err := handles[0].Tx(ctx, func(tx *sql.Tx) error {
		for i := range jobs {
			if _, err := tx.ExecContext(ctx, "INSERT INTO kit_jobs (id) VALUES ($1)", i); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// Each worker fires due jobs in the transaction that claims them: a job
	// fired twice would break kit_fired's primary key.
	var wg sync.WaitGroup
	for w := range 6 {
		d := handles[w%len(handles)]
		by := fmt.Sprintf("worker%d", w)
		wg.Go(func() {
			for {
				var ids []int64
				err := d.Tx(ctx, func(tx *sql.Tx) error {
					ids = ids[:0]
					rows, err := tx.QueryContext(ctx, "SELECT id FROM kit_jobs WHERE done = 0 ORDER BY id LIMIT 3"+d.SkipLocked())
					if err != nil {
						return err
					}
					for rows.Next() {
						var id int64
						if err := rows.Scan(&id); err != nil {
							rows.Close()
							return err
						}
						ids = append(ids, id)
					}
					rows.Close()
					if err := rows.Err(); err != nil {
						return err
					}
					for _, id := range ids {
						if _, err := tx.ExecContext(ctx, "INSERT INTO kit_fired (job_id, fired_by) VALUES ($1, $2)", id, by); err != nil {
							return err
						}
						if _, err := tx.ExecContext(ctx, "UPDATE kit_jobs SET done = 1 WHERE id = $1", id); err != nil {
							return err
						}
					}
					return nil
				})
				if err != nil {
					t.Errorf("%s: %v", by, err)
					return
				}
				if len(ids) == 0 {
					return
				}
			}
		})
	}
	wg.Wait()
	if n := count(t, handles[0], "kit_fired"); n != jobs {
		t.Errorf("fired %d jobs, want %d", n, jobs)
	}
}
