package alerts

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/envmon/envmon/alerts/notify"
	"github.com/envmon/envmon/alerts/notify/outbox"
)

// repeats enqueues a repeat notification for every episode that has been
// firing, unacknowledged and not inhibited for its rule's repeat interval
// since its last notification. The conditional update on notified_at makes
// one replica do it once. Every replica runs it, also for stations it does
// not own and so holds no inhibitor of in memory: the update itself checks
// in the database that no inhibitor episode (offline, sensor fault) of the
// station is firing.
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
	if len(due) == 0 {
		return nil
	}
	const update = `UPDATE alerts_episodes SET notified_at = $1, seq = seq + 1 WHERE id = $2 AND state = 'firing' AND acked_at IS NULL AND notified_at = $3`
	// notInhibited is the update's condition that no inhibitor rule's
	// episode of the station is firing, from $5 on: the rule names.
	notInhibited := ""
	inhibitors := make([]any, 0, len(e.rules.inhibitors))
	if len(e.rules.inhibitors) > 0 {
		var b strings.Builder
		b.WriteString(` AND NOT EXISTS (SELECT 1 FROM alerts_episodes i WHERE i.station = $4 AND i.state = 'firing' AND i.rule IN (`)
		for k, r := range e.rules.inhibitors {
			if k > 0 {
				b.WriteString(", ")
			}
			fmt.Fprintf(&b, "$%d", k+5)
			inhibitors = append(inhibitors, r.Name)
		}
		b.WriteString("))")
		notInhibited = b.String()
	}
	for _, ep := range due {
		q, args := update, []any{ms(now), ep.ID, ms(*ep.NotifiedAt)}
		if notInhibited != "" && !ruleInhibitor(e, ep.Rule) {
			q, args = update+notInhibited, append(append(args, ep.Station), inhibitors...)
		}
		err := e.db.Tx(ctx, func(tx *sql.Tx) error {
			res, err := tx.ExecContext(ctx, q, args...)
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

// Dispatcher delivers the outbox with package outbox: it claims due rows
// with a lease (SKIP LOCKED on PostgreSQL) and sends each within it, so
// that replicas never send one row at once, ends silenced notifications other than resolves as
// "silenced", sends each other row to its receiver, records every attempt
// in alerts_attempts, and retries with exponential backoff until the row
// is sent or dead-lettered.
type Dispatcher struct {
	e  *Engine
	ob *outbox.Outbox
}

// Dispatcher returns the engine's outbox dispatcher, a component.
func (e *Engine) Dispatcher() *Dispatcher {
	receivers := map[string]notify.Notifier{}
	for _, r := range e.cfg.Receivers {
		receivers[r.Name] = r.Notifier
	}
	return &Dispatcher{e: e, ob: outbox.New(outbox.Config{
		DB:          e.db,
		Table:       "alerts_outbox",
		Attempts:    "alerts_attempts",
		Replica:     e.cfg.Replica,
		Lease:       e.cfg.Retry.Lease,
		Batch:       64,
		Receivers:   receivers,
		MaxAttempts: e.cfg.Retry.Attempts,
		Delay:       e.cfg.Retry.Delay,
		Now:         e.cfg.Now,
		Skip: func(ctx context.Context, n *notify.Notification, now time.Time) (string, error) {
			silenced, err := e.silenced(ctx, n.Episode.Labels, now)
			if err != nil || !silenced || n.Kind == notify.Resolved {
				return "", err
			}
			return "silenced", nil
		},
		Observe: func(r outbox.Result) {
			if !r.Notified {
				return
			}
			e.metrics.attempts.WithLabelValues(r.Receiver).Inc()
			if r.Err != nil {
				e.metrics.failures.WithLabelValues(r.Receiver).Inc()
				e.log.Warn("alert notification failed", "receiver", r.Receiver, "key", r.Key, "attempt", r.Attempts, "retry", r.Retry, "err", r.Err)
			}
		},
	})}
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
// claimed.
func (d *Dispatcher) Once(ctx context.Context) (int, error) { return d.ob.Once(ctx) }

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
