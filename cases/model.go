package cases

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"
)

// State is a case's state.
type State string

// The states, in the order a case normally moves through them.
const (
	StateNew     State = "new"
	Assigned     State = "assigned"
	Acknowledged State = "acknowledged"
	Contacted    State = "contacted"
	Forwarded    State = "forwarded"
	InProgress   State = "in_progress"
	Resolved     State = "resolved"
	Closed       State = "closed"
	// Waiting is waiting on the complainant: the feedback timer is paused.
	Waiting State = "waiting"
)

// Sources of cases.
const (
	SourceAlert   = "alert"
	SourceOpen311 = "open311"
	SourceDesk    = "desk"
)

// Categories, which are also the Open311 service codes.
var Categories = []string{"air", "water", "noise", "other"}

// Deadline kinds, each a timer.
const (
	TimerEnter    = "enter"
	TimerContact  = "contact"
	TimerForward  = "forward"
	TimerFeedback = "feedback"
	TimerRecheck  = "recheck"
)

// Ratings given on closing.
var Ratings = []string{"good", "average", "poor"}

// rule is one action: the states it may start from, and where it goes
// (empty: it stays, or, for resume, goes back to the state before waiting).
type rule struct {
	from []State
	to   State
}

var working = []State{Acknowledged, Contacted, Forwarded, InProgress}

var open = []State{StateNew, Assigned, Acknowledged, Contacted, Forwarded, InProgress, Waiting, Resolved}

// actions are the transitions; comment is allowed in every state.
var actions = map[string]rule{
	"assign":      {[]State{StateNew, Assigned}, Assigned},
	"acknowledge": {[]State{Assigned}, Acknowledged},
	"contact":     {[]State{Acknowledged}, Contacted},
	"forward":     {[]State{Contacted, Acknowledged}, Forwarded}, // from acknowledged only for alert cases
	"start":       {[]State{Forwarded}, InProgress},
	"resolve":     {[]State{InProgress}, Resolved},
	"close":       {[]State{Resolved}, Closed},
	"reopen":      {[]State{Resolved, Closed}, InProgress},
	"wait":        {working, Waiting},
	"resume":      {[]State{Waiting}, ""},
	"complex":     {open, ""},
	"recheck":     {[]State{Closed}, ""},
}

// actionNames in a stable order for messages.
var actionNames = []string{"assign", "acknowledge", "contact", "forward", "start", "resolve", "close", "reopen", "wait", "resume", "complex", "recheck", "comment"}

// Allowed returns the actions a case in state st from source may take.
func Allowed(st State, source string) []string {
	var out []string
	for _, a := range actionNames {
		if a == "comment" {
			out = append(out, a)
			continue
		}
		if ok, _ := can(a, st, source); ok {
			out = append(out, a)
		}
	}
	return out
}

func can(action string, st State, source string) (bool, bool) {
	r, known := actions[action]
	if !known {
		return false, false
	}
	if action == "forward" && st == Acknowledged && source != SourceAlert {
		return false, true
	}
	if action == "contact" && source == SourceAlert {
		return false, true // an alert has no complainant: acknowledging is contact
	}
	return slices.Contains(r.from, st), true
}

// TransitionError refuses an action in the case's state.
type TransitionError struct {
	Action  string
	State   State
	Allowed []string
}

func (e *TransitionError) Error() string {
	return fmt.Sprintf("cannot %s a case that is %s; allowed: %s", e.Action, e.State, strings.Join(e.Allowed, ", "))
}

// Case is a case as the enforcement API shows it.
type Case struct {
	ID            string     `json:"id"`
	Source        string     `json:"source"`
	Category      string     `json:"category"`
	State         State      `json:"state"`
	PriorState    State      `json:"prior_state,omitempty"`
	Priority      int        `json:"priority"`
	Complex       bool       `json:"complex"`
	Corroborated  bool       `json:"corroborated"`
	Station       string     `json:"station,omitempty"`
	Point         string     `json:"point,omitempty"`
	Grid          string     `json:"grid"`
	Team          string     `json:"team"`
	Escalation    int        `json:"escalation"`
	EscalatedGrid string     `json:"escalated_grid,omitempty"`
	Lat           *float64   `json:"lat,omitempty"`
	Lon           *float64   `json:"lon,omitempty"`
	Description   string     `json:"description,omitempty"`
	StatusNotes   string     `json:"status_notes,omitempty"`
	Rating        string     `json:"rating,omitempty"`
	ReceivedAt    time.Time  `json:"received_at"`
	EnteredAt     time.Time  `json:"entered_at"`
	ResolvedAt    *time.Time `json:"resolved_at,omitempty"`
	ClosedAt      *time.Time `json:"closed_at,omitempty"`
	PausedAt      *time.Time `json:"paused_at,omitempty"`
	Overdue       bool       `json:"overdue"`
	Allowed       []string   `json:"allowed_actions,omitempty"`
	seq           int64

	Timers       []Timer       `json:"deadlines,omitempty"`
	Events       []Event       `json:"events,omitempty"`
	Alerts       []AlertLink   `json:"alerts,omitempty"`
	Links        []Link        `json:"links,omitempty"`
	Complainants []Complainant `json:"complainants,omitempty"`
}

