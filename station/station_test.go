package station

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/envmon/envmon/quality"
	"github.com/envmon/envmon/reading"
)

// TestLoad: the complete example loads into the typed model: names in
// both languages, point types, grid cells from the point, coordinates
// absent apart from 0,0, time zones, quality/ classes, metrics, teams.
func TestLoad(t *testing.T) {
	t.Parallel()
	f, err := Load("testdata/stations.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if len(f.Points) != 3 || len(f.Stations) != 4 || len(f.Teams) != 2 {
		t.Fatalf("loaded %d points, %d stations, %d teams", len(f.Points), len(f.Stations), len(f.Teams))
	}
	r := New(f.Stations, true, nil, WithFile(f))
	tests := []struct {
		id    string
		check func(v View) bool
	}{
		{"st-1", func(v View) bool {
			return v.Name == Name{Zh: "市民中心空气站", En: "Civic Centre air"} && *v.Coordinates == Coordinates{30.65, 104.06} &&
				v.ServicePoint.Type == Comprehensive && v.ServicePoint.Address == "1 Civic Square" &&
				v.ServicePoint.Grid == Grid{"Qingshui County", "Riverside Street", "Willow Community"} &&
				v.TimeZone.String() == DefaultZone && v.Measures("o3") && !v.Measures("so2") && v.Registered
		}},
		{"w-1", func(v View) bool {
			return v.Name == Name{Zh: "River intake", En: "River intake"} && v.Coordinates != nil && *v.Coordinates == Coordinates{} &&
				v.WaterTarget == quality.ClassIII && v.WaterBody == quality.River && v.Measures("codmn")
		}},
		{"n-1", func(v View) bool {
			return v.Coordinates == nil && v.NoiseZone == quality.Zone4a && v.TimeZone.String() == "Asia/Urumqi" &&
				v.ServicePoint.Grid == Grid{County: "Qingshui County", Township: "Hilltop Town"} && v.ServicePoint.Name.En == "Ring Road"
		}},
		{"v-1", func(v View) bool { return v.ServicePoint.Type == Mobile && v.NoiseZone == 0 && v.Measures("laeq") }},
	}
	for _, tt := range tests {
		v, ok := r.Get(tt.id)
		if !ok || !tt.check(v) {
			t.Errorf("%s: %+v", tt.id, v)
		}
	}
	if got := r.Location("n-1").String(); got != "Asia/Urumqi" {
		t.Errorf("Location(n-1) = %s", got)
	}
}

// TestLoadErrors walks testdata/bad: each file has one problem, on the
// line marked "# want: MESSAGE", and Load must report it as
// file:line: ...MESSAGE.
func TestLoadErrors(t *testing.T) {
	t.Parallel()
	files, err := filepath.Glob("testdata/bad/*.yaml")
	if err != nil || len(files) < 20 {
		t.Fatalf("bad files: %v, %v", files, err)
	}
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			t.Parallel()
			line, want := wantedError(t, file)
			_, err := Load(file)
			if err == nil {
				t.Fatalf("loaded; want %s:%d: %s", file, line, want)
			}
			first, _, _ := strings.Cut(err.Error(), "\n")
			prefix := fmt.Sprintf("%s:%d: ", file, line)
			if !strings.HasPrefix(first, prefix) || !strings.Contains(first, want) {
				t.Fatalf("error\n  %s\nwant\n  %s...%s", err, prefix, want)
			}
			var le *Error
			if !errors.As(err, &le) || le.Line != line {
				t.Errorf("not an *Error at line %d: %#v", line, err)
			}
		})
	}
}

func wantedError(t *testing.T, file string) (int, string) {
	t.Helper()
	fh, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	sc := bufio.NewScanner(fh)
	for n := 1; sc.Scan(); n++ {
		if _, want, ok := strings.Cut(sc.Text(), "# want: "); ok {
			return n, want
		}
	}
	t.Fatalf("%s has no # want: line", file)
	return 0, ""
}

// TestLoadReportsEveryProblem: one load names every bad line, in order.
func TestLoadReportsEveryProblem(t *testing.T) {
	t.Parallel()
	_, err := Parse("many.yaml", []byte(`points:
  - {id: p1, type: mobile}
  - {id: p2, type: stationary}
stations:
  - {id: a, point: p1, media: [air], lat: 91, lon: 0}
  - {id: b, point: nowhere, media: [air]}
  - {id: c, point: p1, media: [air], time_zone: Mars/Olympus}
`))
	if err == nil {
		t.Fatal("loaded")
	}
	var lines []string
	for l := range strings.SplitSeq(err.Error(), "\n") {
		lines = append(lines, strings.SplitN(l, ": ", 2)[0])
	}
	if want := []string{"many.yaml:3", "many.yaml:5", "many.yaml:6", "many.yaml:7"}; !slices.Equal(lines, want) {
		t.Errorf("problems at %v, want %v:\n%v", lines, want, err)
	}
	if _, err := Load("testdata/missing.yaml"); err == nil || !strings.Contains(err.Error(), "no such file") {
		t.Errorf("missing file: %v", err)
	}
	if _, err := Parse("empty.yaml", nil); err == nil || !strings.Contains(err.Error(), "empty.yaml:1: ") {
		t.Errorf("empty file: %v", err)
	}
}

