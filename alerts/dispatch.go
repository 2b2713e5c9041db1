package alerts

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/envmon/envmon/alerts/notify"
	"github.com/envmon/envmon/db"
)

var outboxLease = db.Lease{Table: "alerts_outbox", Key: "id", Due: "due", Owner: "owner", Until: "lease_until"}

// repeats enqueues a repeat notification for every episode that has been
// firing, unacknowledged and not inhibited for its rule's repeat interval
// since its last notification. The conditional update on notified_at makes
// one replica do it once.
func (e *Engine) repeats(ctx context.Context, now time.Time) error {
	rows, err := e.db.SQL().QueryContext(ctx, `SELECT `+episodeCols+` FROM alerts_episodes WHERE state = 'firing' AND acked_at IS NULL`)
	if err != nil {
		return err
	}
	var due []*Episode
	for rows.Next() {
		ep, err := scanEpisode(rows)
		if err != nil {
			rows.Close()
			return err
		}
		r := e.cfg.Rules.Get(ep.Rule)
		if r == nil || r.Repeat == 0 || ep.NotifiedAt == nil || now.Sub(*ep.NotifiedAt) < r.Repeat {
			continue
		}
		due = append(due, ep)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	for _, ep := range due {
		e.mu.Lock()
		inh := ""
		if st := e.stations[ep.Station]; st != nil && !ruleInhibitor(e, ep.Rule) {
			inh = e.inhibitor(st)
		}
		e.mu.Unlock()
		if inh != "" {
			continue
		}
		err := e.db.Tx(ctx, func(tx *sql.Tx) error {
			res, err := tx.ExecContext(ctx, `UPDATE alerts_episodes SET notified_at = $1, seq = seq + 1 WHERE id = $2 AND state = 'firing' AND acked_at IS NULL AND notified_at = $3`,
				ms(now), ep.ID, ms(*ep.NotifiedAt))
			if err != nil {
				return err
			}
			if n, _ := res.RowsAffected(); n == 0 {
				return nil
			}
			var seq int64
			if err := tx.QueryRowContext(ctx, `SELECT seq FROM alerts_episodes WHERE id = $1`, ep.ID).Scan(&seq); err != nil {
				return err
			}
			if err := addTransition(ctx, tx, ep.ID, seq, "firing", "firing", now, now, "clock", "repeat notification"); err != nil {
				return err
			}
			return e.enqueue(ctx, tx, ep, notify.Repeat, seq, now)
		})
		if err != nil {
			return fmt.Errorf("alerts: repeat %s: %w", ep.ID, err)
		}
	}
	return nil
}

func ruleInhibitor(e *Engine, name string) bool {
	r := e.cfg.Rules.Get(name)
	return r != nil && r.Kind.Inhibitor()
}

// Dispatcher delivers the outbox: it claims due rows with a lease (SKIP
// LOCKED on PostgreSQL), so that replicas never send one row at once, sends
// each to its receiver, records every attempt, and retries with
// exponential backoff until the row is sent or dead-lettered.
type Dispatcher struct {
	e         *Engine
	receivers map[string]notify.Notifier
}

// Dispatcher returns the engine's outbox dispatcher, a component.
func (e *Engine) Dispatcher() *Dispatcher {
	d := &Dispatcher{e: e, receivers: map[string]notify.Notifier{}}
	for _, r := range e.cfg.Receivers {
		d.receivers[r.Name] = r.Notifier
	}
	return d
}

// Name is the component's name.
func (d *Dispatcher) Name() string { return "alerts-dispatcher" }

// Run delivers until ctx ends, polling every Tick and at once after a
// transition that notifies.
func (d *Dispatcher) Run(ctx context.Context) error {
	t := time.NewTicker(d.e.cfg.Tick)
	defer t.Stop()
	for {
		if _, err := d.Once(ctx); err != nil && ctx.Err() == nil {
			d.e.log.Warn("alerts dispatcher", "err", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		case <-d.e.nudge:
		}
	}
}

// Once claims and delivers the rows due now, and returns how many it
// attempted.
func (d *Dispatcher) Once(ctx context.Context) (int, error) {
	e := d.e
	now := e.cfg.Now()
	ids, err := e.db.ClaimDue(ctx, outboxLease, e.cfg.Replica, now, e.cfg.Retry.Lease, 64)
	if err != nil {
		return 0, err
	}
	var errs []error
	for _, id := range ids {
		if err := d.deliver(ctx, id, now); err != nil {
			errs = append(errs, err)
		}
	}
	return len(ids), errors.Join(errs...)
}

func (d *Dispatcher) deliver(ctx context.Context, id string, now time.Time) error {
	e := d.e
	var (
		payload, receiver string
		attempts          int
	)
	if err := e.db.SQL().QueryRowContext(ctx, `SELECT payload, receiver, attempts FROM alerts_outbox WHERE id = $1 AND owner = $2`, id, e.cfg.Replica).
		Scan(&payload, &receiver, &attempts); err != nil {
		return fmt.Errorf("alerts outbox %s: %w", id, err)
	}
	var n notify.Notification
	if err := json.Unmarshal([]byte(payload), &n); err != nil {
		return d.finish(ctx, id, "dead", attempts, false, false, "bad payload: "+err.Error(), now)
	}
	if silenced, err := e.silenced(ctx, n.Episode.Labels, now); err != nil {
		return err
	} else if silenced && n.Kind != notify.Resolved {
		return d.finish(ctx, id, "silenced", attempts, false, false, "", now)
	}
	nf := d.receivers[receiver]
	if nf == nil {
		return d.finish(ctx, id, "dead", attempts, false, false, "no receiver "+receiver, now)
	}
	retry, err := nf.Notify(ctx, &n)
	attempts++
	e.metrics.attempts.WithLabelValues(receiver).Inc()
	if err == nil {
		return d.finish(ctx, id, "sent", attempts, true, false, "", now)
	}
	e.metrics.failures.WithLabelValues(receiver).Inc()
	e.log.Warn("alert notification failed", "receiver", receiver, "key", id, "attempt", attempts, "retry", retry, "err", err)
	if retry && attempts < e.cfg.Retry.Attempts {
		return d.finish(ctx, id, "pending", attempts, false, true, err.Error(), now)
	}
	return d.finish(ctx, id, "dead", attempts, false, retry, err.Error(), now)
}

// finish records the attempt and the row's new state, if the lease is
// still ours.
func (d *Dispatcher) finish(ctx context.Context, id, state string, attempts int, ok, retry bool, msg string, now time.Time) error {
	e := d.e
	var due sql.NullInt64
	if state == "pending" {
		due = nullMs(now.Add(e.cfg.Retry.Delay(attempts)))
	}
	done := nullIf(now, state != "pending")
	return e.db.Tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE alerts_outbox SET state = $1, attempts = $2, due = $3, done_at = $4, last_error = $5, owner = NULL, lease_until = NULL
			WHERE id = $6 AND owner = $7`, state, attempts, due, done, msg, id, e.cfg.Replica)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return nil // the lease ended and another replica took it
		}
		if ok || msg != "" {
			_, err = tx.ExecContext(ctx, `INSERT INTO alerts_attempts (outbox_id, n, at, replica, ok, retry, error) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
				id, attempts, ms(now), e.cfg.Replica, b2i(ok), b2i(retry), msg)
		}
		return err
	})
}

// Delivery is an outbox row, for the API and tests.
type Delivery struct {
	Key       string    `json:"key"`
	Receiver  string    `json:"receiver"`
	Kind      string    `json:"kind"`
	State     string    `json:"state"`
	Attempts  int       `json:"attempts"`
	LastError string    `json:"last_error,omitempty"`
	Created   time.Time `json:"created_at"`
}

// Deliveries returns the outbox rows of an episode.
func (e *Engine) Deliveries(ctx context.Context, episode string) ([]Delivery, error) {
	rows, err := e.db.SQL().QueryContext(ctx, `SELECT id, receiver, kind, state, attempts, last_error, created_at FROM alerts_outbox WHERE episode_id = $1 ORDER BY created_at, id`, episode)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Delivery
	for rows.Next() {
		var x Delivery
		var c int64
		if err := rows.Scan(&x.Key, &x.Receiver, &x.Kind, &x.State, &x.Attempts, &x.LastError, &c); err != nil {
			return nil, err
		}
		x.Created = time.UnixMilli(c).UTC()
		out = append(out, x)
	}
	return out, rows.Err()
}
