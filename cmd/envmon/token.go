package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/envmon/envmon/auth"
	"github.com/envmon/envmon/db"
	"github.com/envmon/envmon/internal/config"
)

// token manages the bearer tokens of the enforcement API (package auth):
// "envmon token create --role R [--team T] [--data-dir D]" prints a new
// token as the last word of its last line. The database is the one serve
// uses (data_dir, or db.dsn for PostgreSQL), from the same flags, variables
// and --config file.
func token(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] != "create" {
		fmt.Fprint(stderr, "Usage: envmon token create --role viewer|officer|supervisor|admin [--team T] [--grid G] [--name N] [--ttl D] [--data-dir D]\n")
		if len(args) > 0 && (args[0] == "-h" || args[0] == "--help" || args[0] == "help") {
			return 0
		}
		return 2
	}
	fs := flag.NewFlagSet("envmon token create", flag.ContinueOnError)
	fs.SetOutput(stderr)
	loader := config.Register(fs, defaults())
	role := fs.String("role", "", "role of the token: viewer, officer, supervisor or admin")
	team := fs.String("team", "", "team the token belongs to (officers see their team's cases)")
	grid := fs.String("grid", "", "grid cell a supervisor supervises: county[/township[/village]]")
	name := fs.String("name", "", "a label for people, such as the holder's desk")
	ttl := fs.Duration("ttl", 0, "lifetime of the token (0: until revoked)")
	if err := fs.Parse(args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "envmon token create: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	r, err := auth.ParseRole(*role)
	if err != nil {
		fmt.Fprintf(stderr, "envmon token create: --role: %v\n", err)
		return 2
	}
	if *ttl < 0 {
		fmt.Fprintln(stderr, "envmon token create: --ttl is negative")
		return 2
	}
	cfg, err := loader.Load(os.Getenv)
	if err != nil {
		fmt.Fprintf(stderr, "envmon token create: %v\n", err)
		return 2
	}
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	d, err := db.Open(ctx, cfg.DBConfig())
	if err != nil {
		fmt.Fprintf(stderr, "envmon token create: %v\n", err)
		return 1
	}
	defer d.Close()
	st, err := auth.Open(ctx, d, nil)
	if err != nil {
		fmt.Fprintf(stderr, "envmon token create: %v\n", err)
		return 1
	}
	nt, err := st.Create(ctx, auth.CreateOptions{Role: r, Team: *team, Grid: *grid, Name: *name, TTL: *ttl})
	if err != nil {
		fmt.Fprintf(stderr, "envmon token create: %v\n", err)
		return 1
	}
	exp := "never"
	if !nt.ExpiresAt.IsZero() {
		exp = nt.ExpiresAt.Format(time.RFC3339)
	}
	fmt.Fprintf(stdout, "token id %s, role %s, team %q, expires %s; it is shown only this once:\n%s\n", nt.TokenID, nt.Role, nt.Team, exp, nt.Token)
	return 0
}
