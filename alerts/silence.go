package alerts

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"time"

	"github.com/envmon/envmon/auth"
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
// its matchers, from StartsAt until EndsAt, of the stations in its scope.
// Episodes still change state and are listed; only their firing and repeat
// notifications are not sent.
type Silence struct {
	ID        string    `json:"id"`
	Matchers  []Matcher `json:"matchers"`
	StartsAt  time.Time `json:"starts_at"`
	EndsAt    time.Time `json:"ends_at"`
	CreatedBy string    `json:"created_by,omitempty"`
	Comment   string    `json:"comment,omitempty"`
	// Team and Grid are the scope of the silence: when either is set, it
	// mutes only the episodes of stations that the team covers or that lie
	// in the grid cell path (Config.Teams). AddSilenceAs sets them from the
	// creator's token; both empty (an admin's silence): every station.
	Team string `json:"team,omitempty"`
	Grid string `json:"grid,omitempty"`
}

// Matches reports whether s's matchers match labels at t. It does not
// apply s's scope, which needs the engine's Config.Teams.
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

// AddSilenceAs stores a silence made by p and returns it with its id. A
// silence made by a principal that is not an admin is limited to p's team
// and, for a supervisor, p's grid cell, whatever s says (Silence.Team);
// one whose token has neither, or made while Config.Teams is nil, would
// mute nothing and is refused with ErrForbidden.
func (e *Engine) AddSilenceAs(ctx context.Context, p auth.Principal, s Silence) (Silence, error) {
	s.CreatedBy = p.Who()
	s.Team, s.Grid = scope(p)
	if p.Role != auth.Admin {
		switch {
		case s.Team == "" && s.Grid == "":
			return s, forbidden("the token has no team or grid cell to limit the silence to; only an admin may silence every station")
		case e.cfg.Teams == nil:
			return s, forbidden("this service does not know which team covers a station; only an admin may silence")
		}
	}
	return e.AddSilence(ctx, s)
}

// AddSilence stores a silence, with the scope s gives, and returns it with
// its id.
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
	_, err := e.db.SQL().ExecContext(ctx, `INSERT INTO alerts_silences (id, matchers, starts_at, ends_at, created_by, comment, created_at, team, grid) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
		s.ID, string(b), ms(s.StartsAt), ms(s.EndsAt), s.CreatedBy, s.Comment, ms(now), s.Team, s.Grid)
	if err != nil {
		return s, fmt.Errorf("alerts: add silence: %w", err)
	}
	return s, nil
}

// ExpireSilenceAs ends a silence now on behalf of p: an admin may end any;
// any other principal only a silence whose scope lies within what p sees
// (its team p's, its grid cell within p's), so that no one unmutes
// another team's stations.
func (e *Engine) ExpireSilenceAs(ctx context.Context, p auth.Principal, id string) error {
	if p.Role != auth.Admin {
		var team, grid string
		err := e.db.SQL().QueryRowContext(ctx, `SELECT team, grid FROM alerts_silences WHERE id = $1 AND ends_at > $2`, id, ms(e.cfg.Now())).Scan(&team, &grid)
		if errors.Is(err, sql.ErrNoRows) {
			return ErrNotFound
		}
		if err != nil {
			return err
		}
		if (team == "" && grid == "") || (team != "" && !p.SeesTeam(team)) || (grid != "" && !p.SeesGrid(grid)) {
			return forbidden("this silence covers stations of another team or grid cell")
		}
	}
	return e.ExpireSilence(ctx, id)
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
	rows, err := e.db.SQL().QueryContext(ctx, `SELECT id, matchers, starts_at, ends_at, created_by, comment, team, grid FROM alerts_silences WHERE ends_at > $1 ORDER BY starts_at, id`, ms(now))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Silence
	for rows.Next() {
		var s Silence
		var m string
		var a, b int64
		if err := rows.Scan(&s.ID, &m, &a, &b, &s.CreatedBy, &s.Comment, &s.Team, &s.Grid); err != nil {
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
		if ss[i].Matches(labels, now) && e.inScope(&ss[i], labels["station"]) {
			return true, nil
		}
	}
	return false, nil
}

// ErrNotFound is returned for an unknown episode or silence.
var ErrNotFound = errors.New("not found")

// ErrNotOpen is returned when acknowledging a resolved episode.
var ErrNotOpen = errors.New("the episode is resolved")

// AckAs acknowledges an open episode on behalf of p, as Ack does, if p
// may act on its station: an admin, or an officer or above of a team
// covering the station or a supervisor whose grid cell contains it
// (Config.Teams); otherwise it returns ErrForbidden and changes nothing.
func (e *Engine) AckAs(ctx context.Context, p auth.Principal, id, comment string) (*Episode, error) {
	ep, err := getEpisode(ctx, e.db.SQL(), id)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	if !e.sees(p, ep.Station) { // an episode's station never changes
		return nil, forbidden("the episode's station is not covered by the token's team or grid cell")
	}
	return e.Ack(ctx, id, p.Who(), comment)
}

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
