// Package outbox delivers notifications from a transactional outbox table:
// rows that a component writes in the transaction of the change they
// announce, and that an Outbox then claims with a lease (db.DB.ClaimDue),
// sends to their receiver's notify.Notifier and retries with backoff until
// each is sent or dead-lettered. alerts and cases deliver their outboxes
// with it.
//
// The outbox table must have the columns
//
//	id          TEXT PRIMARY KEY -- the idempotency key
//	receiver    TEXT NOT NULL    -- the name of a Config.Receivers entry
//	payload     TEXT NOT NULL    -- a notify.Notification in JSON
//	state       TEXT NOT NULL    -- "pending", "sent", "dead" or a Skip state
//	due         BIGINT           -- when a pending row is due, in Unix milliseconds
//	owner       TEXT             -- the replica that holds the row's lease, or NULL
//	lease_until BIGINT           -- when the lease ends, in Unix milliseconds, or NULL
//	attempts    INTEGER NOT NULL -- how many times Notify was called
//	done_at     BIGINT           -- when the row ended, in Unix milliseconds; NULL while pending
//	last_error  TEXT NOT NULL    -- why the last attempt failed, or ""
//
// and the optional attempts table the columns
//
//	outbox_id TEXT NOT NULL    -- the outbox row's id
//	n         INTEGER NOT NULL -- the row's attempts after this one
//	at        BIGINT NOT NULL  -- when, in Unix milliseconds
//	replica   TEXT NOT NULL    -- Config.Replica
//	ok        INTEGER NOT NULL -- 1 if the row was sent, else 0
//	retry     INTEGER NOT NULL -- 1 if the failure may succeed if tried again, else 0
//	error     TEXT NOT NULL    -- why it failed, or ""
//
// outbox imports db, alerts/notify and the standard library.
package outbox

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"time"

	"github.com/envmon/envmon/alerts/notify"
	"github.com/envmon/envmon/db"
)

// States of an outbox row that an Outbox writes.
const (
	Pending = "pending" // due to be sent, now or after a failed attempt
	Sent    = "sent"    // delivered
	Dead    = "dead"    // dead-lettered: failed for good, or cannot be sent
)

// Defaults of Config.
const (
	DefaultLease = time.Minute
	DefaultBatch = 64
)

// Config configures an Outbox.
type Config struct {
	DB *db.DB
	// Table is the outbox table, such as "alerts_outbox". Attempts, if not
	// empty, is the table that records every attempt. Both must be
	// lower-case SQL identifiers ([a-z_][a-z0-9_]*), as in db.Lease.
	Table    string
	Attempts string
	// Replica names this process in leases and attempts.
	Replica string
	// Lease is how long a claimed row is held; DefaultLease when zero.
	// Batch is how many rows Once claims at most; DefaultBatch when zero.
	// The rows of a batch are sent one after another within the lease:
	// each Notify's context ends a tenth of the lease before the lease
	// does, and rows not begun by then are released to be claimed again.
	Lease time.Duration
	Batch int
	// Receivers are the notifiers by name; a row whose receiver is not
	// here is dead-lettered.
	Receivers map[string]notify.Notifier
	// MaxAttempts is how many attempts may fail before a row is
	// dead-lettered; a failure that Notify says not to retry
	// dead-letters it at once. Below 1, as 1.
	MaxAttempts int
	// Delay returns the wait after failed attempt n (from 1); nil retries
	// at once.
	Delay func(n int) time.Duration
	// Timeout bounds each Notify call; none when zero.
	Timeout time.Duration
	// Now is the clock; time.Now when nil.
	Now func() time.Time
	// Skip, if not nil, is asked before a notification is sent: a state
	// other than "" and Pending ends the row in that state without an
	// attempt (alerts ends silenced notifications so). An error leaves
	// the row to be claimed again when its lease ends.
	Skip func(ctx context.Context, n *notify.Notification, now time.Time) (state string, err error)
	// Observe, if not nil, is told what became of every row that was
	// claimed and read, before the row is updated, for metrics and logs.
	Observe func(Result)
}

