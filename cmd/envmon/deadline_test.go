package main

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/envmon/envmon/cases"
	"github.com/envmon/envmon/cases/pii"
	"github.com/envmon/envmon/db"
	"github.com/envmon/envmon/station"
	"github.com/envmon/envmon/station/demo"
)

func TestDeadlineCommand(t *testing.T) {
	cal := filepath.Join(t.TempDir(), "local.csv")
	os.WriteFile(cal, []byte("date,kind\n2026-05-11,holiday\n"), 0o644)
	for _, tt := range []struct {
		name string
		args []string
		want map[string]string
	}{
		{"make-up day", []string{"--received", "2026-05-08 18:00"}, map[string]string{"forward": "2026-05-10T00:00:00+08:00", "feedback": "2026-05-13T00:00:00+08:00", "enter": "2026-05-08T19:00:00+08:00"}},
		{"complex", []string{"--received", "2026-05-08T10:00:00Z", "--complex"}, map[string]string{"feedback": "2026-05-19T00:00:00+08:00", "contact": "2026-05-09T18:00:00+08:00"}},
		{"local calendar", []string{"--received", "2026-05-08 18:00", "--calendar", cal}, map[string]string{"feedback": "2026-05-14T00:00:00+08:00"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			if code := run(context.Background(), append([]string{"deadline", "--json"}, tt.args...), &out, &errb); code != 0 {
				t.Fatalf("exit %d: %s", code, errb.String())
			}
			var got struct {
				Deadlines []struct{ Deadline, Due string }
			}
			if err := json.Unmarshal(out.Bytes(), &got); err != nil {
				t.Fatal(err)
			}
			m := map[string]string{}
			for _, d := range got.Deadlines {
				m[d.Deadline] = d.Due
			}
			for k, v := range tt.want {
				if m[k] != v {
					t.Errorf("%s due %s, want %s", k, m[k], v)
				}
			}
		})
	}
	var out, errb bytes.Buffer
	if code := run(context.Background(), []string{"deadline"}, &out, &errb); code != 2 {
		t.Errorf("no --received: exit %d", code)
	}
}

func TestKeysRotate(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	d, err := db.Open(ctx, db.Config{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	k, err := pii.Open(pii.Source{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	f, _ := demo.Registry()
	svc, err := cases.New(ctx, cases.Config{DB: d, Keys: k, Registry: station.New(f.Stations, true, slog.New(slog.DiscardHandler), station.WithFile(f)), Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Submit(ctx, cases.Complaint{Category: "noise", Point: "p-civic", Name: "Qian Si", Phone: "13700001111"}); err != nil {
		t.Fatal(err)
	}
	old := k.Current()
	d.Close()
	var out, errb bytes.Buffer
	if code := run(ctx, []string{"keys", "rotate", "--data-dir", dir}, &out, &errb); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	if !strings.Contains(out.String(), "re-encrypted 2 values") {
		t.Errorf("output %q", out.String())
	}
	k2, err := pii.Open(pii.Source{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if k2.Current() == old {
		t.Fatal("the key did not change")
	}
	d, _ = db.Open(ctx, db.Config{DataDir: dir})
	defer d.Close()
	var id, phone string
	if err := d.SQL().QueryRow("SELECT id, phone_enc FROM cases_complainants").Scan(&id, &phone); err != nil {
		t.Fatal(err)
	}
	if pii.KeyID(phone) != k2.Current() {
		t.Errorf("phone sealed with %s, want the new key %s", pii.KeyID(phone), k2.Current())
	}
	if p, err := k2.Open(phone, "complainant:"+id+":phone"); err != nil || p != "13700001111" {
		t.Errorf("open after rotation: %q %v", p, err)
	}
}
