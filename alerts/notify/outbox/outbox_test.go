package outbox_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	"github.com/envmon/envmon/alerts/notify"
	"github.com/envmon/envmon/alerts/notify/outbox"
	"github.com/envmon/envmon/db"
	"github.com/envmon/envmon/db/dbtest"
)

var engines = []struct {
	name  string
	fresh func(testing.TB) db.Config
}{{"sqlite", dbtest.SQLite}, {"postgres", dbtest.Postgres}}

var schema = fstest.MapFS{
	"00001_outbox.sql": {Data: []byte(`-- +goose Up
CREATE TABLE test_outbox (
	id          TEXT PRIMARY KEY,
	receiver    TEXT NOT NULL,
	payload     TEXT NOT NULL,
	state       TEXT NOT NULL,
	due         BIGINT,
	owner       TEXT,
	lease_until BIGINT,
	attempts    INTEGER NOT NULL DEFAULT 0,
	done_at     BIGINT,
	last_error  TEXT NOT NULL DEFAULT ''
);
CREATE TABLE test_attempts (
	outbox_id TEXT NOT NULL,
	n         INTEGER NOT NULL,
	at        BIGINT NOT NULL,
	replica   TEXT NOT NULL,
	ok        INTEGER NOT NULL,
	retry     INTEGER NOT NULL,
	error     TEXT NOT NULL DEFAULT '',
	PRIMARY KEY (outbox_id, n)
);
`)},
}

type row struct {
	state, lastError string
	attempts         int
	due, done        sql.NullInt64
}

func getRow(t *testing.T, d *db.DB, id string) row {
	t.Helper()
	var r row
	if err := d.SQL().QueryRow(`SELECT state, attempts, due, done_at, last_error FROM test_outbox WHERE id = $1`, id).
		Scan(&r.state, &r.attempts, &r.due, &r.done, &r.lastError); err != nil {
		t.Fatalf("row %s: %v", id, err)
	}
	return r
}

func TestOutbox(t *testing.T) {
	for _, eng := range engines {
		t.Run(eng.name, func(t *testing.T) { testOutbox(t, eng.fresh(t)) })
	}
}