// A Result is what became of one claimed row.
type Result struct {
	Key      string // the row's id
	Receiver string // the row's receiver
	State    string // the row's new state
	Notified bool   // whether Notify was called
	Attempts int    // the row's attempts, counting this one
	// Retry reports whether Notify failed and said that trying again may
	// succeed.
	Retry bool
	// Err is Notify's error, or why the row ended without an attempt; nil
	// if the row was sent or skipped.
	Err error
}

// An Outbox delivers the rows of one outbox table. Its methods are safe
// for concurrent use, and Outboxes of several replicas may share a table.
type Outbox struct {
	cfg   Config
	lease db.Lease
	err   error // a bad Config, returned by Once

	selectRow, updateRow, releaseRow, insertAttempt string
}

var identifier = regexp.MustCompile(`^[a-z_][a-z0-9_]*$`)

// New returns the Outbox of cfg. A table name that is not an identifier
// makes every Once fail.
func New(cfg Config) *Outbox {
	if cfg.Lease == 0 {
		cfg.Lease = DefaultLease
	}
	if cfg.Batch == 0 {
		cfg.Batch = DefaultBatch
	}
	if cfg.MaxAttempts < 1 {
		cfg.MaxAttempts = 1
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	o := &Outbox{cfg: cfg, lease: db.Lease{Table: cfg.Table, Key: "id", Due: "due", Owner: "owner", Until: "lease_until"}}
	switch {
	case cfg.DB == nil:
		o.err = errors.New("outbox: no database")
	case !identifier.MatchString(cfg.Table):
		o.err = fmt.Errorf("outbox: bad table name %q", cfg.Table)
	case cfg.Attempts != "" && !identifier.MatchString(cfg.Attempts):
		o.err = fmt.Errorf("outbox: bad attempts table name %q", cfg.Attempts)
	}
	if o.err != nil {
		return o
	}
	// A claim is known by its owner and the end of its lease: two claims
	// of one row by one replica (the second after the first's lease
	// ended) are told apart.
	o.selectRow = `SELECT payload, receiver, attempts FROM ` + cfg.Table + ` WHERE id = $1 AND owner = $2 AND lease_until = $3`
	o.updateRow = `UPDATE ` + cfg.Table + ` SET state = $1, attempts = $2, due = $3, done_at = $4, last_error = $5, owner = NULL, lease_until = NULL
		WHERE id = $6 AND owner = $7 AND lease_until = $8`
	o.releaseRow = `UPDATE ` + cfg.Table + ` SET owner = NULL, lease_until = NULL WHERE id = $1 AND owner = $2 AND lease_until = $3`
	if cfg.Attempts != "" {
		// A row that ends without an attempt after failed ones has the
		// number of its last attempt: that attempt's record stays, and
		// the reason is in the row's last_error.
		o.insertAttempt = `INSERT INTO ` + cfg.Attempts + ` (outbox_id, n, at, replica, ok, retry, error) VALUES ($1, $2, $3, $4, $5, $6, $7)
		ON CONFLICT DO NOTHING`
	}
	return o
}

// Once claims the rows due now and delivers each, and returns how many it
// claimed. The error joins those of the rows that failed to be read or
// updated; a failed Notify is not an error of Once.
func (o *Outbox) Once(ctx context.Context) (int, error) {
	if o.err != nil {
		return 0, o.err
	}
	now := o.cfg.Now()
	ids, err := o.cfg.DB.ClaimDue(ctx, o.lease, o.cfg.Replica, now, o.cfg.Lease, o.cfg.Batch)
	if err != nil {
		return 0, err
	}
	c := claim{until: now.Add(o.cfg.Lease)}
	c.untilMs = c.until.UnixMilli()
	var errs []error
	for _, id := range ids {
		if ctx.Err() != nil {
			break // the rows left are claimed again when the lease ends
		}
		if err := o.deliver(ctx, id, c); err != nil {
			errs = append(errs, err)
		}
	}
	return len(ids), errors.Join(errs...)
}

// claim is one Once's lease on its rows.
type claim struct {
	until   time.Time
	untilMs int64 // lease_until as written by ClaimDue
}

// deliver sends the claimed row id and records the outcome, unless the
// lease is nearly over: then the row is released for the next claim.
func (o *Outbox) deliver(ctx context.Context, id string, c claim) error {
	left := c.until.Sub(o.cfg.Now()) - o.cfg.Lease/10
	if left <= 0 {
		_, err := o.cfg.DB.SQL().ExecContext(ctx, o.releaseRow, id, o.cfg.Replica, c.untilMs)
		return err
	}
	var (
		payload string
		r       = Result{Key: id}
	)
	if err := o.cfg.DB.SQL().QueryRowContext(ctx, o.selectRow, id, o.cfg.Replica, c.untilMs).
		Scan(&payload, &r.Receiver, &r.Attempts); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return nil // the lease ended and another claim took the row
		}
		return fmt.Errorf("%s %s: %w", o.cfg.Table, id, err)
	}
	var n notify.Notification
	if err := json.Unmarshal([]byte(payload), &n); err != nil {
		r.State, r.Err = Dead, fmt.Errorf("bad payload: %w", err)
		return o.finish(ctx, r, c)
	}
	if o.cfg.Skip != nil {
		state, err := o.cfg.Skip(ctx, &n, o.cfg.Now())
		if err != nil {
			return err
		}
		if state != "" && state != Pending {
			r.State = state
			return o.finish(ctx, r, c)
		}
	}
	nf := o.cfg.Receivers[r.Receiver]
	if nf == nil {
		r.State, r.Err = Dead, errors.New("no receiver "+r.Receiver)
		return o.finish(ctx, r, c)
	}
	timeout, cause := left, errors.New("notifier stopped before the lease ends")
	if o.cfg.Timeout > 0 && o.cfg.Timeout < left {
		timeout, cause = o.cfg.Timeout, errors.New("notifier timed out")
	}
	nctx, cancel := context.WithTimeoutCause(ctx, timeout, cause)
	retry, err := nf.Notify(nctx, &n)
	cancel()
	r.Notified = true
	r.Attempts++
	switch {
	case err == nil:
		r.State = Sent
	case retry && r.Attempts < o.cfg.MaxAttempts:
		r.State, r.Retry, r.Err = Pending, true, err
	default:
		r.State, r.Retry, r.Err = Dead, retry, err
	}
	return o.finish(ctx, r, c)
}

