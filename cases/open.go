package cases

import (
	"context"
	"database/sql"
	"fmt"
	"math"
	"time"

	"github.com/envmon/envmon/alerts/notify"
	"github.com/envmon/envmon/reading"
	"github.com/envmon/envmon/station"
)

// route is where a case goes.
type route struct {
	station, point string
	grid           station.Grid
	team           string
	lat, lon       *float64
}

// routeStation routes by station: its point, the point's grid cell, the
// most specific team covering it, else the default team.
func (s *Service) routeStation(id string) route {
	r := route{station: id}
	if v, ok := s.cfg.Registry.Get(id); ok {
		r.point = v.Point
		r.grid = v.ServicePoint.Grid
		if v.Coordinates != nil {
			lat, lon := v.Coordinates.Lat, v.Coordinates.Lon
			r.lat, r.lon = &lat, &lon
		}
	}
	r.team = s.teamFor(r.grid)
	return r
}

func (s *Service) routePoint(id string) (route, bool) {
	for _, p := range s.cfg.Registry.Points() {
		if p.ID == id {
			return route{point: id, grid: p.Grid, team: s.teamFor(p.Grid)}, true
		}
	}
	return route{}, false
}

func (s *Service) teamFor(g station.Grid) string {
	if !g.IsZero() {
		if ts := s.cfg.Registry.Teams(g); len(ts) > 0 {
			return ts[0].ID
		}
	}
	return s.cfg.DefaultTeam
}

// nearest returns the station with coordinates nearest to lat, lon,
// preferring one of medium m.
func (s *Service) nearest(lat, lon float64, m reading.Medium) (string, bool) {
	best, bestD := "", math.Inf(1)
	bestAny, bestAnyD := "", math.Inf(1)
	for _, v := range s.cfg.Registry.List() {
		if v.Coordinates == nil {
			continue
		}
		d := distance(lat, lon, v.Coordinates.Lat, v.Coordinates.Lon)
		if d < bestAnyD {
			bestAny, bestAnyD = v.ID, d
		}
		for _, x := range v.Media {
			if x == m && d < bestD {
				best, bestD = v.ID, d
			}
		}
	}
	if best != "" {
		return best, true
	}
	return bestAny, bestAny != ""
}

// distance is the great-circle distance in metres.
func distance(lat1, lon1, lat2, lon2 float64) float64 {
	const r = 6371000
	rad := math.Pi / 180
	dlat, dlon := (lat2-lat1)*rad, (lon2-lon1)*rad
	a := math.Sin(dlat/2)*math.Sin(dlat/2) + math.Cos(lat1*rad)*math.Cos(lat2*rad)*math.Sin(dlon/2)*math.Sin(dlon/2)
	return 2 * r * math.Asin(math.Sqrt(a))
}

func mediumOf(category string) reading.Medium {
	switch category {
	case "air":
		return reading.Air
	case "water":
		return reading.Water
	case "noise":
		return reading.Noise
	}
	return ""
}

func categoryOf(medium, label string) string {
	for _, c := range Categories {
		if c == label {
			return c
		}
	}
	for _, c := range Categories[:3] {
		if c == medium {
			return c
		}
	}
	return "other"
}

func nullF(p *float64) sql.NullFloat64 {
	if p == nil {
		return sql.NullFloat64{}
	}
	return sql.NullFloat64{Float64: *p, Valid: true}
}

