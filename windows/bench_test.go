package windows

import (
	"fmt"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/envmon/envmon/reading"
)

const (
	benchStations = 10_000
	benchMetrics  = 12
)

func benchReading(id string, at time.Time, v float64) reading.Reading {
	r := reading.Reading{Station: id, Medium: reading.Air, Time: at, Values: make([]reading.Value, benchMetrics)}
	for i := range r.Values {
		r.Values[i] = reading.Value{Metric: reading.Metrics[i].Name, Value: v + float64(i)}
	}
	return r
}

func benchIDs(n int) []string {
	ids := make([]string, n)
	for i := range ids {
		ids[i] = fmt.Sprintf("st-%05d", i)
	}
	return ids
}

// BenchmarkAdd measures one reading of 12 metrics into windows holding
// 10,000 stations × 12 metrics; readings go round the stations a minute
// apart. "subscribed" adds a subscriber, as the service runs: the public
// resources hear of every changed hour and keep those that have ended.
func BenchmarkAdd(b *testing.B) {
	for _, subscribed := range []bool{false, true} {
		name := "alone"
		if subscribed {
			name = "subscribed"
		}
		b.Run(name, func(b *testing.B) {
			start := time.Date(2026, 3, 1, 0, 0, 0, 0, shanghai)
			ids := benchIDs(benchStations)
			w, clk := newWindows(b, start.Add(24*time.Hour))
			for _, id := range ids {
				w.Add(benchReading(id, start, 1), shanghai)
			}
			rs := make([]reading.Reading, len(ids))
			for i, id := range ids {
				rs[i] = benchReading(id, start, 1)
			}
			if subscribed {
				var ended int
				cancel := w.Subscribe(func(c Change) {
					if !c.Hour.End.After(clk.Now()) {
						ended++
					}
				})
				defer cancel()
			}
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				r := &rs[i%benchStations]
				r.Time = start.Add(time.Duration(i/benchStations) * time.Minute)
				w.Add(*r, shanghai)
				i++
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/benchMetrics, "ns/value")
		})
	}
}

// BenchmarkAddParallel is BenchmarkAdd from GOMAXPROCS goroutines.
func BenchmarkAddParallel(b *testing.B) {
	start := time.Date(2026, 3, 1, 0, 0, 0, 0, shanghai)
	ids := benchIDs(benchStations)
	w, _ := newWindows(b, start.Add(24*time.Hour))
	for _, id := range ids {
		w.Add(benchReading(id, start, 1), shanghai)
	}
	var seq atomic.Int64
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := seq.Add(1)
			w.Add(benchReading(ids[i%benchStations], start.Add(time.Duration(i/benchStations)*time.Minute), 1), shanghai)
		}
	})
}

// BenchmarkMoving measures a 24 h moving mean query.
func BenchmarkMoving(b *testing.B) {
	start := time.Date(2026, 3, 1, 0, 0, 0, 0, shanghai)
	w, _ := newWindows(b, start.Add(48*time.Hour))
	for m := range 48 * 60 {
		w.Add(benchReading("S", start.Add(time.Duration(m)*time.Minute), float64(m%100)), shanghai)
	}
	at := start.Add(47 * time.Hour)
	b.ReportAllocs()
	for b.Loop() {
		if m, ok := w.Moving("S", "pm25", 24, at); !ok || !m.Valid {
			b.Fatal(m)
		}
	}
}

// BenchmarkMemory fills windows and reports the heap they hold per station
// (runtime.MemStats.HeapAlloc after GC, before and after). Buckets are of
// fixed size, preallocated per series for the whole retention, so the
// memory does not depend on how many readings an hour holds: "10k-hourly"
// is the full 10,000 stations × 12 metrics × 73 h at one reading an hour,
// and "1k-minutely" 1,000 stations at one reading a minute for 72 h, which
// checks that claim.
func BenchmarkMemory(b *testing.B) {
	for _, c := range []struct {
		name     string
		stations int
		step     time.Duration
	}{
		{"10k-hourly", benchStations, time.Hour},
		{"1k-minutely", 1_000, time.Minute},
	} {
		b.Run(c.name, func(b *testing.B) {
			start := time.Date(2026, 3, 1, 0, 0, 0, 0, shanghai)
			end := start.Add(73 * time.Hour)
			ids := benchIDs(c.stations)
			var perStation, perSeries float64
			for b.Loop() {
				var before, after runtime.MemStats
				runtime.GC()
				runtime.ReadMemStats(&before)
				w, _ := newWindows(b, end)
				r := benchReading("", start, 0)
				for at := start.Add(time.Minute); at.Before(end); at = at.Add(c.step) {
					for _, id := range ids {
						r.Station, r.Time = id, at
						w.Add(r, shanghai)
					}
				}
				runtime.GC()
				runtime.ReadMemStats(&after)
				held := float64(after.HeapAlloc) - float64(before.HeapAlloc)
				s := w.Stats()
				if s.Series != c.stations*benchMetrics {
					b.Fatalf("stats %+v", s)
				}
				if h, _ := w.Hour(ids[0], "pm25", end.Add(-time.Hour)); h.Samples == 0 {
					b.Fatalf("last hour empty: %+v", h)
				}
				perStation = held / float64(c.stations)
				perSeries = held / float64(s.Series)
				runtime.KeepAlive(w)
			}
			b.ReportMetric(perStation, "B/station")
			b.ReportMetric(perSeries, "B/series")
			b.ReportMetric(perStation*benchStations/(1<<20), "MiB/10k-stations")
		})
	}
}
