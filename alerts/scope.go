package alerts

import (
	"errors"
	"net/http"
	"slices"
	"strings"

	"github.com/envmon/envmon/auth"
)

// ErrForbidden is returned when a principal may not act on an episode or
// silence: it belongs to another team or grid cell.
var ErrForbidden = errors.New("forbidden")

// forbidden returns ErrForbidden with detail, a sentence for the caller
// that names no person.
func forbidden(detail string) error { return forbiddenError(detail) }

type forbiddenError string

func (f forbiddenError) Error() string        { return string(f) }
func (f forbiddenError) Is(target error) bool { return target == ErrForbidden }

// sees reports whether p may act on the episodes of station: an admin
// always; otherwise an officer or above of a team that covers the
// station's grid cell, or a supervisor whose cell contains it, as in
// package cases. Without Config.Teams no station is any team's.
func (e *Engine) sees(p auth.Principal, station string) bool {
	if p.Role == auth.Admin {
		return true
	}
	if e.cfg.Teams == nil {
		return false
	}
	teams, grid := e.cfg.Teams.TeamsOf(station)
	return (grid != "" && p.SeesGrid(grid)) || slices.ContainsFunc(teams, p.SeesTeam)
}

// scope is what a silence made by p is limited to: p's team and, for a
// supervisor, its grid cell. An admin's silence is not limited.
func scope(p auth.Principal) (team, grid string) {
	if p.Role == auth.Admin {
		return "", ""
	}
	if p.Role.AtLeast(auth.Supervisor) {
		grid = p.Grid
	}
	return p.Team, grid
}

// inScope reports whether silence s may mute the episodes of station: s
// is not limited, or its team or grid cell covers the station.
func (e *Engine) inScope(s *Silence, station string) bool {
	if s.Team == "" && s.Grid == "" {
		return true
	}
	return e.sees(auth.Principal{Role: auth.Supervisor, Team: s.Team, Grid: s.Grid}, station)
}

// authenticated reports whether r carries a verified principal.
func authenticated(r *http.Request) bool {
	_, ok := auth.FromContext(r.Context())
	return ok
}

// withheld returns a copy of ep without what names the people who acted
// on it, for anonymous callers: acked_by is dropped, and a transition made
// with a token keeps its verb ("acknowledged") but neither the token nor
// the comment.
func withheld(ep *Episode) *Episode {
	c := *ep
	c.AckedBy = ""
	if c.Transitions != nil {
		c.Transitions = slices.Clone(c.Transitions)
		for i := range c.Transitions {
			t := &c.Transitions[i]
			if strings.HasPrefix(t.By, "token:") {
				t.By = "token"
				t.Note, _, _ = strings.Cut(t.Note, ":")
			}
		}
	}
	return &c
}