// insertCase inserts a new case routed by r, with its deadline timers and
// its first events, inside tx. openKey is non-empty for an alert case.
// It reports false, inserting nothing, if an open alert case holds openKey.
func (s *Service) insertCase(ctx context.Context, tx *sql.Tx, id, source, category, openKey string, r route, desc string, received, now time.Time, by string) (bool, error) {
	var key sql.NullString
	if openKey != "" {
		key = sql.NullString{String: openKey, Valid: true}
	}
	res, err := tx.ExecContext(ctx, `INSERT INTO cases_cases (id, source, category, state, station, point, grid, team, lat, lon, description, open_key, received_at, entered_at, created_at, updated_at)
		VALUES ($1, $2, $3, 'new', $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $13, $13) ON CONFLICT (open_key) DO NOTHING`,
		id, source, category, r.station, r.point, r.grid.String(), r.team, nullF(r.lat), nullF(r.lon), desc, key, ms(received), ms(now))
	if err != nil {
		return false, err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return false, nil
	}
	if err := addEvent(ctx, tx, id, now, by, "open", "", StateNew, "source "+source); err != nil {
		return false, err
	}
	note := "routed to team " + r.team
	if r.team == "" {
		note = "no team covers the grid cell and no default team is set"
	}
	if err := addEvent(ctx, tx, id, now, "system", "assign", StateNew, Assigned, note); err != nil {
		return false, err
	}
	if _, err := tx.ExecContext(ctx, `UPDATE cases_cases SET state = 'assigned' WHERE id = $1`, id); err != nil {
		return false, err
	}
	d := s.cal.Deadlines(s.cfg.Rules, received, now, false)
	enterState, enterNext := "met", sql.NullInt64{}
	var metAt sql.NullInt64 = sql.NullInt64{Int64: ms(now), Valid: true}
	if now.After(d.Enter) {
		enterState, metAt = "missed", sql.NullInt64{Int64: ms(now), Valid: true}
		if err := addEvent(ctx, tx, id, now, "clock", "overdue", "", "", fmt.Sprintf("entered %s after receipt; due within %s", now.Sub(received).Round(time.Minute), s.cfg.Rules.Enter)); err != nil {
			return false, err
		}
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO cases_timers (id, case_id, kind, deadline, next, state, met_at, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
		id+":"+TimerEnter, id, TimerEnter, ms(d.Enter), enterNext, enterState, metAt, ms(now)); err != nil {
		return false, err
	}
	for _, t := range []struct {
		kind string
		due  time.Time
	}{{TimerContact, d.Contact}, {TimerForward, d.Forward}, {TimerFeedback, d.Feedback}} {
		if err := s.armTimer(ctx, tx, id, t.kind, t.due, now); err != nil {
			return false, err
		}
	}
	s.metrics.opened.WithLabelValues(source).Inc()
	return true, nil
}

// armTimer inserts or re-arms a pending timer.
func (s *Service) armTimer(ctx context.Context, tx *sql.Tx, id, kind string, due, now time.Time) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO cases_timers (id, case_id, kind, deadline, next, state, created_at) VALUES ($1, $2, $3, $4, $5, 'pending', $6)
		ON CONFLICT (id) DO UPDATE SET deadline = $4, next = $5, state = 'pending', reminders = 0, overdue = 0, paused_at = NULL, met_at = NULL`,
		id+":"+kind, id, kind, ms(due), ms(s.firstAction(due, now)), ms(now))
	return err
}

// firstAction is when a timer due at due first acts: its reminder, or the
// deadline itself when that is already past.
func (s *Service) firstAction(due, now time.Time) time.Time {
	r := due.Add(-s.cfg.RemindBefore)
	if r.After(now) {
		return r
	}
	return due
}

// AlertReceiver is the notifier that the alerts engine lists among its
// receivers: each firing notification opens a case, or attaches to the
// open case of the same station and category; each resolve is recorded on
// the case. Repeats are ignored. It takes each idempotency key once.
func (s *Service) AlertReceiver() notify.Notifier {
	return notify.Func(func(ctx context.Context, n *notify.Notification) (bool, error) {
		if err := s.TakeAlert(ctx, n); err != nil {
			return true, err
		}
		return false, nil
	})
}

// TakeAlert takes in an alert notification: the episode hook.
func (s *Service) TakeAlert(ctx context.Context, n *notify.Notification) error {
	if n.Kind == notify.Repeat {
		return nil
	}
	ep := n.Episode
	now := s.cfg.Now()
	category := categoryOf(ep.Medium, ep.Labels["category"])
	var opened *Case
	var attachedTo string
	err := s.db.Tx(ctx, func(tx *sql.Tx) error {
		opened, attachedTo = nil, ""
		res, err := tx.ExecContext(ctx, `INSERT INTO cases_seen (key, at) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING`, n.Key, ms(now))
		if err != nil {
			return err
		}
		if k, _ := res.RowsAffected(); k == 0 {
			return nil // taken before
		}
		if n.Kind == notify.Resolved {
			var caseID string
			err := tx.QueryRowContext(ctx, `SELECT case_id FROM cases_alerts WHERE episode_id = $1`, ep.ID).Scan(&caseID)
			if err == sql.ErrNoRows {
				return nil
			}
			if err != nil {
				return err
			}
			end := ep.EndsAt
			if end.IsZero() {
				end = now
			}
			if _, err := tx.ExecContext(ctx, `UPDATE cases_alerts SET resolved_at = $1 WHERE episode_id = $2`, ms(end), ep.ID); err != nil {
				return err
			}
			return addEvent(ctx, tx, caseID, now, "alerts", "alert_resolved", "", "", "episode "+ep.ID+" ("+ep.Rule+") resolved")
		}
		r := s.routeStation(ep.Station)
		key := ep.Station + "|" + category
		id := "case-" + randomID(6)
		firing := ep.StartsAt
		if firing.IsZero() {
			firing = now
		}
		desc := ep.Annotations["summary"]
		if desc == "" {
			desc = ep.Rule + " at " + ep.Station
		}
		ok, err := s.insertCase(ctx, tx, id, SourceAlert, category, key, r, desc, firing, now, "alerts")
		if err != nil {
			return err
		}
		if !ok {
			if err := tx.QueryRowContext(ctx, `SELECT id FROM cases_cases WHERE open_key = $1`, key).Scan(&id); err != nil {
				return fmt.Errorf("find the open case of %s: %w", key, err)
			}
		}
		res, err = tx.ExecContext(ctx, `INSERT INTO cases_alerts (episode_id, case_id, rule, station, medium, severity, lat, lon, firing_at, evidence) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
			ON CONFLICT (episode_id) DO NOTHING`, ep.ID, id, ep.Rule, ep.Station, ep.Medium, ep.Severity, nullF(r.lat), nullF(r.lon), ms(firing), string(ep.Evidence))
		if err != nil {
			return err
		}
		if k, _ := res.RowsAffected(); k == 0 {
			return nil
		}
		if err := addEvent(ctx, tx, id, now, "alerts", "alert_attached", "", "", "episode "+ep.ID+" ("+ep.Rule+", "+ep.Severity+")"); err != nil {
			return err
		}
		c, err := getCase(ctx, tx, id)
		if err != nil {
			return err
		}
		if ok {
			opened = c
		} else {
			attachedTo = id
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("cases: take alert %s: %w", ep.ID, err)
	}
	if opened != nil {
		s.log.Info("case opened from alert", "case", opened.ID, "episode", ep.ID, "station", ep.Station, "team", opened.Team)
		s.hub.Publish(Change{Type: "opened", Case: opened.ID, State: opened.State, Team: opened.Team, Grid: opened.Grid, Source: SourceAlert})
		s.poke()
	} else if attachedTo != "" {
		s.log.Info("alert attached to open case", "case", attachedTo, "episode", ep.ID)
	}
	return nil
}
