package station

import (
	"fmt"
	"testing"
	"time"

	"github.com/envmon/envmon/reading"
)

// BenchmarkObserve is the live sink's cost per reading: batches of 1,000
// readings of six air values, from 1,000 stations registered on first
// sight, a minute apart.
func BenchmarkObserve(b *testing.B) {
	const n = 1000
	r := New(nil, false, nil, MaxUnregistered(n))
	t0 := time.Date(2026, 11, 1, 10, 0, 0, 0, time.UTC)
	batch := make([]reading.Reading, n)
	for i := range batch {
		batch[i] = reading.Reading{Point: "p", Station: fmt.Sprintf("st-%04d", i), Medium: reading.Air, Time: t0, Values: []reading.Value{
			{Metric: "pm25", Value: 40}, {Metric: "pm10", Value: 70}, {Metric: "o3", Value: 90},
			{Metric: "no2", Value: 30}, {Metric: "so2", Value: 8}, {Metric: "co", Value: 0.7}}}
	}
	r.Observe(batch)
	b.ReportAllocs()
	k := 0
	for b.Loop() {
		k++
		for i := range batch {
			batch[i].Time = t0.Add(time.Duration(k) * time.Minute)
		}
		r.Observe(batch)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/n, "ns/reading")
}

// TestSeedThenObserve: seeded values are the latest until a newer reading
// comes, a late one replaces none, the newest of several seeded values of
// a metric wins, and Latest returns copies.
func TestSeedThenObserve(t *testing.T) {
	t.Parallel()
	r := New(nil, false, nil)
	t0 := time.Date(2026, 11, 1, 10, 0, 0, 0, time.UTC)
	r.Seed([]reading.Latest{
		{Point: "p", Station: "s", Medium: reading.Air, Metric: "pm25", Time: t0, Value: 1},
		{Point: "p", Station: "s", Medium: reading.Air, Metric: "pm25", Time: t0.Add(2 * time.Minute), Value: 2},
		{Point: "p", Station: "s", Medium: reading.Air, Metric: "pm25", Time: t0.Add(time.Minute), Value: 3},
		{Point: "p", Station: "s", Medium: reading.Air, Metric: "o3", Time: t0, Value: 4},
	})
	r.Observe([]reading.Reading{
		{Point: "p", Station: "s", Medium: reading.Air, Time: t0.Add(time.Minute), Values: []reading.Value{{Metric: "pm25", Value: 5}, {Metric: "o3", Value: 6}}},
		{Point: "p", Station: "s", Medium: reading.Air, Time: t0.Add(3 * time.Minute), Values: []reading.Value{{Metric: "co", Value: 7, QC: reading.FlagSpike}}},
	})
	got, ok := r.Latest("s")
	if !ok || len(got) != 3 {
		t.Fatalf("Latest = %+v, %v", got, ok)
	}
	want := []struct {
		metric string
		v      float64
		at     time.Time
	}{{"co", 7, t0.Add(3 * time.Minute)}, {"o3", 6, t0.Add(time.Minute)}, {"pm25", 2, t0.Add(2 * time.Minute)}}
	for i, w := range want {
		if got[i].Metric != w.metric || got[i].Value != w.v || !got[i].Time.Equal(w.at) || got[i].Station != "s" || got[i].Point != "p" {
			t.Errorf("latest %d = %+v, want %s = %v at %v", i, got[i], w.metric, w.v, w.at)
		}
	}
	if got[0].QC != reading.FlagSpike {
		t.Errorf("co QC = %v", got[0].QC)
	}
	got[2].Value = 99
	if again, _ := r.Latest("s"); again[2].Value != 2 {
		t.Errorf("Latest shares the registry's values: %+v", again[2])
	}
	if v, _ := r.Get("s"); !v.LastSeen.Equal(t0.Add(3 * time.Minute)) {
		t.Errorf("LastSeen = %v", v.LastSeen)
	}
}
