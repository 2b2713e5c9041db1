package alerts

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"time"
)

// Matcher matches one label: equal (=), not equal (!=) or a regular
// expression anchored at both ends (=~).
type Matcher struct {
	Name  string `json:"name"`
	Op    string `json:"op"`
	Value string `json:"value"`
}

func (m Matcher) check() error {
	switch m.Op {
	case "", "=", "!=":
	case "=~":
		if _, err := regexp.Compile("^(?:" + m.Value + ")$"); err != nil {
			return fmt.Errorf("matcher %s: %v", m.Name, err)
		}
	default:
		return fmt.Errorf("matcher %s: op %q is not =, != or =~", m.Name, m.Op)
	}
	if m.Name == "" {
		return errors.New("matcher without a name")
	}
	return nil
}

func (m Matcher) matches(labels map[string]string) bool {
	v := labels[m.Name]
	switch m.Op {
	case "!=":
		return v != m.Value
	case "=~":
		re, err := regexp.Compile("^(?:" + m.Value + ")$")
		return err == nil && re.MatchString(v)
	}
	return v == m.Value
}

// Silence mutes the notifications of the episodes whose labels match all
// its matchers, from StartsAt until EndsAt. Episodes still change state and
// are listed; only their firing and repeat notifications are not sent.
type Silence struct {
	ID        string    `json:"id"`
	Matchers  []Matcher `json:"matchers"`
	StartsAt  time.Time `json:"starts_at"`
	EndsAt    time.Time `json:"ends_at"`
	CreatedBy string    `json:"created_by"`
	Comment   string    `json:"comment"`
}

// Matches reports whether s mutes labels at t.
func (s *Silence) Matches(labels map[string]string, t time.Time) bool {
	if t.Before(s.StartsAt) || !t.Before(s.EndsAt) {
		return false
	}
	for _, m := range s.Matchers {
		if !m.matches(labels) {
			return false
		}
	}
	return true
}

// AddSilence stores a silence and returns it with its id.
func (e *Engine) AddSilence(ctx context.Context, s Silence) (Silence, error) {
	if len(s.Matchers) == 0 {
		return s, errors.New("matchers: at least one is required")
	}
	for _, m := range s.Matchers {
		if err := m.check(); err != nil {
			return s, err
		}
	}
	now := e.cfg.Now()
	if s.StartsAt.IsZero() {
		s.StartsAt = now
	}
	if !s.EndsAt.After(s.StartsAt) {
		return s, errors.New("ends_at: must be after starts_at")
	}
	s.ID = "si-" + randomID(8)
	b, _ := json.Marshal(s.Matchers)
	_, err := e.db.SQL().ExecContext(ctx, `INSERT INTO alerts_silences (id, matchers, starts_at, ends_at, created_by, comment, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
		s.ID, string(b), ms(s.StartsAt), ms(s.EndsAt), s.CreatedBy, s.Comment, ms(now))
	if err != nil {
		return s, fmt.Errorf("alerts: add silence: %w", err)
	}
	return s, nil
}

// ExpireSilence ends a silence now.
func (e *Engine) ExpireSilence(ctx context.Context, id string) error {
	res, err := e.db.SQL().ExecContext(ctx, `UPDATE alerts_silences SET ends_at = $1 WHERE id = $2 AND ends_at > $1`, ms(e.cfg.Now()), id)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return ErrNotFound
	}
	return nil
}

// Silences returns the silences that have not ended at now.
func (e *Engine) Silences(ctx context.Context, now time.Time) ([]Silence, error) {
	rows, err := e.db.SQL().QueryContext(ctx, `SELECT id, matchers, starts_at, ends_at, created_by, comment FROM alerts_silences WHERE ends_at > $1 ORDER BY starts_at, id`, ms(now))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Silence
	for rows.Next() {
		var s Silence
		var m string
		var a, b int64
		if err := rows.Scan(&s.ID, &m, &a, &b, &s.CreatedBy, &s.Comment); err != nil {
			return nil, err
		}
		json.Unmarshal([]byte(m), &s.Matchers)
		s.StartsAt, s.EndsAt = time.UnixMilli(a).UTC(), time.UnixMilli(b).UTC()
		out = append(out, s)
	}
	return out, rows.Err()
}

func (e *Engine) silenced(ctx context.Context, labels map[string]string, now time.Time) (bool, error) {
	ss, err := e.Silences(ctx, now)
	if err != nil {
		return false, err
	}
	for i := range ss {
		if ss[i].Matches(labels, now) {
			return true, nil
		}
	}
	return false, nil
}

// ErrNotFound is returned for an unknown episode or silence.
var ErrNotFound = errors.New("not found")

// ErrNotOpen is returned when acknowledging a resolved episode.
var ErrNotOpen = errors.New("the episode is resolved")

// Ack acknowledges an open episode: its repeat notifications stop, and it
// stays open. The acknowledgement clears when the episode resolves.
func (e *Engine) Ack(ctx context.Context, id, by, comment string) (*Episode, error) {
	now := e.cfg.Now()
	var out *Episode
	err := e.db.Tx(ctx, func(tx *sql.Tx) error {
		ep, err := getEpisode(ctx, tx, id)
		if errors.Is(err, sql.ErrNoRows) {
			return ErrNotFound
		}
		if err != nil {
			return err
		}
		if ep.State == Resolved {
			return ErrNotOpen
		}
		if ep.AckedAt != nil {
			out = ep
			return nil
		}
		var seq int64
		var state string
		err = tx.QueryRowContext(ctx, `UPDATE alerts_episodes SET acked_at = $1, acked_by = $2, seq = seq + 1, updated_at = $1
			WHERE id = $3 AND state <> 'resolved' AND acked_at IS NULL RETURNING seq, state`, ms(now), by, id).Scan(&seq, &state)
		if errors.Is(err, sql.ErrNoRows) {
			return ErrNotOpen
		}
		if err != nil {
			return err
		}
		if err := addTransition(ctx, tx, id, seq, state, state, now, now, by, "acknowledged: "+comment); err != nil {
			return err
		}
		out, err = getEpisode(ctx, tx, id)
		return err
	})
	if err != nil {
		return nil, err
	}
	e.mu.Lock()
	if st := e.stations[out.Station]; st != nil {
		if tr := st.tracks[out.Rule]; tr != nil && tr.ep != nil && tr.ep.ID == out.ID {
			tr.ep.AckedAt, tr.ep.AckedBy, tr.ep.Seq = out.AckedAt, out.AckedBy, out.Seq
		}
	}
	e.mu.Unlock()
	e.hub.Publish(Event{Type: "acknowledged", Episode: out})
	return out, nil
}