// openTable opens a database of cfg with the test tables.
func openTable(t *testing.T, cfg db.Config) *db.DB {
	t.Helper()
	d, err := db.Open(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	if err := d.Migrate(t.Context(), "outboxtest", schema); err != nil {
		t.Fatal(err)
	}
	return d
}

// insertRow adds a pending row due at due.
func insertRow(t *testing.T, d *db.DB, id, receiver, payload string, due time.Time) {
	t.Helper()
	if _, err := d.SQL().ExecContext(t.Context(), `INSERT INTO test_outbox (id, receiver, payload, state, due) VALUES ($1, $2, $3, 'pending', $4)`,
		id, receiver, payload, due.UnixMilli()); err != nil {
		t.Fatal(err)
	}
}

func payload(key string, kind notify.Kind) string {
	b, _ := json.Marshal(notify.Notification{Key: key, Kind: kind})
	return string(b)
}

func testOutbox(t *testing.T, cfg db.Config) {
	ctx := t.Context()
	d := openTable(t, cfg)
	now := time.UnixMilli(1_700_000_000_000)
	insert := func(id, receiver, payload string) { t.Helper(); insertRow(t, d, id, receiver, payload, now) }
	insert("ok", "good", payload("ok", notify.Firing))
	insert("flaky", "flaky", payload("flaky", notify.Firing))
	insert("refused", "refuse", payload("refused", notify.Firing))
	insert("skipped", "good", payload("skipped", notify.Repeat))
	insert("garbled", "good", "{")
	insert("lost", "nobody", payload("lost", notify.Firing))
	insert("slow", "slow", payload("slow", notify.Firing))

	var (
		mu      sync.Mutex
		results = map[string]outbox.Result{}
		sent    []string
	)
	ob := outbox.New(outbox.Config{
		DB: d, Table: "test_outbox", Attempts: "test_attempts", Replica: "r1",
		Receivers: map[string]notify.Notifier{
			"good": notify.Func(func(_ context.Context, n *notify.Notification) (bool, error) {
				mu.Lock()
				defer mu.Unlock()
				sent = append(sent, n.Key)
				return false, nil
			}),
			"flaky":  notify.Func(func(context.Context, *notify.Notification) (bool, error) { return true, errors.New("503") }),
			"refuse": notify.Func(func(context.Context, *notify.Notification) (bool, error) { return false, errors.New("400") }),
			"slow": notify.Func(func(ctx context.Context, _ *notify.Notification) (bool, error) {
				<-ctx.Done()
				return true, context.Cause(ctx)
			}),
		},
		MaxAttempts: 2,
		Delay:       func(n int) time.Duration { return time.Duration(n) * time.Minute },
		Timeout:     50 * time.Millisecond,
		Now:         func() time.Time { return now },
		Skip: func(_ context.Context, n *notify.Notification, _ time.Time) (string, error) {
			if n.Kind == notify.Repeat {
				return "silenced", nil
			}
			return "", nil
		},
		Observe: func(r outbox.Result) {
			mu.Lock()
			defer mu.Unlock()
			results[r.Key] = r
		},
	})
	if n, err := ob.Once(ctx); err != nil || n != 7 {
		t.Fatalf("Once = %d, %v; want 7, nil", n, err)
	}
	if len(sent) != 1 || sent[0] != "ok" {
		t.Errorf("sent %v, want [ok]", sent)
	}
	nowMs := now.UnixMilli()
	for _, tt := range []struct {
		id       string
		state    string
		attempts int
		due      int64 // 0: NULL
		errText  string
		notified bool
	}{
		{"ok", "sent", 1, 0, "", true},
		{"flaky", "pending", 1, nowMs + time.Minute.Milliseconds(), "503", true},
		{"refused", "dead", 1, 0, "400", true},
		{"skipped", "silenced", 0, 0, "", false},
		{"garbled", "dead", 0, 0, "bad payload: ", false},
		{"lost", "dead", 0, 0, "no receiver nobody", false},
		{"slow", "pending", 1, nowMs + time.Minute.Milliseconds(), "notifier timed out", true},
	} {
		r := getRow(t, d, tt.id)
		if r.state != tt.state || r.attempts != tt.attempts || !strings.HasPrefix(r.lastError, tt.errText) || (tt.errText == "") != (r.lastError == "") {
			t.Errorf("%s: state %q, attempts %d, last_error %q; want %q, %d, %q…", tt.id, r.state, r.attempts, r.lastError, tt.state, tt.attempts, tt.errText)
		}
		if tt.due == 0 && r.due.Valid || tt.due != 0 && r.due.Int64 != tt.due {
			t.Errorf("%s: due %v, want %d", tt.id, r.due, tt.due)
		}
		if pending := tt.state == "pending"; r.done.Valid == pending || !pending && r.done.Int64 != nowMs {
			t.Errorf("%s: done_at %v, want NULL while pending, else %d", tt.id, r.done, nowMs)
		}
		if res := results[tt.id]; res.State != tt.state || res.Notified != tt.notified || res.Attempts != tt.attempts {
			t.Errorf("%s: observed %+v", tt.id, res)
		}
	}
	var owned int
	d.SQL().QueryRow(`SELECT COUNT(*) FROM test_outbox WHERE owner IS NOT NULL OR lease_until IS NOT NULL`).Scan(&owned)
	if owned != 0 {
		t.Errorf("%d rows still leased", owned)
	}

	// Nothing is due until the retry; then the second failures reach
	// MaxAttempts and dead-letter the rows.
	if n, err := ob.Once(ctx); err != nil || n != 0 {
		t.Fatalf("Once before the retry = %d, %v; want 0, nil", n, err)
	}
	now = now.Add(time.Minute)
	if n, err := ob.Once(ctx); err != nil || n != 2 {
		t.Fatalf("Once at the retry = %d, %v; want 2, nil", n, err)
	}
	for _, id := range []string{"flaky", "slow"} {
		if r := getRow(t, d, id); r.state != "dead" || r.attempts != 2 || r.due.Valid || r.done.Int64 != now.UnixMilli() {
			t.Errorf("%s after the retry: %+v", id, r)
		}
	}

	// Every attempt is recorded, and every row that ended with an error;
	// skipped rows are not.
	rows, err := d.SQL().Query(`SELECT outbox_id, n, replica, ok, retry FROM test_attempts ORDER BY outbox_id, n`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var got []string
	for rows.Next() {
		var id, replica string
		var n, ok, retry int
		if err := rows.Scan(&id, &n, &replica, &ok, &retry); err != nil {
			t.Fatal(err)
		}
		got = append(got, strings.Join([]string{id, string(rune('0' + n)), replica, string(rune('0' + ok)), string(rune('0' + retry))}, " "))
	}
	want := []string{"flaky 1 r1 0 1", "flaky 2 r1 0 1", "garbled 0 r1 0 0", "lost 0 r1 0 0", "ok 1 r1 1 0", "refused 1 r1 0 0", "slow 1 r1 0 1", "slow 2 r1 0 1"}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("attempts:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// TestLeaseEndsMidBatch: the rows of a batch are sent within its lease.
// When a send outlasts the lease, the rows not yet begun are not sent:
// released for the next claim, or, if another claim (here by the same
// replica) has taken them meanwhile, left to it; and the late send's
// outcome does not overwrite that claim's.
func TestLeaseEndsMidBatch(t *testing.T) {
	for _, eng := range engines {
		for _, taken := range []bool{false, true} {
			name := eng.name + "/released"
			if taken {
				name = eng.name + "/taken"
			}
			t.Run(name, func(t *testing.T) {
				d := openTable(t, eng.fresh(t))
				now := time.UnixMilli(1_700_000_000_000)
				insertRow(t, d, "a", "good", payload("a", notify.Firing), now)
				insertRow(t, d, "b", "good", payload("b", notify.Firing), now)
				var sent []string
				lease := db.Lease{Table: "test_outbox", Key: "id", Due: "due", Owner: "owner", Until: "lease_until"}
				ob := outbox.New(outbox.Config{
					DB: d, Table: "test_outbox", Replica: "r1", Lease: time.Minute,
					Receivers: map[string]notify.Notifier{"good": notify.Func(func(ctx context.Context, n *notify.Notification) (bool, error) {
						sent = append(sent, n.Key)
						if len(sent) == 1 { // a slow send: the lease ends meanwhile
							now = now.Add(2 * time.Minute)
							if taken {
								if _, err := d.ClaimDue(ctx, lease, "r1", now, time.Minute, 10); err != nil {
									t.Error(err)
								}
							}
						}
						return false, nil
					})},
					Now: func() time.Time { return now },
				})
				if _, err := ob.Once(t.Context()); err != nil {
					t.Fatal(err)
				}
				if strings.Join(sent, " ") != "a" {
					t.Fatalf("sent %v in one claim, want [a]: b was begun after the lease ended", sent)
				}
				var owned int
				d.SQL().QueryRow(`SELECT COUNT(*) FROM test_outbox WHERE owner IS NOT NULL`).Scan(&owned)
				if a, b := getRow(t, d, "a"), getRow(t, d, "b"); taken {
					if a.state != "pending" || b.state != "pending" || owned != 2 {
						t.Errorf("a %+v, b %+v, %d owned; want both pending and held by the second claim", a, b, owned)
					}
				} else if a.state != "sent" || b.state != "pending" || b.attempts != 0 || owned != 0 {
					t.Errorf("a %+v, b %+v, %d owned; want a sent, b pending and released", a, b, owned)
				}
				if !taken {
					if _, err := ob.Once(t.Context()); err != nil {
						t.Fatal(err)
					}
					if strings.Join(sent, " ") != "a b" || getRow(t, d, "b").state != "sent" {
						t.Errorf("after the next claim sent %v, b %+v; want b sent", sent, getRow(t, d, "b"))
					}
				}
			})
		}
	}
}

// TestDeadAfterAttempts: a row that ends without an attempt after failed
// ones (its receiver was removed meanwhile) is dead-lettered, and its
// attempts stay recorded.
func TestDeadAfterAttempts(t *testing.T) {
	for _, eng := range engines {
		t.Run(eng.name, func(t *testing.T) {
			d := openTable(t, eng.fresh(t))
			now := time.UnixMilli(1_700_000_000_000)
			insertRow(t, d, "x", "flaky", payload("x", notify.Firing), now)
			cfg := outbox.Config{
				DB: d, Table: "test_outbox", Attempts: "test_attempts", Replica: "r1", MaxAttempts: 5,
				Receivers: map[string]notify.Notifier{"flaky": notify.Func(func(context.Context, *notify.Notification) (bool, error) {
					return true, errors.New("503")
				})},
				Now: func() time.Time { return now },
			}
			if _, err := outbox.New(cfg).Once(t.Context()); err != nil {
				t.Fatal(err)
			}
			cfg.Receivers = nil
			if _, err := outbox.New(cfg).Once(t.Context()); err != nil {
				t.Fatalf("ending the row without its receiver: %v", err)
			}
			if r := getRow(t, d, "x"); r.state != "dead" || r.attempts != 1 || r.lastError != "no receiver flaky" {
				t.Errorf("row %+v, want dead after 1 attempt, for want of its receiver", r)
			}
			var n int
			d.SQL().QueryRow(`SELECT COUNT(*) FROM test_attempts WHERE outbox_id = 'x'`).Scan(&n)
			if n != 1 {
				t.Errorf("%d attempts recorded, want 1", n)
			}
		})
	}
}

func TestBadTable(t *testing.T) {
	d, err := db.Open(t.Context(), dbtest.SQLite(t))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	for _, c := range []outbox.Config{
		{DB: d, Table: "x; DROP TABLE y"},
		{DB: d, Table: "test_outbox", Attempts: "Attempts"},
		{Table: "test_outbox"},
	} {
		if _, err := outbox.New(c).Once(t.Context()); err == nil {
			t.Errorf("Once with table %q, attempts %q, db %v: no error", c.Table, c.Attempts, c.DB != nil)
		}
	}
}