// finish tells Observe of r and, if the claim on the row still holds,
// records its new state and, in the attempts table, the attempt or why the
// row ended without one. It does so even when ctx has ended: what was sent
// is recorded, not sent again.
func (o *Outbox) finish(ctx context.Context, r Result, c claim) error {
	if o.cfg.Observe != nil {
		o.cfg.Observe(r)
	}
	now := o.cfg.Now()
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), finishTimeout)
	defer cancel()
	var due, done sql.NullInt64
	if r.State == Pending {
		var d time.Duration
		if o.cfg.Delay != nil {
			d = o.cfg.Delay(r.Attempts)
		}
		due = sql.NullInt64{Int64: now.Add(d).UnixMilli(), Valid: true}
	} else {
		done = sql.NullInt64{Int64: now.UnixMilli(), Valid: true}
	}
	msg := ""
	if r.Err != nil {
		msg = r.Err.Error()
	}
	ok := r.State == Sent
	return o.cfg.DB.Tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, o.updateRow, r.State, r.Attempts, due, done, msg, r.Key, o.cfg.Replica, c.untilMs)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return nil // the lease ended and another claim took the row
		}
		if o.insertAttempt != "" && (ok || msg != "") {
			_, err = tx.ExecContext(ctx, o.insertAttempt, r.Key, r.Attempts, now.UnixMilli(), o.cfg.Replica, b2i(ok), b2i(r.Retry), msg)
		}
		return err
	})
}

// finishTimeout bounds the recording of a row's outcome.
const finishTimeout = 10 * time.Second

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}
