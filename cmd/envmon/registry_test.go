package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/envmon/envmon/internal/testenv"
	"github.com/envmon/envmon/station"
)

// TestBrokenRegistry: a registry file with a mistake stops serve (and
// demo) before anything starts, naming the file and line.
func TestBrokenRegistry(t *testing.T) {
	t.Parallel()
	bin := testenv.EnvmonBinary(t)
	for _, command := range []string{"serve", "demo"} {
		var out bytes.Buffer
		cmd := exec.Command(bin, command, "--stations", "testdata/bad.yaml", "--data-dir", t.TempDir(),
			"--http-addr", "127.0.0.1:0", "--mqtt-addr", "127.0.0.1:0")
		cmd.Stdout, cmd.Stderr = &out, &out
		err := cmd.Run()
		var exit *exec.ExitError
		if !errors.As(err, &exit) || exit.ExitCode() == 0 {
			t.Fatalf("%s with a broken registry: %v\n%s", command, err, out.String())
		}
		if want := `testdata/bad.yaml:7: stations[0] (st-1): unknown medium "soil"`; !strings.Contains(out.String(), want) {
			t.Errorf("%s printed\n%s\nwant %s", command, out.String(), want)
		}
		if strings.Contains(out.String(), "envmon serving") {
			t.Errorf("%s started serving", command)
		}
	}
}

// TestDemoStationsShowRegistry runs the envmon binary's demo and checks
// that /api/v1/stations shows the demo registry's names, coordinates,
// point types and grid cells, and none of its teams' contacts.
func TestDemoStationsShowRegistry(t *testing.T) {
	t.Parallel()
	e := testenv.StartEnvmonCommand(t, "demo", "--data-dir", filepath.Join(t.TempDir(), "data"))
	res, err := http.Get(e.HTTP + "/api/v1/stations?limit=1000")
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := io.ReadAll(res.Body)
	res.Body.Close()
	var body struct {
		Stations []struct {
			ID   string `json:"id"`
			Name struct {
				Zh string `json:"zh"`
				En string `json:"en"`
			} `json:"name"`
			Coordinates *struct{ Lat, Lon float64 } `json:"coordinates"`
			NoiseZone   string                      `json:"noise_zone"`
			WaterTarget string                      `json:"water_target"`
			WaterBody   string                      `json:"water_body"`
			Registered  bool                        `json:"registered"`
			Point       struct {
				Type string `json:"type"`
				Name struct {
					Zh string `json:"zh"`
					En string `json:"en"`
				} `json:"name"`
				Grid struct {
					County, Township, Village string
				} `json:"grid"`
			} `json:"service_point"`
		} `json:"stations"`
	}
	if err := json.Unmarshal(raw, &body); err != nil {
		t.Fatalf("%v: %s", err, raw)
	}
	reg := demoRegistry()
	want := map[string]station.Station{}
	for _, s := range reg.Stations {
		want[s.ID] = s
	}
	types := map[string]bool{}
	seen := 0
	for _, s := range body.Stations {
		w, ok := want[s.ID]
		if !ok {
			continue // a station registered on first sight
		}
		seen++
		types[s.Point.Type] = true
		if s.Name.Zh != w.Name.Zh || s.Name.En != w.Name.En || s.Coordinates == nil ||
			s.Coordinates.Lat != w.Coordinates.Lat || s.Coordinates.Lon != w.Coordinates.Lon ||
			s.Point.Name.En == "" || s.Point.Grid.County == "" || !s.Registered {
			t.Errorf("station %s shows %+v, want %+v", s.ID, s, w)
		}
		if w.NoiseZone != 0 && s.NoiseZone != w.NoiseZone.String() || w.WaterTarget != 0 && (s.WaterTarget != w.WaterTarget.String() || s.WaterBody == "") {
			t.Errorf("station %s shows noise zone %q, water %q %q", s.ID, s.NoiseZone, s.WaterTarget, s.WaterBody)
		}
	}
	if seen != len(want) || len(types) != 3 {
		t.Errorf("the demo shows %d of the registry's %d stations, point types %v", seen, len(want), types)
	}
	for _, tm := range reg.Teams {
		for _, c := range tm.Contacts {
			for _, p := range []station.Personal{c.Name, c.Phone, c.Email} {
				if p != "" && bytes.Contains(raw, []byte(p.Reveal())) {
					t.Errorf("/api/v1/stations shows team %s's contact %q", tm.ID, p.Reveal())
				}
			}
		}
	}
	if bytes.Contains(raw, []byte("138-0000")) || bytes.Contains(raw, []byte("example.invalid")) {
		t.Error("/api/v1/stations shows a contact")
	}
}
