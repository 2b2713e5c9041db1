package cases

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/envmon/envmon/auth"
	"github.com/envmon/envmon/db"
)

// ActionInput is the body of POST /api/v1/cases/{id}/{action}.
type ActionInput struct {
	Comment string `json:"comment"`
	// Rating is good, average or poor; closing a complaint case needs it.
	Rating string `json:"rating"`
	// Team reassigns the case (assign).
	Team string `json:"team"`
	// StatusNotes, when set, become the case's public status notes
	// (Open311 status_notes).
	StatusNotes string `json:"status_notes"`
}

// ErrForbidden is returned when a principal may not see or change a case.
var ErrForbidden = errors.New("this case belongs to another team or grid cell")

// Visible reports whether p may see case c: an admin, the case's team, a
// supervisor whose grid cell contains the case's cell, or the team of the
// cell it was escalated to.
func Visible(p auth.Principal, c *Case) bool {
	if p.Role == auth.Admin {
		return true
	}
	if p.Team != "" && p.Team == c.Team {
		return true
	}
	return p.SeesGrid(c.Grid)
}

// SeesPersonal reports whether p may see the personal data of c's
// complainants: the case's team (officer or above) and its supervisors.
func SeesPersonal(p auth.Principal, c *Case) bool {
	return p.Role.AtLeast(auth.Officer) && Visible(p, c)
}

func (s *Service) lockCase(ctx context.Context, tx *sql.Tx, id string) (*Case, error) {
	q := `SELECT ` + caseCols + ` FROM cases_cases WHERE id = $1`
	if s.db.Engine() == db.Postgres {
		q += " FOR UPDATE"
	}
	c, err := scanCase(tx.QueryRowContext(ctx, q, id))
	if err == sql.ErrNoRows {
		return nil, ErrNotFound
	}
	return c, err
}

// meet marks the open timer of kind met (or met late) at now.
func meet(ctx context.Context, tx *sql.Tx, id, kind string, now time.Time) error {
	_, err := tx.ExecContext(ctx, `UPDATE cases_timers SET state = CASE WHEN deadline >= $1 THEN 'met' ELSE 'met_late' END, met_at = $1, next = NULL, paused_at = NULL
		WHERE case_id = $2 AND kind = $3 AND state IN ('pending', 'paused')`, ms(now), id, kind)
	return err
}