// TestContactsNeverShow: a team's contacts do not show in any view of a
// station, in JSON, in fmt or in a log line, nor in a load error.
func TestContactsNeverShow(t *testing.T) {
	t.Parallel()
	f, err := Load("testdata/stations.yaml")
	if err != nil {
		t.Fatal(err)
	}
	r := New(f.Stations, true, nil, WithFile(f))
	teams := r.Teams(Grid{"Qingshui County", "Riverside Street", "Willow Community"})
	if len(teams) != 2 || teams[0].ID != "t-willow" || teams[1].ID != "t-county" {
		t.Fatalf("teams for Willow Community: %+v", teams)
	}
	if teams[1].Contacts[0].Phone.Reveal() != "138-0000-0001" {
		t.Fatalf("Reveal = %q", teams[1].Contacts[0].Phone.Reveal())
	}
	list, _ := json.Marshal(r.List())
	team, _ := json.Marshal(teams)
	contacts, _ := json.Marshal(teams[1].Contacts) // by mistake
	var logged strings.Builder
	slog.New(slog.NewJSONHandler(&logged, nil)).Info("team", "team", teams[1], "contact", teams[1].Contacts[0], "phone", teams[1].Contacts[0].Phone)
	slog.New(slog.NewTextHandler(&logged, nil)).Info("team", "team", teams[1], "contact", teams[1].Contacts[0])
	_, loadErr := Parse("x.yaml", []byte("points: [{id: p, type: mobile, grid: {county: C}}]\nteams:\n  - {id: t, name: T, cells: [C], contacts: [{name: Li Hua, phone: 138-0000-0001, email: lihua-at-example}]}\n"))
	if loadErr == nil {
		t.Fatal("a bad e-mail loaded")
	}
	for _, out := range []string{string(list), string(team), string(contacts), logged.String(), loadErr.Error(),
		fmt.Sprintf("%v %+v %#v %s", teams, teams, teams[1].Contacts, teams[1].Contacts[0].Phone)} {
		for _, secret := range []string{"138-0000-0001", "lihua", "Li Hua", "Zhang Wei"} {
			if strings.Contains(out, secret) {
				t.Errorf("%q shows in %s", secret, out)
			}
		}
	}
	if !strings.Contains(string(contacts), `"Phone":"\u003cpersonal\u003e"`) {
		t.Errorf("contacts marshal as %s", contacts)
	}
}

func TestAdmit(t *testing.T) {
	t.Parallel()
	f, err := Load("testdata/stations.yaml")
	if err != nil {
		t.Fatal(err)
	}
	fixed := New(f.Stations, true, nil, WithFile(f))
	open := New(nil, false, nil, WithFile(File{Points: f.Points}))
	tests := []struct {
		name    string
		r       *Registry
		point   string
		id      string
		medium  reading.Medium
		wantErr string
	}{
		{"listed", fixed, "p1", "st-1", reading.Air, ""},
		{"unknown on fixed", fixed, "p1", "st-9", reading.Air, "unknown station"},
		{"wrong point", fixed, "p2", "st-1", reading.Air, `belongs to point "p1"`},
		{"wrong medium", fixed, "p1", "st-1", reading.Water, "not registered for water"},
		{"first sight", open, "p1", "new-1", reading.Noise, ""},
		{"first sight, unknown point", open, "p9", "new-2", reading.Air, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.r.Admit(tt.point, tt.id, tt.medium)
			if tt.wantErr == "" && err != nil || tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
				t.Fatalf("Admit = %v, want %q", err, tt.wantErr)
			}
		})
	}
	if err := fixed.Admit("p1", "st-9", reading.Air); !errors.Is(err, ErrUnknownStation) {
		t.Errorf("want ErrUnknownStation, got %v", err)
	}
}

