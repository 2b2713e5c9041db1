package station

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/envmon/envmon/reading"
)

func TestLoadAccounts(t *testing.T) {
	t.Parallel()
	f, err := Load("testdata/accounts.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if len(f.Stations) != 2 || len(f.Readers) != 1 || !slices.Equal(f.Readers[0].Read, []string{"envmon/#", "$SYS/broker/#"}) {
		t.Fatalf("loaded %+v", f)
	}
}

func loadAccounts(t *testing.T) *Registry {
	t.Helper()
	f, err := Load("testdata/accounts.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return New(f.Stations, true, nil, WithReaders(f.Readers))
}

func TestLookup(t *testing.T) {
	t.Parallel()
	r := loadAccounts(t)
	open := New(nil, false, nil)
	if err := open.Admit("p9", "new-1", reading.Air); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		r        *Registry
		user     string
		ok       bool
		station  string
		point    string
		password string // that matches the hash; "" for none
		read     []string
	}{
		{"station with a password", r, "st-1", true, "st-1", "p1", "station-secret", nil},
		{"station without", r, "c-1", true, "c-1", "p2", "", nil},
		{"reader", r, "dashboard", true, "", "", "reader-secret", []string{"envmon/#", "$SYS/broker/#"}},
		{"unknown", r, "st-9", false, "", "", "", nil},
		{"registered on first sight", open, "new-1", false, "", "", "", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, ok := tt.r.Lookup(tt.user)
			if ok != tt.ok || a.Station != tt.station || a.Point != tt.point || !slices.Equal(a.Read, tt.read) {
				t.Fatalf("Lookup(%q) = %+v, %v", tt.user, a, ok)
			}
			if tt.password == "" {
				if a.PasswordHash != "" {
					t.Fatal("account has a password hash")
				}
				return
			}
			if err := bcrypt.CompareHashAndPassword([]byte(a.PasswordHash), []byte(tt.password)); err != nil {
				t.Fatalf("hash does not match the password: %v", err)
			}
		})
	}
}

// TestHashNeverShows: neither the API's JSON nor a log line nor any fmt
// verb shows a password hash.
func TestHashNeverShows(t *testing.T) {
	t.Parallel()
	r := loadAccounts(t)
	v, _ := r.Get("st-1")
	if v.MQTTPasswordHash == "" {
		t.Fatal("test needs a station with a hash")
	}
	list, err := json.Marshal(r.List())
	if err != nil {
		t.Fatal(err)
	}
	one, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var logged bytes.Buffer
	slog.New(slog.NewTextHandler(&logged, nil)).Info("station", "station", v.Station, "hash", v.MQTTPasswordHash, "view", v)
	slog.New(slog.NewJSONHandler(&logged, nil)).Info("station", "hash", v.MQTTPasswordHash)
	rd := Reader{Username: "u", PasswordHash: v.MQTTPasswordHash}
	for _, out := range []string{
		string(list), string(one), logged.String(),
		fmt.Sprint(v), fmt.Sprintf("%v %+v %#v %s %q", v, v, v, v.MQTTPasswordHash, v.MQTTPasswordHash),
		fmt.Sprintf("%+v %#v", rd, rd), v.MQTTPasswordHash.String(),
	} {
		if strings.Contains(out, "$2a$") || strings.Contains(out, string(v.MQTTPasswordHash)[7:]) {
			t.Errorf("hash shows in %s", out)
		}
	}
	if !strings.Contains(fmt.Sprint(v.MQTTPasswordHash), "<hash>") {
		t.Errorf("hash prints as %q, want <hash>", fmt.Sprint(v.MQTTPasswordHash))
	}
}

func TestMaxUnregistered(t *testing.T) {
	t.Parallel()
	air := []reading.Medium{reading.Air}
	r := New([]Station{{ID: "listed", Point: "p1", Media: air}}, false, nil, MaxUnregistered(2))
	for _, id := range []string{"a", "b"} {
		if err := r.Admit("p1", id, reading.Air); err != nil {
			t.Fatalf("Admit(%s): %v", id, err)
		}
	}
	err := r.Admit("p1", "c", reading.Air)
	if !errors.Is(err, ErrTooManyStations) || !strings.Contains(err.Error(), "stations.max_unregistered = 2") {
		t.Fatalf("third first-sight station: %v", err)
	}
	if err := r.SetStatus("p1", "d", Online, time.Now()); !errors.Is(err, ErrTooManyStations) {
		t.Fatalf("status of a new station over the limit: %v", err)
	}
	for _, id := range []string{"a", "listed"} { // known stations go on
		if err := r.Admit("p1", id, reading.Air); err != nil {
			t.Errorf("Admit(%s) after the limit: %v", id, err)
		}
		if err := r.SetStatus("p1", id, Online, time.Now()); err != nil {
			t.Errorf("SetStatus(%s) after the limit: %v", id, err)
		}
	}
	if n := len(r.List()); n != 3 {
		t.Errorf("registry holds %d stations, want 3", n)
	}

	def := New(nil, false, nil)
	for i := range DefaultMaxUnregistered {
		if err := def.Admit("p", fmt.Sprintf("s-%d", i), reading.Air); err != nil {
			t.Fatalf("station %d: %v", i, err)
		}
	}
	if err := def.Admit("p", "one-more", reading.Air); !errors.Is(err, ErrTooManyStations) {
		t.Errorf("station %d past the default limit: %v", DefaultMaxUnregistered+1, err)
	}

	none := New(nil, false, nil, MaxUnregistered(0))
	if err := none.Admit("p", "s", reading.Air); !errors.Is(err, ErrTooManyStations) {
		t.Errorf("MaxUnregistered(0) admitted a station: %v", err)
	}
}
