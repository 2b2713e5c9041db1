package qc

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/envmon/envmon/reading"
)

var t0 = time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)

type in struct {
	at     time.Duration // reading time after t0
	values []reading.Value
	want   map[string][]string // metric → flag names expected
	late   time.Duration       // arrival after the reading's time
}

func v(metric string, x float64) reading.Value { return reading.Value{Metric: metric, Value: x} }

func TestChecker(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		medium reading.Medium
		seq    []in
	}{
		{"clean", reading.Air, []in{
			{0, []reading.Value{v("pm25", 35), v("pm10", 60)}, map[string][]string{"pm25": {}, "pm10": {}}, 0},
			{time.Minute, []reading.Value{v("pm25", 38)}, map[string][]string{"pm25": {}}, 0},
		}},
		{"range", reading.Air, []in{
			{0, []reading.Value{v("pm25", -3), v("rh", 120), v("temp", 20)}, map[string][]string{"pm25": {"range"}, "rh": {"range"}, "temp": {}}, 0},
		}},
		{"range edges are in range", reading.Water, []in{
			{0, []reading.Value{v("ph", 0), v("do", 20)}, map[string][]string{"ph": {}, "do": {}}, 0},
		}},
		{"sentinel", reading.Air, []in{
			{0, []reading.Value{v("pm25", -999), v("so2", 9999)}, map[string][]string{"pm25": {"sentinel"}, "so2": {"sentinel"}}, 0},
		}},
		{"spike up and recovery", reading.Air, []in{
			{0, []reading.Value{v("pm25", 30)}, nil, 0},
			{time.Minute, []reading.Value{v("pm25", 800)}, map[string][]string{"pm25": {"spike"}}, 0},
			{2 * time.Minute, []reading.Value{v("pm25", 32)}, map[string][]string{"pm25": {}}, 0},
			{3 * time.Minute, []reading.Value{v("pm25", 33)}, map[string][]string{"pm25": {}}, 0},
		}},
		{"spike judged the same in any arrival order", reading.Air, []in{
			{0, []reading.Value{v("pm25", 30)}, nil, 0},
			{3 * time.Minute, []reading.Value{v("pm25", 31)}, map[string][]string{"pm25": {}}, 0},
			{2 * time.Minute, []reading.Value{v("pm25", 900)}, map[string][]string{"pm25": {"spike"}}, 0},
			{time.Minute, []reading.Value{v("pm25", 30)}, map[string][]string{"pm25": {}}, 0},
		}},
		{"a level shift is accepted on its second reading", reading.Air, []in{
			{0, []reading.Value{v("pm25", 30)}, nil, 0},
			{time.Minute, []reading.Value{v("pm25", 600)}, map[string][]string{"pm25": {"spike"}}, 0},
			{2 * time.Minute, []reading.Value{v("pm25", 610)}, map[string][]string{"pm25": {}}, 0},
			{3 * time.Minute, []reading.Value{v("pm25", 605)}, map[string][]string{"pm25": {}}, 0},
		}},
		{"a fast but plausible rise is not a spike", reading.Air, []in{
			{0, []reading.Value{v("pm25", 30)}, nil, 0},
			{10 * time.Minute, []reading.Value{v("pm25", 600)}, map[string][]string{"pm25": {}}, 0},
		}},
		{"a late reading is compared with the one before it", reading.Air, []in{
			{0, []reading.Value{v("pm25", 30)}, nil, 0},
			{2 * time.Minute, []reading.Value{v("pm25", 30)}, nil, 0},
			{time.Minute, []reading.Value{v("pm25", 700)}, map[string][]string{"pm25": {"spike"}}, 0},
		}},
		{"stuck", reading.Air, []in{
			{0, []reading.Value{v("pm25", 41.2)}, map[string][]string{"pm25": {}}, 0},
			{time.Hour, []reading.Value{v("pm25", 41.2)}, map[string][]string{"pm25": {}}, 0},
			{2 * time.Hour, []reading.Value{v("pm25", 41.2)}, map[string][]string{"pm25": {"stuck"}}, 0},
			{2*time.Hour + time.Minute, []reading.Value{v("pm25", 41.3)}, map[string][]string{"pm25": {}}, 0},
		}},
		{"constant metrics are not stuck", reading.Air, []in{
			{0, []reading.Value{v("wind_dir", 90)}, nil, 0},
			{3 * time.Hour, []reading.Value{v("wind_dir", 90)}, map[string][]string{"wind_dir": {}}, 0},
		}},
		{"future and past", reading.Noise, []in{
			{0, []reading.Value{v("laeq", 50)}, map[string][]string{"laeq": {"future"}}, -time.Hour},
			{-time.Minute, []reading.Value{v("laeq", 50)}, map[string][]string{"laeq": {"past"}}, 72 * time.Hour},
			{-2 * time.Minute, []reading.Value{v("laeq", 50)}, map[string][]string{"laeq": {}}, 4 * time.Minute},
		}},
		{"exact redelivery is not a duplicate", reading.Air, []in{
			{0, []reading.Value{v("pm25", 30)}, nil, 0},
			{0, []reading.Value{v("pm25", 30)}, map[string][]string{"pm25": {}}, 0},
		}},
		{"conflicting duplicate", reading.Air, []in{
			{0, []reading.Value{v("pm25", 30)}, nil, 0},
			{0, []reading.Value{v("pm25", 31)}, map[string][]string{"pm25": {"duplicate"}}, 0},
		}},
		{"humidity flags optical PM only", reading.Air, []in{
			{0, []reading.Value{v("pm25", 80), v("pm10", 90), v("no2", 40), v("rh", 97)}, map[string][]string{"pm25": {"humidity"}, "pm10": {"humidity"}, "no2": {}, "rh": {}}, 0},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := New(Config{})
			for i, step := range tt.seq {
				r := reading.Reading{Point: "p", Station: "s", Medium: tt.medium, Time: t0.Add(step.at), Values: slices.Clone(step.values)}
				c.Check(&r, r.Time.Add(step.late))
				for _, val := range r.Values {
					want, ok := step.want[val.Metric]
					if !ok {
						continue
					}
					if got := val.QC.Names(); !slices.Equal(got, want) {
						t.Errorf("step %d %s=%v: flags %v, want %v", i, val.Metric, val.Value, got, want)
					}
				}
			}
		})
	}
}

