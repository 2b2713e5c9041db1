package alerts

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"embed"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"time"

	"github.com/envmon/envmon/alerts/notify"
	"github.com/envmon/envmon/db"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Migrate creates or updates the alerts tables of d.
func Migrate(ctx context.Context, d *db.DB) error {
	sub, _ := fs.Sub(migrations, "migrations")
	return d.Migrate(ctx, "alerts", sub)
}

// State is an episode's state.
type State string

// The states of an episode.
const (
	Pending  State = "pending"
	Firing   State = "firing"
	Resolved State = "resolved"
)

func randomID(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// Fingerprint identifies a rule and station, as Alertmanager's does an
// alert's labels.
func Fingerprint(rule, station string) string {
	h := sha256.Sum256([]byte(rule + "\x00" + station))
	return hex.EncodeToString(h[:8])
}

func ms(t time.Time) int64 { return t.UnixMilli() }

func nullMs(t time.Time) sql.NullInt64 {
	if t.IsZero() {
		return sql.NullInt64{}
	}
	return sql.NullInt64{Int64: t.UnixMilli(), Valid: true}
}

func fromNull(n sql.NullInt64) time.Time {
	if !n.Valid {
		return time.Time{}
	}
	return time.UnixMilli(n.Int64).UTC()
}

// Episode is a stored episode.
type Episode struct {
	ID          string            `json:"id"`
	Rule        string            `json:"rule"`
	Kind        string            `json:"kind"`
	Station     string            `json:"station"`
	Point       string            `json:"point"`
	Medium      string            `json:"medium"`
	Severity    string            `json:"severity"`
	State       State             `json:"state"`
	Fired       bool              `json:"fired"`
	Labels      map[string]string `json:"labels"`
	Annotations map[string]string `json:"annotations"`
	Evidence    json.RawMessage   `json:"evidence"`
	Value       float64           `json:"value"`
	StartedAt   time.Time         `json:"started_at"`
	FiringAt    *time.Time        `json:"firing_at,omitempty"`
	ResolvedAt  *time.Time        `json:"resolved_at,omitempty"`
	ClearSince  *time.Time        `json:"clear_since,omitempty"`
	AckedAt     *time.Time        `json:"acked_at,omitempty"`
	AckedBy     string            `json:"acked_by,omitempty"`
	NotifiedAt  *time.Time        `json:"notified_at,omitempty"`
	Seq         int64             `json:"-"`
	Transitions []Transition      `json:"transitions,omitempty"`
	Silenced    bool              `json:"silenced"`
}

// Transition is one entry of an episode's audit trail.
type Transition struct {
	Seq        int64     `json:"seq"`
	From       string    `json:"from"`
	To         string    `json:"to"`
	At         time.Time `json:"at"`
	RecordedAt time.Time `json:"recorded_at"`
	By         string    `json:"by"`
	Note       string    `json:"note,omitempty"`
}

const episodeCols = `id, rule, kind, station, point, medium, severity, state, fired, labels, annotations, evidence, value,
	started_at, firing_at, resolved_at, clear_since, acked_at, acked_by, notified_at, seq`

type scanner interface{ Scan(...any) error }

func tp(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

func scanEpisode(s scanner) (*Episode, error) {
	var (
		e                                  Episode
		fired                              int64
		labels, ann, ev                    string
		started                            int64
		firing, resolved, clear, acked, nt sql.NullInt64
		ackedBy                            sql.NullString
	)
	if err := s.Scan(&e.ID, &e.Rule, &e.Kind, &e.Station, &e.Point, &e.Medium, &e.Severity, &e.State, &fired, &labels, &ann, &ev, &e.Value,
		&started, &firing, &resolved, &clear, &acked, &ackedBy, &nt, &e.Seq); err != nil {
		return nil, err
	}
	e.Fired = fired != 0
	json.Unmarshal([]byte(labels), &e.Labels)
	json.Unmarshal([]byte(ann), &e.Annotations)
	e.Evidence = json.RawMessage(ev)
	e.StartedAt = time.UnixMilli(started).UTC()
	e.FiringAt, e.ResolvedAt, e.ClearSince, e.AckedAt, e.NotifiedAt = tp(fromNull(firing)), tp(fromNull(resolved)), tp(fromNull(clear)), tp(fromNull(acked)), tp(fromNull(nt))
	e.AckedBy = ackedBy.String
	return &e, nil
}

func getEpisode(ctx context.Context, q interface {
	QueryRowContext(context.Context, string, ...any) *sql.Row
}, id string) (*Episode, error) {
	return scanEpisode(q.QueryRowContext(ctx, `SELECT `+episodeCols+` FROM alerts_episodes WHERE id = $1`, id))
}

func openEpisode(ctx context.Context, q interface {
	QueryRowContext(context.Context, string, ...any) *sql.Row
}, rule, station string) (*Episode, error) {
	e, err := scanEpisode(q.QueryRowContext(ctx, `SELECT `+episodeCols+` FROM alerts_episodes WHERE rule = $1 AND station = $2 AND state <> 'resolved'`, rule, station))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	return e, err
}

func transitions(ctx context.Context, d *sql.DB, id string) ([]Transition, error) {
	rows, err := d.QueryContext(ctx, `SELECT seq, from_state, to_state, at, recorded_at, by_who, note FROM alerts_transitions WHERE episode_id = $1 ORDER BY seq`, id)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Transition
	for rows.Next() {
		var t Transition
		var at, rec int64
		if err := rows.Scan(&t.Seq, &t.From, &t.To, &at, &rec, &t.By, &t.Note); err != nil {
			return nil, err
		}
		t.At, t.RecordedAt = time.UnixMilli(at).UTC(), time.UnixMilli(rec).UTC()
		out = append(out, t)
	}
	return out, rows.Err()
}

func addTransition(ctx context.Context, tx *sql.Tx, id string, seq int64, from, to string, at, now time.Time, by, note string) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO alerts_transitions (episode_id, seq, from_state, to_state, at, recorded_at, by_who, note) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
		id, seq, from, to, ms(at), ms(now), by, note)
	return err
}

