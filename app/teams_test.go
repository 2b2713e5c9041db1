package app

import (
	"slices"
	"testing"

	"github.com/envmon/envmon/station"
	"github.com/envmon/envmon/station/demo"
)

// TestAlertTeams: alerts are told the teams whose grid cells cover a
// station (as cases routes its cases), or the default team when none
// does, and the station's cell.
func TestAlertTeams(t *testing.T) {
	f, err := demo.Registry()
	if err != nil {
		t.Fatal(err)
	}
	f.Stations = append(f.Stations, station.Station{ID: "st-nowhere", Point: "p-nowhere"})
	a := &App{stations: station.New(f.Stations, true, nil, station.WithFile(f))}
	for _, tt := range []struct {
		id, defaultTeam string
		teams           []string
		grid            bool
	}{
		{"st-1", "", []string{"t-civic-street", "t-hexi"}, true}, // p-civic: Hexi District / Civic Street
		{"st-1", "t-default", []string{"t-civic-street", "t-hexi"}, true},
		{"st-nowhere", "t-default", []string{"t-default"}, false},
		{"st-nowhere", "", nil, false},
		{"no-such-station", "t-default", nil, false},
	} {
		teams, grid := a.alertTeams(tt.id, tt.defaultTeam)
		slices.Sort(teams)
		if !slices.Equal(teams, tt.teams) || (grid != "") != tt.grid {
			t.Errorf("alertTeams(%s, %q) = %v, %q; want %v, a cell %v", tt.id, tt.defaultTeam, teams, grid, tt.teams, tt.grid)
		}
	}
}
