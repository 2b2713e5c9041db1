package main

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/envmon/envmon/auth"
	"github.com/envmon/envmon/db"
)

func TestTokenCreate(t *testing.T) {
	dir := t.TempDir()
	var out, errb bytes.Buffer
	if code := run(context.Background(), []string{"token", "create", "--role", "officer", "--team", "team-east", "--data-dir", dir}, &out, &errb); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	words := strings.Fields(lines[len(lines)-1])
	tok := words[len(words)-1]
	d, err := db.Open(t.Context(), db.Config{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	st, err := auth.Open(t.Context(), d, nil)
	if err != nil {
		t.Fatal(err)
	}
	p, err := st.Verify(t.Context(), tok)
	if err != nil || p.Role != auth.Officer || p.Team != "team-east" {
		t.Fatalf("Verify(printed token) = %+v, %v", p, err)
	}
	// Only the hash is stored.
	var n int
	d.SQL().QueryRow(`SELECT COUNT(*) FROM auth_tokens WHERE hash = $1 OR id = $1`, tok).Scan(&n)
	if n != 0 {
		t.Fatal("the token is stored in clear")
	}
	if code := run(context.Background(), []string{"token", "create", "--role", "boss", "--data-dir", dir}, &out, &errb); code != 2 {
		t.Fatalf("unknown role: exit %d, want 2", code)
	}
}
