package alerts

import (
	"context"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/envmon/envmon/auth"
	"github.com/envmon/envmon/sse"
)

// Routes returns the alerts API, to mount at /api/v1/alerts:
//
//	GET    /                     episodes, newest first, with filters and pagination
//	GET    /{id}                 one episode with its evidence, transitions and deliveries
//	POST   /{id}/ack             acknowledge (role officer or above, of the station's team)
//	GET    /silences             active silences
//	POST   /silences             add a silence (role supervisor or above; limited to its team)
//	DELETE /silences/{id}        expire a silence (role supervisor or above, of its scope)
//	GET    /stream               server-sent events of every change on this replica
//
// tokens verifies the bearer tokens of the writing routes, and of the
// reading ones when given: the reading routes are public, but show who
// acknowledged or silenced, and their comments, only to a verified token.
func (e *Engine) Routes(tokens auth.Verifier) http.Handler {
	r := chi.NewRouter()
	read := r.With(auth.Optional(tokens))
	read.Get("/", e.list)
	read.Get("/stream", e.stream)
	read.Get("/silences", e.listSilences)
	r.With(auth.Require(tokens, auth.Supervisor)).Post("/silences", e.addSilence)
	r.With(auth.Require(tokens, auth.Supervisor)).Delete("/silences/{id}", e.deleteSilence)
	read.Get("/{id}", e.get)
	r.With(auth.Require(tokens, auth.Officer)).Post("/{id}/ack", e.ack)
	return r
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

// Query are the filters of GET /api/v1/alerts.
type Query struct {
	State, Station, Point, Rule, Severity string
	// From and To bound the start of the episodes.
	From, To time.Time
	Limit    int
	// After is the page token of the previous page.
	After string
}

// Page is one page of episodes.
type Page struct {
	Episodes []*Episode `json:"episodes"`
	// Next is the page token of the next page; empty on the last.
	Next string `json:"next,omitempty"`
}

// List returns episodes matching q, newest start first.
func (e *Engine) List(ctx context.Context, q Query) (Page, error) {
	where := []string{"1 = 1"}
	var args []any
	arg := func(v any) string {
		args = append(args, v)
		return "$" + strconv.Itoa(len(args))
	}
	switch q.State {
	case "":
	case "open":
		where = append(where, "state <> 'resolved'")
	default:
		where = append(where, "state = "+arg(q.State))
	}
	for col, v := range map[string]string{"station": q.Station, "point": q.Point, "rule": q.Rule, "severity": q.Severity} {
		if v != "" {
			where = append(where, col+" = "+arg(v))
		}
	}
	if !q.From.IsZero() {
		where = append(where, "started_at >= "+arg(ms(q.From)))
	}
	if !q.To.IsZero() {
		where = append(where, "started_at < "+arg(ms(q.To)))
	}
	if q.After != "" {
		b, err := base64.RawURLEncoding.DecodeString(q.After)
		at, id, ok := strings.Cut(string(b), "|")
		t, perr := strconv.ParseInt(at, 10, 64)
		if err != nil || !ok || perr != nil {
			return Page{}, errBadRequest("after: not a page token")
		}
		where = append(where, fmt.Sprintf("(started_at < %s OR (started_at = %s AND id < %s))", arg(t), arg(t), arg(id)))
	}
	if q.Limit <= 0 || q.Limit > 500 {
		q.Limit = 100
	}
	rows, err := e.db.SQL().QueryContext(ctx, `SELECT `+episodeCols+` FROM alerts_episodes WHERE `+strings.Join(where, " AND ")+
		` ORDER BY started_at DESC, id DESC LIMIT `+arg(q.Limit+1), args...)
	if err != nil {
		return Page{}, err
	}
	defer rows.Close()
	p := Page{Episodes: []*Episode{}}
	for rows.Next() {
		ep, err := scanEpisode(rows)
		if err != nil {
			return Page{}, err
		}
		p.Episodes = append(p.Episodes, ep)
	}
	if len(p.Episodes) > q.Limit {
		last := p.Episodes[q.Limit-1]
		p.Episodes = p.Episodes[:q.Limit]
		p.Next = base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(ms(last.StartedAt), 10) + "|" + last.ID))
	}
	return p, rows.Err()
}

// Get returns an episode with its transitions.
func (e *Engine) Get(ctx context.Context, id string) (*Episode, error) {
	ep, err := getEpisode(ctx, e.db.SQL(), id)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	if ep.Transitions, err = transitions(ctx, e.db.SQL(), id); err != nil {
		return nil, err
	}
	ep.Silenced, err = e.silenced(ctx, ep.Labels, e.cfg.Now())
	return ep, err
}

type badRequest string

func (b badRequest) Error() string { return string(b) }
func errBadRequest(s string) error { return badRequest(s) }