// Timer is one deadline of a case.
type Timer struct {
	Kind      string     `json:"kind"`
	Deadline  time.Time  `json:"due"`
	State     string     `json:"state"` // pending, paused, met, missed
	MetAt     *time.Time `json:"met_at,omitempty"`
	PausedAt  *time.Time `json:"paused_at,omitempty"`
	Reminders int        `json:"reminders"`
	Overdue   int        `json:"overdue_reminders"`
}

// Event is one entry of the audit trail.
type Event struct {
	Seq     int64     `json:"seq"`
	At      time.Time `json:"at"`
	By      string    `json:"by"`
	Action  string    `json:"action"`
	From    State     `json:"from,omitempty"`
	To      State     `json:"to,omitempty"`
	Comment string    `json:"comment,omitempty"`
}

// AlertLink is an alert episode attached to a case, with its evidence.
type AlertLink struct {
	Episode    string          `json:"episode"`
	Rule       string          `json:"rule"`
	Station    string          `json:"station"`
	Medium     string          `json:"medium"`
	Severity   string          `json:"severity"`
	FiringAt   time.Time       `json:"firing_at"`
	ResolvedAt *time.Time      `json:"resolved_at,omitempty"`
	Evidence   json.RawMessage `json:"evidence,omitempty"`
}

// Link joins a case to another case or an alert episode.
type Link struct {
	Kind string    `json:"kind"` // alert, case, complaint
	Ref  string    `json:"ref"`
	At   time.Time `json:"at"`
}

// Complainant is one complaint of a case. Name, Phone and Email are set
// only for a principal allowed to see them.
type Complainant struct {
	RequestID   string    `json:"request_id"`
	Channel     string    `json:"channel"`
	Name        string    `json:"name,omitempty"`
	Phone       string    `json:"phone,omitempty"`
	Email       string    `json:"email,omitempty"`
	PublicName  bool      `json:"public_name"`
	Description string    `json:"description,omitempty"`
	ReceivedAt  time.Time `json:"received_at"`
	// Repeat counts the other complaints of the same phone number.
	Repeat int `json:"same_phone_complaints"`
}

const caseCols = `id, source, category, state, prior_state, priority, complex, corroborated, station, point, grid, team, escalation, escalated_grid,
	lat, lon, description, status_notes, rating, received_at, entered_at, resolved_at, closed_at, paused_at, seq`

type scanner interface{ Scan(...any) error }

type querier interface {
	QueryRowContext(ctx context.Context, q string, args ...any) *sql.Row
	QueryContext(ctx context.Context, q string, args ...any) (*sql.Rows, error)
	ExecContext(ctx context.Context, q string, args ...any) (sql.Result, error)
}

func fromMs(n int64) time.Time { return time.UnixMilli(n).UTC() }

func nt(n sql.NullInt64) *time.Time {
	if !n.Valid {
		return nil
	}
	t := fromMs(n.Int64)
	return &t
}

func nf(n sql.NullFloat64) *float64 {
	if !n.Valid {
		return nil
	}
	return &n.Float64
}

func scanCase(s scanner) (*Case, error) {
	var (
		c             Case
		cx, corr      int
		lat, lon      sql.NullFloat64
		recv, ent     int64
		res, clo, pau sql.NullInt64
		state, prior  string
	)
	if err := s.Scan(&c.ID, &c.Source, &c.Category, &state, &prior, &c.Priority, &cx, &corr, &c.Station, &c.Point, &c.Grid, &c.Team, &c.Escalation, &c.EscalatedGrid,
		&lat, &lon, &c.Description, &c.StatusNotes, &c.Rating, &recv, &ent, &res, &clo, &pau, &c.seq); err != nil {
		return nil, err
	}
	c.State, c.PriorState = State(state), State(prior)
	c.Complex, c.Corroborated = cx != 0, corr != 0
	c.Lat, c.Lon = nf(lat), nf(lon)
	c.ReceivedAt, c.EnteredAt = fromMs(recv), fromMs(ent)
	c.ResolvedAt, c.ClosedAt, c.PausedAt = nt(res), nt(clo), nt(pau)
	return &c, nil
}

func getCase(ctx context.Context, q querier, id string) (*Case, error) {
	c, err := scanCase(q.QueryRowContext(ctx, `SELECT `+caseCols+` FROM cases_cases WHERE id = $1`, id))
	if err == sql.ErrNoRows {
		return nil, ErrNotFound
	}
	return c, err
}

// ErrNotFound is returned for a case that does not exist.
var ErrNotFound = fmt.Errorf("case not found")

// addEvent appends an event to a case's trail inside tx, taking the case
// row's lock.
func addEvent(ctx context.Context, tx *sql.Tx, id string, at time.Time, by, action string, from, to State, comment string) error {
	var seq int64
	if err := tx.QueryRowContext(ctx, `UPDATE cases_cases SET seq = seq + 1, updated_at = $1 WHERE id = $2 RETURNING seq`, ms(at), id).Scan(&seq); err != nil {
		return fmt.Errorf("event %s of %s: %w", action, id, err)
	}
	_, err := tx.ExecContext(ctx, `INSERT INTO cases_events (case_id, seq, at, by_who, action, from_state, to_state, comment) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
		id, seq, ms(at), by, action, string(from), string(to), comment)
	return err
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}
