package cases_test

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/envmon/envmon/cases"
	"github.com/envmon/envmon/cases/pii"
	"github.com/envmon/envmon/db/dbtest"
)

// TestSubmitLimits: Submit, whatever the channel, takes a description,
// name, phone and e-mail up to their limits in characters (not bytes) and
// refuses one character more as a BadRequest that gives the limit but not
// the value, storing nothing.
func TestSubmitLimits(t *testing.T) {
	c := &clock{t: at("2026-05-08 09:00")}
	e := newEnv(t, dbtest.SQLite(t), c, pii.New(), &sink{}, &bytes.Buffer{}, "r1")
	ctx := context.Background()
	stored := func() int {
		t.Helper()
		p, err := e.svc.List(ctx, admin, cases.Query{Limit: 500})
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, cs := range p.Cases {
			got, err := e.svc.Get(ctx, admin, cs.ID)
			if err != nil {
				t.Fatal(err)
			}
			n += len(got.Complainants)
		}
		return n
	}
	for _, tt := range []struct {
		field string
		max   int
		set   func(*cases.Complaint, string)
		unit  string // repeated to the length
	}{
		{"description", cases.MaxDescription, func(x *cases.Complaint, v string) { x.Description = v }, "烟"},
		{"name", cases.MaxName, func(x *cases.Complaint, v string) { x.Name = v }, "兰"},
		{"phone", cases.MaxPhone, func(x *cases.Complaint, v string) { x.Phone = v }, "1"},
		{"email", cases.MaxEmail, func(x *cases.Complaint, v string) { x.Email = v }, "é"},
	} {
		for _, ch := range []string{cases.SourceOpen311, cases.SourceDesk} {
			for _, n := range []int{tt.max, tt.max + 1} {
				x := cases.Complaint{Channel: ch, Category: "noise", Point: "p-industrial", Description: "Night works"}
				v := strings.Repeat(tt.unit, n)
				tt.set(&x, v)
				before := stored()
				_, err := e.svc.Submit(ctx, x)
				if n == tt.max {
					if err != nil {
						t.Errorf("%s, %s of %d characters: %v", ch, tt.field, n, err)
					}
					continue
				}
				var bad cases.BadRequest
				switch {
				case !errors.As(err, &bad):
					t.Errorf("%s, %s of %d characters: %v; want a BadRequest", ch, tt.field, n, err)
				case !strings.Contains(err.Error(), tt.field) || !strings.Contains(err.Error(), "at most"):
					t.Errorf("%s, %s of %d characters: %q does not name the field and its limit", ch, tt.field, n, err)
				case strings.Contains(err.Error(), tt.unit+tt.unit):
					t.Errorf("%s, %s of %d characters: the error holds the value", ch, tt.field, n)
				}
				if got := stored(); got != before {
					t.Errorf("%s, %s of %d characters: %d complaints stored; want %d", ch, tt.field, n, got, before)
				}
			}
		}
	}
}
