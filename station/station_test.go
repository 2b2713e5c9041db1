package station

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/envmon/envmon/reading"
)

func TestLoadFile(t *testing.T) {
	t.Parallel()
	tests := []struct {
		file    string
		n       int
		wantErr string
	}{
		{"stations.yaml", 3, ""},
		{"bad_zone.yaml", 0, `noise_zone "5"`},
		{"bad_medium.yaml", 0, `unknown medium "soil"`},
		{"duplicate.yaml", 0, `listed twice`},
		{"bad_lat.yaml", 0, `lat 90.5`},
		{"bad_lon.yaml", 0, `lon -180.01`},
		{"nan_lat.yaml", 0, `lat NaN`},
		{"inf_lon.yaml", 0, `lon +Inf`},
		{"missing.yaml", 0, `no such file`},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			t.Parallel()
			got, err := LoadFile("testdata/" + tt.file)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != tt.n {
				t.Fatalf("got %d stations, want %d", len(got), tt.n)
			}
		})
	}
}

func TestAdmit(t *testing.T) {
	t.Parallel()
	listed, err := LoadFile("testdata/stations.yaml")
	if err != nil {
		t.Fatal(err)
	}
	fixed := New(listed, true, nil)
	open := New(nil, false, nil)
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
		{"first sight", open, "p9", "new-1", reading.Noise, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.r.Admit(tt.point, tt.id, tt.medium)
			if tt.wantErr == "" && err != nil || tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
				t.Fatalf("Admit = %v, want %q", err, tt.wantErr)
			}
		})
	}
	if _, ok := open.Get("new-1"); !ok {
		t.Error("first-sight station not registered")
	}
	if err := fixed.Admit("p1", "st-9", reading.Air); !errors.Is(err, ErrUnknownStation) {
		t.Errorf("want ErrUnknownStation, got %v", err)
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
}
