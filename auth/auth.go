package auth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"database/sql"
	"embed"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"strings"
	"time"

	"github.com/envmon/envmon/db"
)

// Role is what a token may do. Roles are ordered: each may do everything
// the ones before it may.
type Role string

// The roles, least first.
const (
	Viewer     Role = "viewer"
	Officer    Role = "officer"
	Supervisor Role = "supervisor"
	Admin      Role = "admin"
)

// Roles lists every role, least first.
var roles = [...]Role{Viewer, Officer, Supervisor, Admin}

// Roles returns every role, least first.
func Roles() []Role { return roles[:] }

func (r Role) rank() int {
	for i, x := range roles {
		if x == r {
			return i
		}
	}
	return -1
}

// Valid reports whether r is a known role.
func (r Role) Valid() bool { return r.rank() >= 0 }

// AtLeast reports whether r may do what min may.
func (r Role) AtLeast(min Role) bool { return r.Valid() && r.rank() >= min.rank() }

// ParseRole returns the role named s.
func ParseRole(s string) (Role, error) {
	r := Role(strings.ToLower(strings.TrimSpace(s)))
	if !r.Valid() {
		return "", fmt.Errorf("unknown role %q (want viewer, officer, supervisor or admin)", s)
	}
	return r, nil
}

// Prefix starts every token, so that a leaked one is easy to find with a
// secret scanner.
const Prefix = "envmon_"

// Principal is who a verified token speaks for. It holds no secret.
type Principal struct {
	TokenID string
	Role    Role
	Team    string
	// Grid is the grid cell a supervisor's token supervises, written as a
	// path "county/township/village" that may stop at any level; empty: none.
	Grid      string
	Name      string
	ExpiresAt time.Time // zero: never
}

// GridContains reports whether grid cell path cell contains place path g:
// cell's levels are the first levels of g. An empty cell contains nothing.
func GridContains(cell, g string) bool {
	if cell == "" {
		return false
	}
	return g == cell || strings.HasPrefix(g, cell+"/")
}

// SeesTeam reports whether p may see what belongs to team: an admin always,
// an officer or supervisor of that team.
func (p Principal) SeesTeam(team string) bool {
	return p.Role == Admin || (p.Role.AtLeast(Officer) && p.Team != "" && p.Team == team)
}

// SeesGrid reports whether p may see what lies in grid cell path g: an
// admin always, a supervisor whose cell contains g.
func (p Principal) SeesGrid(g string) bool {
	return p.Role == Admin || (p.Role.AtLeast(Supervisor) && GridContains(p.Grid, g))
}

// Who names p in audit trails: "token:ID (role)".
func (p Principal) Who() string { return "token:" + p.TokenID + " (" + string(p.Role) + ")" }

// Errors of Verify.
var (
	ErrUnknown = errors.New("unknown token")
	ErrExpired = errors.New("token expired")
	ErrRevoked = errors.New("token revoked")
)

//go:embed migrations/*.sql
var migrations embed.FS

// Store keeps tokens in the shared database.
type Store struct {
	db  *db.DB
	now func() time.Time
}

// Open migrates the auth tables of d and returns the store. now is the
// clock; time.Now when nil.
func Open(ctx context.Context, d *db.DB, now func() time.Time) (*Store, error) {
	sub, _ := fs.Sub(migrations, "migrations")
	if err := d.Migrate(ctx, "auth", sub); err != nil {
		return nil, err
	}
	if now == nil {
		now = time.Now
	}
	return &Store{db: d, now: now}, nil
}

// NewToken is what Create gives: the token itself, shown once, and what it
// stands for.
type NewToken struct {
	Token string
	Principal
}

// CreateOptions are the settings of a new token.
type CreateOptions struct {
	Role Role
	Team string
	Grid string        // the grid cell path a supervisor supervises
	Name string        // a label for people, such as "desk laptop"
	TTL  time.Duration // zero: no expiry
}

// Create makes a new token and stores its hash.
func (s *Store) Create(ctx context.Context, o CreateOptions) (NewToken, error) {
	if !o.Role.Valid() {
		return NewToken{}, fmt.Errorf("create token: unknown role %q", o.Role)
	}
	var secret [32]byte
	rand.Read(secret[:])
	var idb [6]byte
	rand.Read(idb[:])
	id := hex.EncodeToString(idb[:])
	tok := Prefix + id + "_" + base64.RawURLEncoding.EncodeToString(secret[:])
	now := s.now()
	p := Principal{TokenID: id, Role: o.Role, Team: o.Team, Grid: strings.Trim(o.Grid, "/"), Name: o.Name}
	var exp sql.NullInt64
	if o.TTL > 0 {
		p.ExpiresAt = now.Add(o.TTL)
		exp = sql.NullInt64{Int64: p.ExpiresAt.UnixMilli(), Valid: true}
	}
	_, err := s.db.SQL().ExecContext(ctx, `INSERT INTO auth_tokens (id, hash, role, team, grid, name, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
		id, Hash(tok), string(o.Role), o.Team, p.Grid, o.Name, now.UnixMilli(), exp)
	if err != nil {
		return NewToken{}, fmt.Errorf("create token: %w", err)
	}
	return NewToken{Token: tok, Principal: p}, nil
}

// Hash is what is stored of a secret token in place of the token: its
// SHA-256 in hex, 64 characters. Tokens are random, so no salt is needed.
func Hash(tok string) string {
	h := sha256.Sum256([]byte(tok))
	return hex.EncodeToString(h[:])
}

// Verify returns the principal of token tok, or ErrUnknown, ErrExpired or
// ErrRevoked.
func (s *Store) Verify(ctx context.Context, tok string) (Principal, error) {
	if !strings.HasPrefix(tok, Prefix) || len(tok) > 200 {
		return Principal{}, ErrUnknown
	}
	h := Hash(tok)
	var (
		p        Principal
		role     string
		stored   string
		exp, rev sql.NullInt64
	)
	err := s.db.SQL().QueryRowContext(ctx, `SELECT id, hash, role, team, grid, name, expires_at, revoked_at FROM auth_tokens WHERE hash = $1`, h).
		Scan(&p.TokenID, &stored, &role, &p.Team, &p.Grid, &p.Name, &exp, &rev)
	if errors.Is(err, sql.ErrNoRows) {
		return Principal{}, ErrUnknown
	}
	if err != nil {
		return Principal{}, fmt.Errorf("verify token: %w", err)
	}
	if subtle.ConstantTimeCompare([]byte(stored), []byte(h)) != 1 {
		return Principal{}, ErrUnknown
	}
	p.Role = Role(role)
	now := s.now().UnixMilli()
	if rev.Valid && rev.Int64 <= now {
		return Principal{}, ErrRevoked
	}
	if exp.Valid {
		p.ExpiresAt = time.UnixMilli(exp.Int64)
		if exp.Int64 <= now {
			return Principal{}, ErrExpired
		}
	}
	return p, nil
}

// Revoke revokes the token with the given id from now on.
func (s *Store) Revoke(ctx context.Context, id string) error {
	res, err := s.db.SQL().ExecContext(ctx, `UPDATE auth_tokens SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL`, s.now().UnixMilli(), id)
	if err != nil {
		return fmt.Errorf("revoke token: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("revoke token %s: %w", id, ErrUnknown)
	}
	return nil
}
