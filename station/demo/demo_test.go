package demo

import (
	"slices"
	"testing"

	"github.com/envmon/envmon/reading"
	"github.com/envmon/envmon/station"
)

// TestRegistry: the demo registry parses, has five named points of every
// type, stations of every medium with their classes and coordinates, and
// a team for every point's grid cell.
func TestRegistry(t *testing.T) {
	f, err := Registry()
	if err != nil {
		t.Fatal(err)
	}
	if len(f.Points) != 5 {
		t.Errorf("%d points, want 5", len(f.Points))
	}
	types := map[station.PointType]bool{}
	r := station.New(f.Stations, false, nil, station.WithFile(f))
	for _, p := range f.Points {
		types[p.Type] = true
		if p.Name.Zh == "" || p.Name.En == "" || p.Address == "" || p.Grid.County == "" {
			t.Errorf("point %s lacks a name, address or grid: %+v", p.ID, p)
		}
		if len(r.Teams(p.Grid)) == 0 {
			t.Errorf("no team covers point %s (%s)", p.ID, p.Grid)
		}
	}
	if len(types) != 3 {
		t.Errorf("point types %v, want all three", types)
	}
	media := map[reading.Medium]int{}
	for _, s := range f.Stations {
		for _, m := range s.Media {
			media[m]++
		}
		if s.Name.Zh == "" || s.Name.En == "" || s.Coordinates == nil {
			t.Errorf("station %s lacks names or coordinates", s.ID)
		}
		if (s.NoiseZone == 0) == slices.Contains(s.Media, reading.Noise) {
			t.Errorf("station %s: noise zone %v for media %v", s.ID, s.NoiseZone, s.Media)
		}
		if slices.Contains(s.Media, reading.Water) && s.WaterTarget == 0 {
			t.Errorf("water station %s has no target class", s.ID)
		}
	}
	if media[reading.Air] == 0 || media[reading.Water] == 0 || media[reading.Noise] == 0 || len(f.Stations) != 20 {
		t.Errorf("media %v over %d stations", media, len(f.Stations))
	}
}