// TestFirstSightDefaults: a station registered on first sight is marked
// unregistered and gets the defaults: the deployment's time zone and its
// point's grid cell, and no coordinates.
func TestFirstSightDefaults(t *testing.T) {
	t.Parallel()
	f, err := Load("testdata/stations.yaml")
	if err != nil {
		t.Fatal(err)
	}
	urumqi, _ := time.LoadLocation("Asia/Urumqi")
	for _, tt := range []struct {
		name string
		opts []Option
		zone string
	}{
		{"default zone", nil, DefaultZone},
		{"deployment's zone", []Option{WithDefaultZone(urumqi)}, "Asia/Urumqi"},
	} {
		r := New(f.Stations, false, nil, append(tt.opts, WithFile(f))...)
		if err := r.Admit("p1", "new-1", reading.Air); err != nil {
			t.Fatal(err)
		}
		if err := r.SetStatus("p9", "new-2", Online, time.Now()); err != nil {
			t.Fatal(err)
		}
		r.Observe([]reading.Reading{{Point: "p2", Station: "new-3", Medium: reading.Noise, Time: time.Now(), Values: []reading.Value{{Metric: "laeq", Value: 50}}}})
		for _, id := range []string{"new-1", "new-2", "new-3"} {
			v, ok := r.Get(id)
			if !ok || v.Registered || v.TimeZone == nil || v.TimeZone.String() != tt.zone || v.Coordinates != nil || !v.Name.IsZero() {
				t.Errorf("%s: %s: %+v", tt.name, id, v)
			}
		}
		if v, _ := r.Get("new-1"); v.ServicePoint.Grid.Village != "Willow Community" || v.ServicePoint.Type != Comprehensive {
			t.Errorf("%s: new-1 at p1 has point %+v", tt.name, v.ServicePoint)
		}
		if v, _ := r.Get("new-2"); v.ServicePoint != (Point{ID: "p9"}) || v.Status != Online {
			t.Errorf("%s: new-2 at p9: %+v", tt.name, v)
		}
		if v, _ := r.Get("n-1"); v.TimeZone.String() != "Asia/Urumqi" {
			t.Errorf("%s: n-1's own zone became %s", tt.name, v.TimeZone)
		}
		if v, _ := r.Get("st-1"); v.TimeZone.String() != tt.zone {
			t.Errorf("%s: st-1 names no zone but has %s", tt.name, v.TimeZone)
		}
	}
}

func TestObserveKeepsNewest(t *testing.T) {
	t.Parallel()
	r := New(nil, false, nil)
	t0 := time.Date(2026, 11, 1, 10, 0, 0, 0, time.UTC)
	r.Observe([]reading.Reading{
		{Point: "p", Station: "s", Medium: reading.Air, Time: t0.Add(time.Minute), Values: []reading.Value{{Metric: "pm25", Value: 20}}},
		{Point: "p", Station: "s", Medium: reading.Air, Time: t0, Values: []reading.Value{{Metric: "pm25", Value: 10}, {Metric: "pm10", Value: 30}}},
	})
	got, ok := r.Latest("s")
	if !ok || len(got) != 2 {
		t.Fatalf("Latest = %v, %v", got, ok)
	}
	if got[0].Metric != "pm10" || got[1].Metric != "pm25" || got[1].Value != 20 {
		t.Errorf("late reading replaced a newer one: %+v", got)
	}
	v, _ := r.Get("s")
	if !v.LastSeen.Equal(t0.Add(time.Minute)) {
		t.Errorf("LastSeen = %v", v.LastSeen)
	}
	// The view is a copy: changing it changes nothing in the registry.
	v.Media[0] = reading.Water
	if w, _ := r.Get("s"); w.Media[0] != reading.Air {
		t.Errorf("a view shares the registry's media: %v", w.Media)
	}
}

// TestLiveApartFromStatic: live updates go on while a reader holds the
// static metadata, and the views of both agree afterwards; run with -race.
func TestLiveApartFromStatic(t *testing.T) {
	t.Parallel()
	f, err := Load("testdata/stations.yaml")
	if err != nil {
		t.Fatal(err)
	}
	r := New(f.Stations, true, nil, WithFile(f))
	r.mu.RLock() // a long reader of the static metadata
	done := make(chan struct{})
	go func() {
		defer close(done)
		r.liveMu.Lock()
		r.liveOf("st-1").Status = Online // what SetStatus does once the station is known
		r.liveMu.Unlock()
	}()
	<-done // would deadlock if live state shared the static lock
	r.mu.RUnlock()
	if err := r.SetStatus("p1", "st-1", Offline, time.Unix(1, 0)); err != nil {
		t.Fatal(err)
	}
	if v, _ := r.Get("st-1"); v.Status != Offline || v.Name.En != "Civic Centre air" {
		t.Errorf("view %+v", v)
	}
}
