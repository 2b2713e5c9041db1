package qc

import (
	"fmt"
	"testing"
	"time"

	"github.com/envmon/envmon/reading"
)

// BenchmarkCheckStations is BenchmarkCheck for 10 stations, whose
// histories stay in the CPU's caches, and for 1000 stations of each medium.
func BenchmarkCheckStations(b *testing.B) {
	metrics := map[reading.Medium][]string{
		reading.Air:   {"pm25", "pm10", "o3", "no2", "so2", "co"},
		reading.Water: {"ph", "do", "codmn", "nh3n", "tp", "tn"},
		reading.Noise: {"laeq", "lmax", "lmin", "l10", "l50", "l90"},
	}
	for _, bc := range []struct {
		stations int
		media    []reading.Medium
	}{{10, []reading.Medium{reading.Air}}, {1000, reading.Media[:]}} {
		b.Run(fmt.Sprintf("%dx%d", bc.stations, len(bc.media)), func(b *testing.B) {
			c := New(Config{})
			names := make([]string, bc.stations)
			for i := range names {
				names[i] = fmt.Sprintf("s%04d", i)
			}
			base := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
			n := bc.stations * len(bc.media)
			r := reading.Reading{Point: "p", Values: make([]reading.Value, 6)}
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				m := bc.media[i%len(bc.media)]
				r.Station, r.Medium = names[i/len(bc.media)%bc.stations], m
				r.Time = base.Add(time.Duration(i/n) * time.Minute)
				for j, name := range metrics[m] {
					r.Values[j] = reading.Value{Metric: name, Value: float64(20 + (i+j)%17)}
				}
				c.Check(&r, r.Time)
			}
		})
	}
}
