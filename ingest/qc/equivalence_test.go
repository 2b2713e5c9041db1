package qc

import (
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/envmon/envmon/reading"
)

// TestSameFlagsAsBefore: the Checker flags random streams of readings (in
// and out of order, repeated, with spikes, stuck values, sentinels and
// gaps, of known media and another) as its first version did.
func TestSameFlagsAsBefore(t *testing.T) {
	configs := []Config{
		{},
		{SpikeGap: 5 * time.Minute, DuplicateWindow: 3, StuckFor: 3 * time.Minute},
		{SpikeGap: -time.Minute, DuplicateWindow: 1},
		{Spike: map[string]float64{"pm25": 0.5, "temp": 0}, Ranges: map[string]Range{"pm25": {0, 50}}, Sentinels: []float64{}},
	}
	metrics := []string{"pm25", "pm10", "temp", "rh", "ph", "laeq", "x"}
	media := []reading.Medium{reading.Air, reading.Water, reading.Noise, "plasma", ""}
	for seed := range uint64(40) {
		rng := rand.New(rand.NewPCG(seed, 7))
		cfg := configs[int(seed)%len(configs)]
		got, want := New(cfg), newLegacy(cfg)
		t0 := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
		clock := t0
		var past []reading.Reading
		for n := range 3000 {
			var r reading.Reading
			switch p := rng.IntN(100); {
			case p < 5 && len(past) > 0: // the same again, or changed
				r = past[rng.IntN(len(past))]
				r.Values = slices.Clone(r.Values)
				if len(r.Values) > 0 && rng.IntN(2) == 0 {
					r.Values[0].Value++
				}
			default:
				switch q := rng.IntN(100); {
				case q < 70:
					clock = clock.Add(time.Duration(rng.IntN(90)) * time.Second)
				case q < 75:
					clock = clock.Add(time.Duration(rng.IntN(3)) * time.Hour)
				case q < 85: // to the nanosecond of a bound
					gap := cfg.withDefaults().SpikeGap
					clock = clock.Add([]time.Duration{gap - 1, gap, gap + 1, 1, 0}[rng.IntN(5)])
				}
				at := clock
				if rng.IntN(10) == 0 { // late
					at = at.Add(-time.Duration(rng.IntN(7200)) * time.Second)
				}
				r = reading.Reading{Station: []string{"a", "b", "c"}[rng.IntN(3)], Medium: media[rng.IntN(len(media))], Time: at}
				for _, m := range metrics {
					if rng.IntN(3) == 0 {
						continue
					}
					v := 20 + rng.NormFloat64()
					switch q := rng.IntN(100); {
					case q < 10:
						v = 20 // stuck
					case q < 13:
						v = 500 + 2000*rng.Float64() // a spike, or out of range
					case q < 15:
						v = -999
					case q < 17:
						v = 96 + 4*rng.Float64()
					}
					r.Values = append(r.Values, reading.Value{Metric: m, Value: v})
				}
				past = append(past, r)
			}
			received := r.Time.Add(time.Duration(rng.IntN(600)-300) * time.Second)
			a, b := r, r
			a.Values, b.Values = slices.Clone(r.Values), slices.Clone(r.Values)
			got.Check(&a, received)
			want.Check(&b, received)
			if !slices.Equal(a.Values, b.Values) {
				t.Fatalf("seed %d, reading %d (%+v): flags %v, want %v", seed, n, r, a.Values, b.Values)
			}
		}
	}
}

// TestSameFlagsAsBeforeLong: a long steady stream, past the spike
// history's bound, with late readings among it.
func TestSameFlagsAsBeforeLong(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 1))
	for _, cfg := range []Config{{}, {SpikeGap: 24 * time.Hour}} {
		got, want := New(cfg), newLegacy(cfg)
		t0 := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
		for n := range 20000 {
			at := t0.Add(time.Duration(n) * 10 * time.Second)
			if rng.IntN(20) == 0 {
				at = at.Add(-time.Duration(rng.IntN(40000)) * time.Second)
			}
			v := 30 + 5*rng.NormFloat64()
			if rng.IntN(50) == 0 {
				v += 800
			}
			r := reading.Reading{Station: "s", Medium: reading.Air, Time: at, Values: []reading.Value{{Metric: "pm25", Value: v}, {Metric: "temp", Value: float64(n / 1000)}}}
			a, b := r, r
			a.Values, b.Values = slices.Clone(r.Values), slices.Clone(r.Values)
			got.Check(&a, at)
			want.Check(&b, at)
			if !slices.Equal(a.Values, b.Values) {
				t.Fatalf("reading %d (%+v): flags %v, want %v", n, r, a.Values, b.Values)
			}
		}
	}
}
