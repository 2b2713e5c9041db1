package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/envmon/envmon/auth"
	"github.com/envmon/envmon/db"
)

// token manages the bearer tokens of the enforcement API (package auth):
// "envmon token create --role R [--team T] [--data-dir D]" prints a new
// token as the last word of its last line. The database is the one serve
// uses (data_dir, or db.dsn for PostgreSQL), from the same flags, variables
// and --config file.
func token(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	c, code, ok := newVerb("envmon token", "create",
		"envmon token create --role viewer|officer|supervisor|admin [--team T] [--grid G] [--name N] [--ttl D] [--data-dir D]", args, stderr)
	if !ok {
		return code
	}
	role := c.fs.String("role", "", "role of the token: viewer, officer, supervisor or admin")
	team := c.fs.String("team", "", "team the token belongs to (officers see their team's cases)")
	grid := c.fs.String("grid", "", "grid cell a supervisor supervises: county[/township[/village]]")
	name := c.fs.String("name", "", "a label for people, such as the holder's desk")
	ttl := c.fs.Duration("ttl", 0, "lifetime of the token (0: until revoked)")
	cfg, code, ok := c.parse(args)
	if !ok {
		return code
	}
	r, err := auth.ParseRole(*role)
	if err != nil {
		return c.fail(2, "--role: %v", err)
	}
	if *ttl < 0 {
		return c.fail(2, "--ttl is negative")
	}
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	d, err := db.Open(ctx, cfg.DBConfig())
	if err != nil {
		return c.fail(1, "%v", err)
	}
	defer d.Close()
	st, err := auth.Open(ctx, d, nil)
	if err != nil {
		return c.fail(1, "%v", err)
	}
	nt, err := st.Create(ctx, auth.CreateOptions{Role: r, Team: *team, Grid: *grid, Name: *name, TTL: *ttl})
	if err != nil {
		return c.fail(1, "%v", err)
	}
	exp := "never"
	if !nt.ExpiresAt.IsZero() {
		exp = nt.ExpiresAt.Format(time.RFC3339)
	}
	fmt.Fprintf(stdout, "token id %s, role %s, team %q, expires %s; it is shown only this once:\n%s\n", nt.TokenID, nt.Role, nt.Team, exp, nt.Token)
	return 0
}