func (e *Engine) fail(w http.ResponseWriter, err error) {
	var br badRequest
	switch {
	case errors.As(err, &br):
		auth.Problem(w, http.StatusBadRequest, err.Error())
	case errors.Is(err, ErrNotFound):
		auth.Problem(w, http.StatusNotFound, "no such episode or silence")
	case errors.Is(err, ErrNotOpen):
		auth.Problem(w, http.StatusConflict, err.Error())
	case errors.Is(err, ErrForbidden):
		auth.Problem(w, http.StatusForbidden, err.Error())
	default:
		e.log.Error("alerts api", "err", err)
		auth.Problem(w, http.StatusInternalServerError, "internal error")
	}
}

func (e *Engine) list(w http.ResponseWriter, r *http.Request) {
	v := r.URL.Query()
	q := Query{State: v.Get("state"), Station: v.Get("station"), Point: v.Get("point"), Rule: v.Get("rule"), Severity: v.Get("severity"), After: v.Get("after")}
	switch q.State {
	case "", "open", string(Pending), string(Firing), string(Resolved):
	default:
		e.fail(w, errBadRequest("state: want pending, firing, resolved or open"))
		return
	}
	for name, dst := range map[string]*time.Time{"from": &q.From, "to": &q.To} {
		if s := v.Get(name); s != "" {
			t, err := time.Parse(time.RFC3339, s)
			if err != nil {
				e.fail(w, errBadRequest(name+": want RFC 3339"))
				return
			}
			*dst = t
		}
	}
	if s := v.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > 500 {
			e.fail(w, errBadRequest("limit: want 1 to 500"))
			return
		}
		q.Limit = n
	}
	p, err := e.List(r.Context(), q)
	if err != nil {
		e.fail(w, err)
		return
	}
	if !authenticated(r) {
		for i, ep := range p.Episodes {
			p.Episodes[i] = withheld(ep)
		}
	}
	writeJSON(w, http.StatusOK, p)
}

func (e *Engine) get(w http.ResponseWriter, r *http.Request) {
	ep, err := e.Get(r.Context(), chi.URLParam(r, "id"))
	if err != nil {
		e.fail(w, err)
		return
	}
	ds, err := e.Deliveries(r.Context(), ep.ID)
	if err != nil {
		e.fail(w, err)
		return
	}
	if !authenticated(r) {
		ep = withheld(ep)
	}
	writeJSON(w, http.StatusOK, struct {
		*Episode
		Deliveries []Delivery `json:"deliveries"`
	}{ep, ds})
}

func (e *Engine) ack(w http.ResponseWriter, r *http.Request) {
	p, _ := auth.FromContext(r.Context())
	var body struct {
		Comment string `json:"comment"`
	}
	if r.ContentLength != 0 {
		if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<16)).Decode(&body); err != nil {
			e.fail(w, errBadRequest("body: want JSON {\"comment\": …}"))
			return
		}
	}
	ep, err := e.AckAs(r.Context(), p, chi.URLParam(r, "id"), body.Comment)
	if err != nil {
		e.fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, ep)
}

func (e *Engine) listSilences(w http.ResponseWriter, r *http.Request) {
	ss, err := e.Silences(r.Context(), e.cfg.Now())
	if err != nil {
		e.fail(w, err)
		return
	}
	if ss == nil {
		ss = []Silence{}
	}
	if !authenticated(r) {
		for i := range ss {
			ss[i].CreatedBy, ss[i].Comment = "", ""
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"silences": ss})
}

func (e *Engine) addSilence(w http.ResponseWriter, r *http.Request) {
	p, _ := auth.FromContext(r.Context())
	var s Silence
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<16)).Decode(&s); err != nil {
		e.fail(w, errBadRequest("body: want a silence as JSON"))
		return
	}
	s, err := e.AddSilenceAs(r.Context(), p, s)
	if err != nil {
		if errors.Is(err, ErrForbidden) || strings.Contains(err.Error(), "alerts: add silence") {
			e.fail(w, err)
		} else {
			e.fail(w, errBadRequest(err.Error()))
		}
		return
	}
	writeJSON(w, http.StatusCreated, s)
}

func (e *Engine) deleteSilence(w http.ResponseWriter, r *http.Request) {
	p, _ := auth.FromContext(r.Context())
	if err := e.ExpireSilenceAs(r.Context(), p, chi.URLParam(r, "id")); err != nil {
		e.fail(w, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// stream serves server-sent events: one "event: <type>" with the episode as
// JSON per change committed on this replica, and a comment every 15 s to
// keep proxies from closing the connection. An anonymous subscriber gets
// the episodes without who acknowledged them.
func (e *Engine) stream(w http.ResponseWriter, r *http.Request) {
	anonymous := !authenticated(r)
	sse.Serve(w, r, e.hub, "envmon alerts", 15*time.Second, func(w http.ResponseWriter, ev Event) {
		ep := ev.Episode
		if anonymous {
			ep = withheld(ep)
		}
		b, _ := json.Marshal(ep)
		fmt.Fprintf(w, "id: %s.%d\nevent: %s\ndata: %s\n\n", ev.Episode.ID, ev.Episode.Seq, ev.Type, b)
	})
}
