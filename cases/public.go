package cases

import (
	"context"
	"crypto/subtle"
	"database/sql"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/envmon/envmon/auth"
	"github.com/envmon/envmon/db"
)

// PublicRequest is a complaint as the public sees it (Open311 GET): no
// name unless the complainant chose to show it, no phone or e-mail, and a
// location rounded to 0.001° (about 100 m).
type PublicRequest struct {
	ID           string
	Category     string
	Open         bool
	SubState     State
	StatusNotes  string
	Description  string
	Lat, Lon     *float64
	Requested    time.Time
	Updated      time.Time
	Expected     *time.Time
	Corroborated bool
	Team         string
	Grid         string
	PublicName   string // set only when the complainant chose it
}

// PublicFilter selects requests.
type PublicFilter struct {
	IDs        []string
	Category   string
	Open       *bool
	Start, End time.Time
	Limit      int
}

// round keeps 3 decimals: 0.001° of latitude is 111 m.
func round(p *float64) *float64 {
	if p == nil {
		return nil
	}
	v := math.Round(*p*1000) / 1000
	return &v
}

// Requests returns the public view of the complaints f selects, newest
// first.
func (s *Service) Requests(ctx context.Context, f PublicFilter) ([]PublicRequest, error) {
	var where []string
	var args []any
	arg := func(v any) string { args = append(args, v); return "$" + strconv.Itoa(len(args)) }
	if len(f.IDs) > 0 {
		var ph []string
		for _, id := range f.IDs {
			ph = append(ph, arg(id))
		}
		where = append(where, "r.id IN ("+strings.Join(ph, ", ")+")")
	}
	if f.Category != "" {
		where = append(where, "r.category = "+arg(f.Category))
	}
	if f.Open != nil {
		if *f.Open {
			where = append(where, "c.state NOT IN ('resolved', 'closed')")
		} else {
			where = append(where, "c.state IN ('resolved', 'closed')")
		}
	}
	if !f.Start.IsZero() {
		where = append(where, "r.received_at >= "+arg(ms(f.Start)))
	}
	if !f.End.IsZero() {
		where = append(where, "r.received_at <= "+arg(ms(f.End)))
	}
	limit := f.Limit
	if limit <= 0 || limit > 1000 {
		limit = 1000
	}
	q := `SELECT r.id, r.category, c.state, c.status_notes, r.description, r.lat, r.lon, r.received_at, c.updated_at, c.corroborated, c.team, c.grid,
		r.public_name, r.name_enc, (SELECT deadline FROM cases_timers t WHERE t.case_id = c.id AND t.kind = 'feedback')
		FROM cases_complainants r JOIN cases_cases c ON c.id = r.case_id`
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	q += " ORDER BY r.received_at DESC, r.id DESC LIMIT " + strconv.Itoa(limit)
	rows, err := s.db.SQL().QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []PublicRequest
	for rows.Next() {
		var p PublicRequest
		var state, nameEnc string
		var lat, lon sql.NullFloat64
		var rcv, upd int64
		var corr, pub int
		var fb sql.NullInt64
		if err := rows.Scan(&p.ID, &p.Category, &state, &p.StatusNotes, &p.Description, &lat, &lon, &rcv, &upd, &corr, &p.Team, &p.Grid, &pub, &nameEnc, &fb); err != nil {
			return nil, err
		}
		p.SubState = State(state)
		p.Open = p.SubState != Resolved && p.SubState != Closed
		p.Lat, p.Lon = round(nf(lat)), round(nf(lon))
		p.Requested, p.Updated, p.Expected = fromMs(rcv), fromMs(upd), nt(fb)
		p.Corroborated = corr != 0
		if p.StatusNotes == "" {
			p.StatusNotes = defaultNotes(p.SubState)
		}
		if pub != 0 {
			if n, err := s.cfg.Keys.Open(nameEnc, "complainant:"+p.ID+":name"); err == nil {
				p.PublicName = n
			}
		}
		out = append(out, p)
	}
	return out, rows.Err()
}

func defaultNotes(st State) string {
	switch st {
	case StateNew, Assigned:
		return "Received and assigned to the local team."
	case Acknowledged, Contacted:
		return "The local team has taken up the complaint."
	case Forwarded, InProgress:
		return "Forwarded to the local enforcement team, which is handling it."
	case Waiting:
		return "Waiting for more information from the complainant."
	case Resolved:
		return "Handled; the result has been fed back."
	case Closed:
		return "Closed."
	}
	return ""
}

// RequestOfToken returns the request id that token was given for.
//
// Tokens are stored as their SHA-256 (cases_complainants.token_hash, as
// package auth stores bearer tokens): the row is found by the hash, and
// the hash stored is compared with it in constant time.
func (s *Service) RequestOfToken(ctx context.Context, token string) (string, error) {
	if token == "" || len(token) > maxToken {
		return "", ErrNotFound
	}
	h := auth.Hash(token)
	var id, stored string
	err := s.db.SQL().QueryRowContext(ctx, `SELECT id, token_hash FROM cases_complainants WHERE token_hash = $1`, h).Scan(&id, &stored)
	if err == sql.ErrNoRows {
		return "", ErrNotFound
	}
	if err != nil {
		return "", err
	}
	if subtle.ConstantTimeCompare([]byte(stored), []byte(h)) != 1 {
		return "", ErrNotFound
	}
	return id, nil
}

// maxToken bounds the tokens RequestOfToken hashes; Submit gives 24
// characters.
const maxToken = 200

// hashClearTokens replaces the tokens that rows written before migration
// 2 hold in clear with their hash. SQLite has no SHA-256 in SQL, so this
// is done here rather than in the migration; a clear token is 24
// hexadecimal digits and a hash 64, so the rows to hash are told by
// length, and hashing is done once. New calls it after migrating, on
// every start, which finds nothing to do once the rows are hashed.
func hashClearTokens(ctx context.Context, d *db.DB) error {
	err := d.Tx(ctx, func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, `SELECT id, token_hash FROM cases_complainants WHERE length(token_hash) <> 64`)
		if err != nil {
			return err
		}
		clear := map[string]string{}
		for rows.Next() {
			var id, tok string
			if err := rows.Scan(&id, &tok); err != nil {
				rows.Close()
				return err
			}
			clear[id] = tok
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		for id, tok := range clear {
			if _, err := tx.ExecContext(ctx, `UPDATE cases_complainants SET token_hash = $1 WHERE id = $2`, auth.Hash(tok), id); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("cases: hash complainants' tokens: %w", err)
	}
	return nil
}

// Open311 is the GeoReport v2 configuration.
func (s *Service) Open311() Open311Config { return s.cfg.Open311 }