// enqueue writes one outbox row per receiver for a notification of kind
// about e, inside tx. The row's id, the idempotency key, is the episode,
// the transition's sequence number and the receiver: a transition is
// enqueued once, whoever commits it.
func (en *Engine) enqueue(ctx context.Context, tx *sql.Tx, e *Episode, kind notify.Kind, seq int64, now time.Time) error {
	for _, r := range en.cfg.Receivers {
		n := notify.Notification{
			Key:      fmt.Sprintf("%s.%d.%s.%s", e.ID, seq, kind, r.Name),
			Receiver: r.Name,
			Kind:     kind,
			Created:  now.UTC(),
			Episode:  e.notifyEpisode(),
		}
		if en.cfg.ExternalURL != "" {
			n.URL = en.cfg.ExternalURL + "/api/v1/alerts/" + e.ID
		}
		b, _ := json.Marshal(n)
		if _, err := tx.ExecContext(ctx, `INSERT INTO alerts_outbox (id, episode_id, receiver, kind, payload, state, due, created_at) VALUES ($1, $2, $3, $4, $5, 'pending', $6, $6)`,
			n.Key, e.ID, r.Name, string(kind), string(b), ms(now)); err != nil {
			return err
		}
	}
	return nil
}

func (e *Episode) notifyEpisode() notify.Episode {
	ne := notify.Episode{
		ID: e.ID, Rule: e.Rule, Station: e.Station, Point: e.Point, Medium: e.Medium, Severity: e.Severity,
		State: string(e.State), Labels: e.Labels, Annotations: e.Annotations, StartsAt: e.StartedAt,
		Fingerprint: Fingerprint(e.Rule, e.Station), Evidence: e.Evidence,
	}
	if e.FiringAt != nil {
		ne.StartsAt = *e.FiringAt
	}
	if e.ResolvedAt != nil {
		ne.EndsAt = *e.ResolvedAt
	}
	return ne
}
