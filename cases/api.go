package cases

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/envmon/envmon/auth"
	"github.com/envmon/envmon/sse"
)

// Routes serves the enforcement API under /api/v1/cases, every route
// behind a bearer token (Config.Tokens):
//
//	GET  /api/v1/cases                  list, with filters and pagination
//	POST /api/v1/cases                  a desk-entered complaint (officer)
//	GET  /api/v1/cases/stream           changes, as server-sent events
//	GET  /api/v1/cases/{id}             a case with its trail, evidence, links
//	POST /api/v1/cases/{id}/comments    a comment (officer)
//	POST /api/v1/cases/{id}/{action}    a transition (officer)
//
// Refusals are application/problem+json: 401 for a missing, unknown,
// expired or revoked token, 403 for another team's case, 409 for an
// action the case's state does not allow.
func (s *Service) Routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/v1/cases", s.list)
	mux.HandleFunc("POST /api/v1/cases", s.enter)
	mux.HandleFunc("GET /api/v1/cases/stream", s.stream)
	mux.HandleFunc("GET /api/v1/cases/{id}", s.get)
	mux.HandleFunc("POST /api/v1/cases/{id}/comments", func(w http.ResponseWriter, r *http.Request) { s.serveAct(w, r, "comment") })
	mux.HandleFunc("POST /api/v1/cases/{id}/{action}", func(w http.ResponseWriter, r *http.Request) { s.serveAct(w, r, r.PathValue("action")) })
	return auth.Require(s.cfg.Tokens, auth.Viewer)(mux)
}

// Problem writes an RFC 9457 problem; extra members are added to it.
func Problem(w http.ResponseWriter, status int, detail string, extra map[string]any) {
	body := map[string]any{"type": "about:blank", "title": http.StatusText(status), "status": status, "detail": detail}
	for k, v := range extra {
		body[k] = v
	}
	w.Header().Set("Content-Type", "application/problem+json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(body)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(v)
}

func (s *Service) fail(w http.ResponseWriter, err error) {
	var te *TransitionError
	switch {
	case errors.As(err, &te):
		Problem(w, http.StatusConflict, te.Error(), map[string]any{"state": te.State, "allowed": te.Allowed})
	case errors.Is(err, ErrForbidden):
		Problem(w, http.StatusForbidden, err.Error(), nil)
	case errors.Is(err, ErrNotFound):
		Problem(w, http.StatusNotFound, "no such case", nil)
	case isBadRequest(err):
		Problem(w, http.StatusBadRequest, err.Error(), nil)
	default:
		s.log.Error("cases API", "err", err)
		Problem(w, http.StatusInternalServerError, "the case store failed", nil)
	}
}

func principal(r *http.Request) auth.Principal {
	p, _ := auth.FromContext(r.Context())
	return p
}

func parseTime(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	return time.Parse(time.RFC3339, s)
}

func (s *Service) list(w http.ResponseWriter, r *http.Request) {
	v := r.URL.Query()
	q := Query{Status: v.Get("status"), Team: v.Get("team"), Grid: v.Get("grid"), Source: v.Get("source"), Station: v.Get("station"), Cursor: v.Get("cursor")}
	q.Overdue = v.Get("overdue") == "true" || v.Get("overdue") == "1"
	var err error
	if q.From, err = parseTime(v.Get("from")); err != nil {
		s.fail(w, BadRequest("from: want RFC 3339"))
		return
	}
	if q.To, err = parseTime(v.Get("to")); err != nil {
		s.fail(w, BadRequest("to: want RFC 3339"))
		return
	}
	if l := v.Get("limit"); l != "" {
		if q.Limit, err = strconv.Atoi(l); err != nil {
			s.fail(w, BadRequest("limit: want a number"))
			return
		}
	}
	page, err := s.List(r.Context(), principal(r), q)
	if err != nil {
		s.fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, page)
}

func (s *Service) get(w http.ResponseWriter, r *http.Request) {
	c, err := s.Get(r.Context(), principal(r), r.PathValue("id"))
	if err != nil {
		s.fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, c)
}

func (s *Service) serveAct(w http.ResponseWriter, r *http.Request, action string) {
	var in ActionInput
	if r.ContentLength != 0 {
		if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 64<<10)).Decode(&in); err != nil {
			s.fail(w, BadRequest("body: "+err.Error()))
			return
		}
	}
	p := principal(r)
	if _, err := s.Act(r.Context(), p, r.PathValue("id"), action, in); err != nil {
		s.fail(w, err)
		return
	}
	c, err := s.Get(r.Context(), p, r.PathValue("id"))
	if err != nil {
		s.fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, c)
}

// DeskEntry is the body of POST /api/v1/cases: a complaint received at the
// desk, by walk-in or phone.
type DeskEntry struct {
	Category    string    `json:"category"`
	Description string    `json:"description"`
	ReceivedAt  time.Time `json:"received_at"`
	Lat         *float64  `json:"lat"`
	Lon         *float64  `json:"lon"`
	Point       string    `json:"point"`
	Name        string    `json:"name"`
	Phone       string    `json:"phone"`
	Email       string    `json:"email"`
	PublicName  bool      `json:"public_name"`
}

func (s *Service) enter(w http.ResponseWriter, r *http.Request) {
	p := principal(r)
	if !p.Role.AtLeast(auth.Officer) {
		Problem(w, http.StatusForbidden, "entering a complaint needs the role officer or above", nil)
		return
	}
	var in DeskEntry
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 64<<10)).Decode(&in); err != nil {
		s.fail(w, BadRequest("body: "+err.Error()))
		return
	}
	rc, err := s.Submit(r.Context(), Complaint{Channel: SourceDesk, Category: in.Category, Description: in.Description, ReceivedAt: in.ReceivedAt,
		Lat: in.Lat, Lon: in.Lon, Point: in.Point, Name: in.Name, Phone: in.Phone, Email: in.Email, PublicName: in.PublicName, By: p.Who()})
	if err != nil {
		s.fail(w, err)
		return
	}
	writeJSON(w, http.StatusCreated, rc)
}

func (s *Service) stream(w http.ResponseWriter, r *http.Request) {
	p := principal(r)
	sse.Serve(w, r, s.hub, "cases stream", 25*time.Second, func(w http.ResponseWriter, c Change) {
		if !Visible(p, &Case{Team: c.Team, Grid: c.Grid}) {
			return
		}
		b, _ := json.Marshal(c)
		fmt.Fprintf(w, "event: %s\ndata: %s\n\n", c.Type, b)
	})
}
