package cases

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/envmon/envmon/auth"
)

// Query filters GET /api/v1/cases.
type Query struct {
	Status, Team, Grid, Source, Station string
	Overdue                             bool
	From, To                            time.Time // received
	Limit                               int
	Cursor                              string // the next page's cursor from a Page
}

// Page is a page of cases, newest received first.
type Page struct {
	Cases []*Case `json:"cases"`
	Next  string  `json:"next,omitempty"`
}

// List returns the cases p may see that match q.
func (s *Service) List(ctx context.Context, p auth.Principal, q Query) (Page, error) {
	var where []string
	var args []any
	arg := func(v any) string { args = append(args, v); return "$" + strconv.Itoa(len(args)) }
	if p.Role != auth.Admin {
		scope := []string{}
		if p.Team != "" {
			scope = append(scope, "team = "+arg(p.Team))
		}
		if p.Role.AtLeast(auth.Supervisor) && p.Grid != "" {
			g := arg(p.Grid)
			scope = append(scope, "grid = "+g, "grid LIKE "+arg(likeEscape(p.Grid)+"/%")+" ESCAPE '\\'")
		}
		if len(scope) == 0 {
			return Page{Cases: []*Case{}}, nil
		}
		where = append(where, "("+strings.Join(scope, " OR ")+")")
	}
	if q.Status != "" {
		where = append(where, "state = "+arg(q.Status))
	}
	if q.Team != "" {
		where = append(where, "team = "+arg(q.Team))
	}
	if q.Grid != "" {
		g := strings.Trim(q.Grid, "/")
		where = append(where, "(grid = "+arg(g)+" OR grid LIKE "+arg(likeEscape(g)+"/%")+" ESCAPE '\\')")
	}
	if q.Source != "" {
		where = append(where, "source = "+arg(q.Source))
	}
	if q.Station != "" {
		where = append(where, "station = "+arg(q.Station))
	}
	if !q.From.IsZero() {
		where = append(where, "received_at >= "+arg(ms(q.From)))
	}
	if !q.To.IsZero() {
		where = append(where, "received_at < "+arg(ms(q.To)))
	}
	if q.Overdue {
		where = append(where, "id IN (SELECT case_id FROM cases_timers WHERE state IN ('missed', 'met_late') OR (state IN ('pending', 'paused') AND deadline < "+arg(ms(s.cfg.Now()))+"))")
	}
	if q.Cursor != "" {
		rcv, id, ok := strings.Cut(q.Cursor, "_")
		n, err := strconv.ParseInt(rcv, 10, 64)
		if !ok || err != nil {
			return Page{}, BadRequest("bad cursor")
		}
		a, b := arg(n), arg(id)
		where = append(where, "(received_at < "+a+" OR (received_at = "+a+" AND id < "+b+"))")
	}
	limit := q.Limit
	if limit <= 0 || limit > 500 {
		limit = 100
	}
	sqlq := `SELECT ` + caseCols + ` FROM cases_cases`
	if len(where) > 0 {
		sqlq += " WHERE " + strings.Join(where, " AND ")
	}
	sqlq += " ORDER BY received_at DESC, id DESC LIMIT " + strconv.Itoa(limit+1)
	rows, err := s.db.SQL().QueryContext(ctx, sqlq, args...)
	if err != nil {
		return Page{}, fmt.Errorf("cases: list: %w", err)
	}
	defer rows.Close()
	out := Page{Cases: []*Case{}}
	for rows.Next() {
		c, err := scanCase(rows)
		if err != nil {
			return Page{}, err
		}
		out.Cases = append(out.Cases, c)
	}
	if err := rows.Err(); err != nil {
		return Page{}, err
	}
	if len(out.Cases) > limit {
		last := out.Cases[limit-1]
		out.Cases = out.Cases[:limit]
		out.Next = fmt.Sprintf("%d_%s", ms(last.ReceivedAt), last.ID)
	}
	for _, c := range out.Cases {
		if err := s.fillTimers(ctx, c); err != nil {
			return Page{}, err
		}
	}
	return out, nil
}

func likeEscape(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)
	return r.Replace(s)
}

func (s *Service) fillTimers(ctx context.Context, c *Case) error {
	rows, err := s.db.SQL().QueryContext(ctx, `SELECT kind, deadline, state, met_at, paused_at, reminders, overdue FROM cases_timers WHERE case_id = $1 ORDER BY deadline, kind`, c.ID)
	if err != nil {
		return err
	}
	defer rows.Close()
	now := s.cfg.Now()
	c.Timers = nil
	for rows.Next() {
		var t Timer
		var d int64
		var met, paused sql.NullInt64
		if err := rows.Scan(&t.Kind, &d, &t.State, &met, &paused, &t.Reminders, &t.Overdue); err != nil {
			return err
		}
		t.Deadline, t.MetAt, t.PausedAt = fromMs(d), nt(met), nt(paused)
		if t.State == "missed" || t.State == "met_late" || ((t.State == "pending" || t.State == "paused") && now.After(t.Deadline)) {
			c.Overdue = true
		}
		c.Timers = append(c.Timers, t)
	}
	c.Allowed = Allowed(c.State, c.Source)
	return rows.Err()
}

