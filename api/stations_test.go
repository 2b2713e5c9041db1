package api

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/envmon/envmon/station"
	"github.com/envmon/envmon/station/demo"
	"github.com/envmon/envmon/store/mem"
)

// TestStationsJSONHasNoContacts: /api/v1/stations of a registry with teams
// shows names, coordinates, point types and grid cells, and none of the
// teams' contacts.
func TestStationsJSONHasNoContacts(t *testing.T) {
	t.Parallel()
	f, err := demo.Registry()
	if err != nil {
		t.Fatal(err)
	}
	reg := station.New(f.Stations, false, nil, station.WithFile(f))
	var secrets []string
	for _, tm := range f.Teams {
		for _, c := range tm.Contacts {
			for _, p := range []station.Personal{c.Name, c.Phone, c.Email} {
				if p != "" {
					secrets = append(secrets, p.Reveal())
				}
			}
		}
	}
	if len(secrets) < 6 {
		t.Fatalf("the demo registry has only %d contact values", len(secrets))
	}
	srv := httptest.NewServer(Handler(Config{Stations: reg, Readings: mem.New(), Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}))
	t.Cleanup(srv.Close)
	for _, path := range []string{"/api/v1/stations?limit=1000", "/api/v1/stations/st-9", "/api/v1/stations/st-17/latest"} {
		res, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		body := string(b)
		for _, s := range secrets {
			if strings.Contains(body, s) {
				t.Errorf("GET %s shows contact %q", path, s)
			}
		}
		for _, word := range []string{"t-hexi", "<personal>", "contacts", "team"} {
			if strings.Contains(body, word) {
				t.Errorf("GET %s mentions %q", path, word)
			}
		}
	}
	status, _, body := get(t, srv.URL+"/api/v1/stations/st-9")
	sp, _ := body["service_point"].(map[string]any)
	grid, _ := sp["grid"].(map[string]any)
	name, _ := body["name"].(map[string]any)
	coord, _ := body["coordinates"].(map[string]any)
	if status != 200 || name["en"] != "Jade Lake intake" || name["zh"] != "翠湖取水口" || coord["lat"] != 30.7123 ||
		sp["type"] != "specialised" || grid["village"] != "翠微村 Cuiwei Village" ||
		body["water_target"] != "II" || body["water_body"] != "lake" || body["time_zone"] != "Asia/Shanghai" {
		t.Errorf("st-9 = %v", body)
	}
	// A station without coordinates has none, not 0,0.
	if err := reg.Admit("p-civic", "new-1", "air"); err != nil {
		t.Fatal(err)
	}
	_, _, body = get(t, srv.URL+"/api/v1/stations/new-1")
	if _, ok := body["coordinates"]; ok || body["registered"] != false {
		t.Errorf("first-sight station = %v", body)
	}
}
