package cases

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/envmon/envmon/alerts/notify"
	"github.com/envmon/envmon/alerts/notify/outbox"
)

// Kinds of case notification, beside the alerts' own.
const (
	KindReminder   notify.Kind = "case_reminder"
	KindOverdue    notify.Kind = "case_overdue"
	KindEscalation notify.Kind = "case_escalation"
)

var priorities = []string{"normal", "high", "urgent", "critical"}

type dueTimer struct {
	id, caseID, kind string
	deadline, next   int64
	reminders, over  int
}

// Tick acts on every timer due now, each in the transaction that claims it
// with SKIP LOCKED (on SQLite, under the write lock), so that a timer acts
// once however many replicas tick, and its effects (events, escalation,
// outbox rows) commit with it or not at all. It returns how many acted.
func (s *Service) Tick(ctx context.Context) (int, error) {
	total := 0
	for {
		n, err := s.tickBatch(ctx)
		total += n
		if err != nil || n == 0 {
			return total, err
		}
	}
}

func (s *Service) tickBatch(ctx context.Context) (int, error) {
	now := s.cfg.Now()
	var changes []Change
	acted := 0
	err := s.db.Tx(ctx, func(tx *sql.Tx) error {
		changes, acted = changes[:0], 0
		rows, err := tx.QueryContext(ctx, `SELECT id, case_id, kind, deadline, next, reminders, overdue FROM cases_timers
			WHERE state = 'pending' AND next IS NOT NULL AND next <= $1 ORDER BY next, id LIMIT 16`+s.db.SkipLocked(), ms(now))
		if err != nil {
			return err
		}
		var due []dueTimer
		for rows.Next() {
			var t dueTimer
			if err := rows.Scan(&t.id, &t.caseID, &t.kind, &t.deadline, &t.next, &t.reminders, &t.over); err != nil {
				rows.Close()
				return err
			}
			due = append(due, t)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		for _, t := range due {
			ch, err := s.act(ctx, tx, t, now)
			if err != nil {
				return fmt.Errorf("timer %s: %w", t.id, err)
			}
			changes = append(changes, ch)
			acted++
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("cases: timers: %w", err)
	}
	for _, ch := range changes {
		if ch.Type != "" {
			s.hub.Publish(ch)
		}
	}
	return acted, nil
}

// act is one action of a due timer: a reminder before the deadline; at
// the deadline, overdue and escalation to the grid cell's supervisor;
// then reminders every RemindEvery, escalating one grid level up every
// EscalateEvery.
//
// It locks the case row first, so that two timers of one case acting on
// two replicas at once see each other's escalation and do not both
// escalate to the same level.
//
// A closed case's timers do not act, but for the recheck of a poor
// rating: any other (such as one armed before a reopen) is marked met as
// of the closing, and the returned Change has no Type.
//
// Every notification key names the timer, its deadline and the action's
// count, so that a timer re-armed (a reopen, another poor rating), whose
// counts start again from zero, does not repeat the keys of its earlier
// arming, which cases_outbox keeps.
func (s *Service) act(ctx context.Context, tx *sql.Tx, t dueTimer, now time.Time) (Change, error) {
	c, err := s.lockCase(ctx, tx, t.caseID)
	if err != nil {
		return Change{}, err
	}
	if c.State == Closed && (t.kind != TimerRecheck || c.Rating != "poor") {
		closed := now
		if c.ClosedAt != nil {
			closed = *c.ClosedAt
		}
		return Change{}, meet(ctx, tx, c.ID, t.kind, closed)
	}
	deadline := fromMs(t.deadline)
	loc := s.cal.Location()
	dueText := deadline.In(loc).Format("2006-01-02 15:04")
	ch := Change{Case: c.ID, State: c.State, Team: c.Team, Grid: c.Grid, Source: c.Source}
	if now.Before(deadline) {
		t.reminders++
		if _, err := tx.ExecContext(ctx, `UPDATE cases_timers SET reminders = $1, next = $2 WHERE id = $3`, t.reminders, t.deadline, t.id); err != nil {
			return ch, err
		}
		if err := addEvent(ctx, tx, c.ID, now, "clock", "reminder", "", "", t.kind+" due "+dueText); err != nil {
			return ch, err
		}
		s.metrics.timers.WithLabelValues(t.kind, "reminder").Inc()
		ch.Type = "reminder"
		return ch, s.enqueue(ctx, tx, c, t, KindReminder, fmt.Sprintf("%s@%d.r%d", t.id, t.deadline, t.reminders), c.Escalation, dueText, now)
	}
	t.over++
	late := now.Sub(deadline)
	level := min(1+int(late/s.cfg.EscalateEvery), maxLevel(c.Grid))
	k := int(late/s.cfg.RemindEvery) + 1
	next := deadline.Add(time.Duration(k) * s.cfg.RemindEvery)
	if _, err := tx.ExecContext(ctx, `UPDATE cases_timers SET overdue = $1, next = $2 WHERE id = $3`, t.over, ms(next), t.id); err != nil {
		return ch, err
	}
	if t.over == 1 {
		if err := addEvent(ctx, tx, c.ID, now, "clock", "overdue", "", "", t.kind+" was due "+dueText); err != nil {
			return ch, err
		}
	}
	if level > c.Escalation {
		g := levelGrid(c.Grid, level)
		prio := min(c.Priority+level-c.Escalation, len(priorities)-1)
		if _, err := tx.ExecContext(ctx, `UPDATE cases_cases SET escalation = $1, escalated_grid = $2, priority = $3 WHERE id = $4`, level, g, prio, c.ID); err != nil {
			return ch, err
		}
		if err := addEvent(ctx, tx, c.ID, now, "clock", "escalated", "", "", fmt.Sprintf("%s overdue: escalated to level %d, the supervisor of %q; priority %s", t.kind, level, g, priorities[prio])); err != nil {
			return ch, err
		}
		c.Escalation, c.EscalatedGrid, c.Priority = level, g, prio
		s.metrics.timers.WithLabelValues(t.kind, "escalation").Inc()
		ch.Type = "escalated"
		return ch, s.enqueue(ctx, tx, c, t, KindEscalation, fmt.Sprintf("%s@%d.e%d", t.id, t.deadline, level), level, dueText, now)
	}
	if err := addEvent(ctx, tx, c.ID, now, "clock", "overdue_reminder", "", "", fmt.Sprintf("%s overdue since %s (reminder %d)", t.kind, dueText, t.over)); err != nil {
		return ch, err
	}
	s.metrics.timers.WithLabelValues(t.kind, "overdue").Inc()
	ch.Type = "overdue"
	return ch, s.enqueue(ctx, tx, c, t, KindOverdue, fmt.Sprintf("%s@%d.o%d", t.id, t.deadline, t.over), c.Escalation, dueText, now)
}

// maxLevel is how many grid levels a case in cell grid can escalate
// through: its own cell's supervisor, then each cell above it.
func maxLevel(grid string) int {
	if grid == "" {
		return 1
	}
	return strings.Count(grid, "/") + 1
}

// levelGrid is the cell of escalation level n (from 1) for a case in grid.
func levelGrid(grid string, n int) string {
	if grid == "" {
		return ""
	}
	parts := strings.Split(grid, "/")
	keep := max(len(parts)-n+1, 1)
	return strings.Join(parts[:keep], "/")
}

// enqueue writes an outbox row per receiver, keyed key.receiver, in tx.
// The key is fixed by the timer, its deadline and its action count, so one
// action is enqueued once whoever commits it.
func (s *Service) enqueue(ctx context.Context, tx *sql.Tx, c *Case, t dueTimer, kind notify.Kind, key string, level int, dueText string, now time.Time) error {
	var en, zh string
	switch kind {
	case KindReminder:
		en = fmt.Sprintf("Case %s: the %s deadline is at %s", c.ID, t.kind, dueText)
		zh = fmt.Sprintf("案件 %s：%s 时限为 %s", c.ID, t.kind, dueText)
	case KindOverdue:
		en = fmt.Sprintf("Case %s: the %s deadline of %s has passed", c.ID, t.kind, dueText)
		zh = fmt.Sprintf("案件 %s：%s 已超过时限 %s", c.ID, t.kind, dueText)
	default:
		en = fmt.Sprintf("Case %s escalated to %s: the %s deadline of %s has passed", c.ID, c.EscalatedGrid, t.kind, dueText)
		zh = fmt.Sprintf("案件 %s 已升级至 %s：%s 已超过时限 %s", c.ID, c.EscalatedGrid, t.kind, dueText)
	}
	for _, r := range s.cfg.Receivers {
		n := notify.Notification{
			Key: "case." + key + "." + r.Name, Receiver: r.Name, Kind: kind, Created: now.UTC(),
			Episode: notify.Episode{
				ID: c.ID, Rule: "case_" + t.kind, Station: c.Station, Point: c.Point, Medium: c.Category,
				Severity: priorities[c.Priority], State: "firing",
				Labels: map[string]string{"alertname": "case_" + t.kind, "case": c.ID, "category": c.Category, "team": c.Team,
					"grid": c.Grid, "escalated_grid": c.EscalatedGrid, "level": fmt.Sprint(level), "deadline": t.kind},
				Annotations: map[string]string{"summary": en, "summary_zh": zh},
				StartsAt:    fromMs(t.deadline), Fingerprint: "case-" + c.ID + "-" + t.kind,
			},
		}
		if s.cfg.ExternalURL != "" {
			n.URL = s.cfg.ExternalURL + "/api/v1/cases/" + c.ID
		}
		b, _ := json.Marshal(n)
		if _, err := tx.ExecContext(ctx, `INSERT INTO cases_outbox (id, case_id, receiver, kind, payload, state, due, created_at) VALUES ($1, $2, $3, $4, $5, 'pending', $6, $6)
			ON CONFLICT (id) DO NOTHING`, n.Key, c.ID, r.Name, string(kind), string(b), ms(now)); err != nil {
			return err
		}
	}
	return nil
}

// newOutbox returns the deliverer of cases_outbox: a lease of a minute, 32
// rows at a time, 30 s for each Notify, and failures retried after 10 s
// doubling, at most 8 attempts.
func (s *Service) newOutbox() *outbox.Outbox {
	receivers := map[string]notify.Notifier{}
	for _, r := range s.cfg.Receivers {
		receivers[r.Name] = r.Notifier
	}
	return outbox.New(outbox.Config{
		DB:          s.db,
		Table:       "cases_outbox",
		Replica:     s.cfg.Replica,
		Lease:       time.Minute,
		Batch:       32,
		Receivers:   receivers,
		MaxAttempts: 8,
		Delay:       func(n int) time.Duration { return 10 * time.Second << min(n-1, 6) },
		Timeout:     30 * time.Second,
		Now:         s.cfg.Now,
		Observe: func(r outbox.Result) {
			s.metrics.sent.WithLabelValues(r.Receiver, r.State).Inc()
			if r.Notified && r.Err != nil {
				s.log.Warn("case notification failed", "receiver", r.Receiver, "key", r.Key, "attempt", r.Attempts, "err", r.Err)
			}
		},
	})
}

// Deliver claims the outbox rows due now with a lease and sends each to its
// receiver, retrying failures with backoff (10 s doubling, at most 8
// attempts). It returns how many it claimed.
func (s *Service) Deliver(ctx context.Context) (int, error) { return s.outbox.Once(ctx) }