func TestStationsAreIndependent(t *testing.T) {
	t.Parallel()
	c := New(Config{})
	a := reading.Reading{Station: "a", Medium: reading.Air, Time: t0, Values: []reading.Value{v("pm25", 30)}}
	b := reading.Reading{Station: "b", Medium: reading.Air, Time: t0.Add(time.Minute), Values: []reading.Value{v("pm25", 900)}}
	c.Check(&a, t0)
	c.Check(&b, t0.Add(time.Minute))
	if b.Values[0].QC != 0 {
		t.Errorf("station b flagged from station a's history: %v", b.Values[0].QC)
	}
}

// BenchmarkCheck checks six-value readings from 1000 stations in turn, a
// minute apart per station, as a busy collector sees them.
func BenchmarkCheck(b *testing.B) {
	c := New(Config{})
	const stations = 1000
	names := make([]string, stations)
	for i := range names {
		names[i] = fmt.Sprintf("s%04d", i)
	}
	metrics := []string{"pm25", "pm10", "o3", "no2", "so2", "co"}
	base := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	r := reading.Reading{Point: "p", Medium: reading.Air, Values: make([]reading.Value, len(metrics))}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		r.Station = names[i%stations]
		r.Time = base.Add(time.Duration(i/stations) * time.Minute)
		for j, m := range metrics {
			r.Values[j] = reading.Value{Metric: m, Value: float64(20 + (i+j)%17)}
		}
		c.Check(&r, r.Time)
	}
}

// TestDuplicateWindow: conflicts are found among the last DuplicateWindow
// timestamps, in or out of order, and older ones are forgotten.
func TestDuplicateWindow(t *testing.T) {
	c := New(Config{DuplicateWindow: 3})
	check := func(at time.Duration, x float64) bool {
		r := reading.Reading{Station: "s", Medium: reading.Air, Time: t0.Add(at), Values: []reading.Value{v("temp", x)}}
		c.Check(&r, r.Time)
		return r.Values[0].QC&reading.FlagDuplicate != 0
	}
	steps := []struct {
		at   time.Duration
		x    float64
		want bool
	}{
		{5 * time.Minute, 10, false},
		{4 * time.Minute, 10, false}, // late, new
		{4 * time.Minute, 11, true},  // late, conflicting
		{4 * time.Minute, 10, false}, // the same again
		{6 * time.Minute, 10, false},
		{7 * time.Minute, 10, false}, // the window now holds 4, 6, 7 minutes
		{6 * time.Minute, 12, true},
		{5 * time.Minute, 12, false}, // forgotten
		{7 * time.Minute, 12, true},  // the window holds 6, 7, 5 minutes
	}
	for i, s := range steps {
		if got := check(s.at, s.x); got != s.want {
			t.Errorf("step %d (%v, %v): duplicate %v, want %v", i, s.at, s.x, got, s.want)
		}
	}
}