// Act applies action to case id on behalf of p, with in's comment, and
// records it in the audit trail. It refuses an action the case's state
// does not allow with a *TransitionError naming the allowed ones.
func (s *Service) Act(ctx context.Context, p auth.Principal, id, action string, in ActionInput) (*Case, error) {
	if _, known := actions[action]; !known && action != "comment" {
		return nil, BadRequest(fmt.Sprintf("unknown action %q; the actions are %s", action, strings.Join(actionNames, ", ")))
	}
	if !p.Role.AtLeast(auth.Officer) {
		return nil, fmt.Errorf("%w: the role %s cannot change cases", ErrForbidden, p.Role)
	}
	now := s.cfg.Now()
	by := p.Who()
	var after *Case
	err := s.db.Tx(ctx, func(tx *sql.Tx) error {
		c, err := s.lockCase(ctx, tx, id)
		if err != nil {
			return err
		}
		if !Visible(p, c) {
			return ErrForbidden
		}
		from, to := c.State, c.State
		if action != "comment" {
			ok, _ := can(action, c.State, c.Source)
			if ok && action == "recheck" {
				var n int
				if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM cases_timers WHERE case_id = $1 AND kind = 'recheck' AND state = 'pending'`, id).Scan(&n); err != nil {
					return err
				}
				ok = n > 0
			}
			if !ok {
				s.metrics.refused.Inc()
				return &TransitionError{Action: action, State: c.State, Allowed: Allowed(c.State, c.Source)}
			}
			if r := actions[action]; r.to != "" {
				to = r.to
			}
		}
		comment := in.Comment
		switch action {
		case "assign":
			if in.Team != "" {
				if _, err := tx.ExecContext(ctx, `UPDATE cases_cases SET team = $1 WHERE id = $2`, in.Team, id); err != nil {
					return err
				}
				comment = strings.TrimSpace("to team " + in.Team + "; " + comment)
			}
		case "acknowledge":
			if c.Source == SourceAlert {
				if err := meet(ctx, tx, id, TimerContact, now); err != nil {
					return err
				}
			}
		case "contact":
			if err := meet(ctx, tx, id, TimerContact, now); err != nil {
				return err
			}
		case "forward":
			if err := meet(ctx, tx, id, TimerForward, now); err != nil {
				return err
			}
		case "resolve":
			if err := meet(ctx, tx, id, TimerFeedback, now); err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, `UPDATE cases_cases SET resolved_at = $1 WHERE id = $2`, ms(now), id); err != nil {
				return err
			}
		case "close":
			if c.Source != SourceAlert && !slices.Contains(Ratings, in.Rating) {
				return BadRequest("closing a complaint needs the complainant's rating: good, average or poor")
			}
			if in.Rating != "" && !slices.Contains(Ratings, in.Rating) {
				return BadRequest("rating is good, average or poor")
			}
			var rated sql.NullInt64
			if in.Rating != "" {
				rated = sql.NullInt64{Int64: ms(now), Valid: true}
			}
			if _, err := tx.ExecContext(ctx, `UPDATE cases_cases SET closed_at = $1, rating = $2, rated_at = $3, open_key = NULL WHERE id = $4`, ms(now), in.Rating, rated, id); err != nil {
				return err
			}
			if in.Rating != "" {
				comment = strings.TrimSpace("rating " + in.Rating + "; " + comment)
			}
			if in.Rating != "poor" {
				// A recheck still pending from an earlier poor rating is
				// answered by this closing; none may act on a case closed
				// well.
				if err := meet(ctx, tx, id, TimerRecheck, now); err != nil {
					return err
				}
			} else {
				due := now.Add(s.cfg.Rules.Recheck)
				if err := s.armTimer(ctx, tx, id, TimerRecheck, due, now); err != nil {
					return err
				}
				if err := addEvent(ctx, tx, id, now, "system", "recheck_opened", "", "", "poor rating: recheck due "+due.In(s.cal.Location()).Format("2006-01-02 15:04")); err != nil {
					return err
				}
			}
		case "recheck":
			if err := meet(ctx, tx, id, TimerRecheck, now); err != nil {
				return err
			}
		case "reopen":
			if _, err := tx.ExecContext(ctx, `UPDATE cases_cases SET closed_at = NULL, resolved_at = NULL WHERE id = $1`, id); err != nil {
				return err
			}
			// Reopening answers a poor rating's recheck: the case is
			// worked again, on its re-armed feedback deadline.
			if err := meet(ctx, tx, id, TimerRecheck, now); err != nil {
				return err
			}
			days := s.cfg.Rules.Feedback
			if c.Complex {
				days = s.cfg.Rules.Complex
			}
			due := s.cal.AddWorkingDays(now, days)
			if err := s.armTimer(ctx, tx, id, TimerFeedback, due, now); err != nil {
				return err
			}
			comment = strings.TrimSpace("feedback due again " + due.In(s.cal.Location()).Format("2006-01-02 15:04") + "; " + comment)
		case "wait":
			if _, err := tx.ExecContext(ctx, `UPDATE cases_cases SET prior_state = $1, paused_at = $2 WHERE id = $3`, string(c.State), ms(now), id); err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, `UPDATE cases_timers SET state = 'paused', paused_at = $1, next = NULL WHERE case_id = $2 AND kind = 'feedback' AND state = 'pending'`, ms(now), id); err != nil {
				return err
			}
			comment = strings.TrimSpace("feedback timer paused; " + comment)
		case "resume":
			to = c.PriorState
			var deadline, paused int64
			err := tx.QueryRowContext(ctx, `SELECT deadline, paused_at FROM cases_timers WHERE case_id = $1 AND kind = 'feedback' AND state = 'paused'`, id).Scan(&deadline, &paused)
			if err != nil && err != sql.ErrNoRows {
				return err
			}
			if err == nil {
				pause := now.Sub(fromMs(paused))
				due := fromMs(deadline).Add(pause)
				if _, err := tx.ExecContext(ctx, `UPDATE cases_timers SET state = 'pending', paused_at = NULL, deadline = $1, next = $2 WHERE case_id = $3 AND kind = 'feedback'`,
					ms(due), ms(s.firstAction(due, now)), id); err != nil {
					return err
				}
				comment = strings.TrimSpace(fmt.Sprintf("paused for %s; feedback now due %s; %s", pause.Round(time.Minute), due.In(s.cal.Location()).Format("2006-01-02 15:04"), comment))
			}
			if _, err := tx.ExecContext(ctx, `UPDATE cases_cases SET prior_state = '', paused_at = NULL WHERE id = $1`, id); err != nil {
				return err
			}
		case "complex":
			if c.Complex {
				return &TransitionError{Action: action, State: c.State, Allowed: slices.DeleteFunc(Allowed(c.State, c.Source), func(a string) bool { return a == "complex" })}
			}
			// Complex lengthens the feedback deadline and never shortens
			// it: after a reopen or a pause the current one may be later
			// than the working days from entry.
			due := s.cal.AddWorkingDays(c.EnteredAt, s.cfg.Rules.Complex)
			if _, err := tx.ExecContext(ctx, `UPDATE cases_cases SET complex = 1 WHERE id = $1`, id); err != nil {
				return err
			}
			var current int64
			err := tx.QueryRowContext(ctx, `SELECT deadline FROM cases_timers WHERE case_id = $1 AND kind = 'feedback' AND state IN ('pending', 'paused')`, id).Scan(&current)
			if err != nil && err != sql.ErrNoRows {
				return err
			}
			if err == nil && !due.After(fromMs(current)) {
				due = fromMs(current)
			} else if _, err := tx.ExecContext(ctx, `UPDATE cases_timers SET deadline = $1, next = CASE WHEN state = 'pending' THEN $2 ELSE next END WHERE case_id = $3 AND kind = 'feedback' AND state IN ('pending', 'paused')`,
				ms(due), ms(s.firstAction(due, now)), id); err != nil {
				return err
			}
			comment = strings.TrimSpace("complex: feedback due " + due.In(s.cal.Location()).Format("2006-01-02 15:04") + "; " + comment)
		}
		if to != from {
			if _, err := tx.ExecContext(ctx, `UPDATE cases_cases SET state = $1 WHERE id = $2`, string(to), id); err != nil {
				return err
			}
		}
		if in.StatusNotes != "" {
			if _, err := tx.ExecContext(ctx, `UPDATE cases_cases SET status_notes = $1 WHERE id = $2`, in.StatusNotes, id); err != nil {
				return err
			}
		}
		if err := addEvent(ctx, tx, id, now, by, action, from, to, comment); err != nil {
			return err
		}
		after, err = getCase(ctx, tx, id)
		return err
	})
	if err != nil {
		return nil, err
	}
	s.log.Info("case action", "case", id, "action", action, "by", by, "state", after.State)
	s.hub.Publish(Change{Type: action, Case: id, State: after.State, Team: after.Team, Grid: after.Grid, Source: after.Source})
	s.poke()
	return after, nil
}