// Get returns case id with its deadlines, events, alerts, links and
// complainants, if p may see it; the complainants' personal data only if
// p may see that.
func (s *Service) Get(ctx context.Context, p auth.Principal, id string) (*Case, error) {
	c, err := getCase(ctx, s.db.SQL(), id)
	if err != nil {
		return nil, err
	}
	if !Visible(p, c) {
		return nil, ErrForbidden
	}
	if err := s.fillTimers(ctx, c); err != nil {
		return nil, err
	}
	q := s.db.SQL()
	rows, err := q.QueryContext(ctx, `SELECT seq, at, by_who, action, from_state, to_state, comment FROM cases_events WHERE case_id = $1 ORDER BY seq`, id)
	if err != nil {
		return nil, err
	}
	for rows.Next() {
		var e Event
		var at int64
		var from, to string
		if err := rows.Scan(&e.Seq, &at, &e.By, &e.Action, &from, &to, &e.Comment); err != nil {
			rows.Close()
			return nil, err
		}
		e.At, e.From, e.To = fromMs(at), State(from), State(to)
		c.Events = append(c.Events, e)
	}
	rows.Close()
	rows, err = q.QueryContext(ctx, `SELECT episode_id, rule, station, medium, severity, firing_at, resolved_at, evidence FROM cases_alerts WHERE case_id = $1 ORDER BY firing_at, episode_id`, id)
	if err != nil {
		return nil, err
	}
	for rows.Next() {
		var a AlertLink
		var f int64
		var r sql.NullInt64
		var ev string
		if err := rows.Scan(&a.Episode, &a.Rule, &a.Station, &a.Medium, &a.Severity, &f, &r, &ev); err != nil {
			rows.Close()
			return nil, err
		}
		a.FiringAt, a.ResolvedAt = fromMs(f), nt(r)
		if json.Valid([]byte(ev)) {
			a.Evidence = json.RawMessage(ev)
		}
		c.Alerts = append(c.Alerts, a)
	}
	rows.Close()
	rows, err = q.QueryContext(ctx, `SELECT kind, ref, at FROM cases_links WHERE case_id = $1 ORDER BY at, kind, ref`, id)
	if err != nil {
		return nil, err
	}
	for rows.Next() {
		var l Link
		var at int64
		if err := rows.Scan(&l.Kind, &l.Ref, &at); err != nil {
			rows.Close()
			return nil, err
		}
		l.At = fromMs(at)
		c.Links = append(c.Links, l)
	}
	rows.Close()
	personal := SeesPersonal(p, c)
	rows, err = q.QueryContext(ctx, `SELECT id, channel, name_enc, phone_enc, email_enc, phone_hash, public_name, description, received_at,
		(SELECT count(*) FROM cases_complainants o WHERE o.phone_hash = c.phone_hash AND o.phone_hash <> '' AND o.id <> c.id)
		FROM cases_complainants c WHERE case_id = $1 ORDER BY received_at, id`, id)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var x Complainant
		var name, phone, email, hash string
		var pub int
		var rcv int64
		if err := rows.Scan(&x.RequestID, &x.Channel, &name, &phone, &email, &hash, &pub, &x.Description, &rcv, &x.Repeat); err != nil {
			return nil, err
		}
		x.PublicName, x.ReceivedAt = pub != 0, fromMs(rcv)
		if personal {
			aad := "complainant:" + x.RequestID + ":"
			if x.Name, err = s.cfg.Keys.Open(name, aad+"name"); err != nil {
				return nil, err
			}
			if x.Phone, err = s.cfg.Keys.Open(phone, aad+"phone"); err != nil {
				return nil, err
			}
			if x.Email, err = s.cfg.Keys.Open(email, aad+"email"); err != nil {
				return nil, err
			}
		}
		c.Complainants = append(c.Complainants, x)
	}
	return c, rows.Err()
}

// Reseal re-encrypts every complainant's personal data under the keyring's
// current key, for envmon keys rotate. It returns how many values it
// re-sealed.
func (s *Service) Reseal(ctx context.Context) (int, error) {
	return Reseal(ctx, s.db, s.cfg.Keys)
}
