// Package storetest is the conformance kit every store.Store implementation
// runs in its tests.
package storetest

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/envmon/envmon/reading"
	"github.com/envmon/envmon/store"
)

// Run runs the conformance tests against the stores that open returns. Each
// subtest calls open for a new, empty store and closes it when it ends.
func Run(t *testing.T, open func(t *testing.T) store.Store) {
	// Latest may look back a bounded time (influx: 30 days), so the readings
	// are recent: base is an hour ago, with a nanosecond part to check that
	// stores keep full precision.
	base := time.Now().UTC().Truncate(time.Second).Add(-time.Hour + 123456789)

	tests := []struct {
		name string
		run  func(t *testing.T, s store.Store, base time.Time)
	}{
		{"Empty", testEmpty},
		{"RoundTrip", testRoundTrip},
		{"Names", testNames},
		{"Values", testValues},
		{"QC", testQC},
		{"IdempotentRewrite", testIdempotentRewrite},
		{"Replace", testReplace},
		{"Range", testRange},
		{"Limit", testLimit},
		{"Order", testOrder},
		{"Latest", testLatest},
		{"BadQuery", testBadQuery},
		{"BadReading", testBadReading},
		{"LargeBatch", testLargeBatch},
		{"Concurrent", testConcurrent},
		{"Canceled", testCanceled},
		{"ScanEmpty", testScanEmpty},
		{"Scan", testScan},
		{"ScanLarge", testScanLarge},
		{"Aggregate", testAggregate},
		{"AggregateBadQuery", testAggregateBadQuery},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := open(t)
			t.Cleanup(func() {
				if err := s.Close(); err != nil {
					t.Errorf("Close: %v", err)
				}
			})
			tt.run(t, s, base)
		})
	}
}

// Readings returns n readings of station at base, base+step, ..., each with
// the metrics given, valued so that every (metric, time) is distinct.
func Readings(point, station string, medium reading.Medium, metrics []string, base time.Time, step time.Duration, n int) []reading.Reading {
	rs := make([]reading.Reading, n)
	for i := range rs {
		vs := make([]reading.Value, len(metrics))
		for j, m := range metrics {
			vs[j] = reading.Value{Metric: m, Value: value(i, j)}
		}
		rs[i] = reading.Reading{
			Point:   point,
			Station: station,
			Medium:  medium,
			Time:    base.Add(time.Duration(i) * step),
			Values:  vs,
		}
	}
	return rs
}

// value is the value Readings gives the j-th metric of the i-th reading.
func value(i, j int) float64 { return float64(i)*1.5 + float64(j)/8 }

// Samples returns the samples of metric of station in rs, oldest first; of
// a time written more than once the last value wins.
func Samples(rs []reading.Reading, station, metric string) []reading.Sample {
	byTime := make(map[int64]reading.Value)
	for _, r := range rs {
		if r.Station != station {
			continue
		}
		for _, v := range r.Values {
			if v.Metric == metric {
				byTime[r.Time.UnixNano()] = v
			}
		}
	}
	out := make([]reading.Sample, 0, len(byTime))
	for ts, v := range byTime {
		out = append(out, reading.Sample{Time: time.Unix(0, ts).UTC(), Value: v.Value, QC: v.QC})
	}
	slices.SortFunc(out, func(a, b reading.Sample) int { return a.Time.Compare(b.Time) })
	return out
}

var (
	airMetrics   = []string{"pm25", "pm10", "o3", "no2", "so2", "co"}
	waterMetrics = []string{"ph", "do", "nh3n"}
	noiseMetrics = []string{"laeq", "lmax"}
)

func testEmpty(t *testing.T, s store.Store, base time.Time) {
	ctx := t.Context()
	if err := s.Ping(ctx); err != nil {
		t.Fatalf("Ping: %v", err)
	}
	if err := s.Write(ctx, nil); err != nil {
		t.Fatalf("Write(nil): %v", err)
	}
	if err := s.Write(ctx, []reading.Reading{{Station: "s1", Medium: reading.Air, Time: base}}); err != nil {
		t.Fatalf("Write of a reading without values: %v", err)
	}
	got := query(t, s, store.Query{Station: "s1", Metric: "pm25"})
	if len(got) != 0 {
		t.Errorf("Query of an empty store = %v, want none", got)
	}
	latest, err := s.Latest(ctx)
	if err != nil {
		t.Fatalf("Latest: %v", err)
	}
	if len(latest) != 0 {
		t.Errorf("Latest of an empty store = %v, want none", latest)
	}
}

func testRoundTrip(t *testing.T, s store.Store, base time.Time) {
	var rs []reading.Reading
	rs = append(rs, Readings("p1", "air-1", reading.Air, airMetrics, base, time.Minute, 20)...)
	rs = append(rs, Readings("p1", "air-2", reading.Air, airMetrics[:3], base.Add(time.Second), time.Minute, 15)...)
	rs = append(rs, Readings("p2", "water-1", reading.Water, waterMetrics, base, 5*time.Minute, 10)...)
	rs = append(rs, Readings("p3", "noise-1", reading.Noise, noiseMetrics, base, time.Second, 30)...)
	write(t, s, rs)

	tests := []struct{ station, metric string }{
		{"air-1", "pm25"},
		{"air-1", "co"},
		{"air-2", "pm25"},
		{"air-2", "o3"},
		{"air-2", "co"}, // air-2 has no co
		{"water-1", "ph"},
		{"water-1", "nh3n"},
		{"water-1", "pm25"}, // a metric of another station
		{"noise-1", "laeq"},
		{"noise-1", "lmax"},
		{"nowhere", "pm25"},
	}
	for _, tt := range tests {
		t.Run(tt.station+"/"+tt.metric, func(t *testing.T) {
			got := query(t, s, store.Query{Station: tt.station, Metric: tt.metric})
			equalSamples(t, got, Samples(rs, tt.station, tt.metric))
		})
	}
}

// testNames checks that names with characters special to SQL, line protocol
// or Flux are kept as they are.
func testNames(t *testing.T, s store.Store, base time.Time) {
	stations := []string{
		`quote"d`,
		`it's`,
		`with space`,
		`comma,equals=`,
		`dollar${x}`,
		`北京-01`,
	}
	var rs []reading.Reading
	for i, st := range stations {
		rs = append(rs, Readings("point "+st, st, reading.Air, []string{"pm25"}, base.Add(time.Duration(i)*time.Millisecond), time.Minute, 3)...)
	}
	write(t, s, rs)
	for _, st := range stations {
		got := query(t, s, store.Query{Station: st, Metric: "pm25"})
		equalSamples(t, got, Samples(rs, st, "pm25"))
	}
	latest, err := s.Latest(t.Context())
	if err != nil {
		t.Fatalf("Latest: %v", err)
	}
	var want []reading.Latest
	for _, st := range stations {
		want = append(want, latestOf(rs, st, "pm25"))
	}
	equalLatest(t, latest, want)
}

// testValues checks that values survive exactly, however large or small.
func testValues(t *testing.T, s store.Store, base time.Time) {
	values := []float64{
		0, math.Copysign(0, -1), 1, -1, 7, 0.1, 1.0 / 3, -273.15, 1e21, -1e21,
		math.MaxFloat64, -math.MaxFloat64, math.SmallestNonzeroFloat64, 1e-300,
		math.MaxInt64, 1 << 53, 1<<53 + 2,
	}
	rs := make([]reading.Reading, len(values))
	for i, v := range values {
		rs[i] = reading.Reading{
			Point:   "p1",
			Station: "s1",
			Medium:  reading.Water,
			Time:    base.Add(time.Duration(i) * time.Second),
			Values:  []reading.Value{{Metric: "ph", Value: v}},
		}
	}
	write(t, s, rs)
	equalSamples(t, query(t, s, store.Query{Station: "s1", Metric: "ph"}), Samples(rs, "s1", "ph"))
}

// testQC checks that quality-control flags are kept with their values and
// replaced with them.
func testQC(t *testing.T, s store.Store, base time.Time) {
	rs := Readings("p1", "s1", reading.Air, []string{"pm25", "pm10", "rh"}, base, time.Minute, 4)
	rs[0].Values[0].QC = reading.FlagRange
	rs[1].Values[1].QC = reading.FlagSpike | reading.FlagStuck
	rs[2].Values[0].QC = reading.FlagSentinel
	rs[3].Values[0].QC = reading.FlagHumidity | reading.FlagFuture
	rs[3].Values[2].QC = reading.FlagRange | reading.FlagSentinel | reading.FlagStuck | reading.FlagSpike |
		reading.FlagFuture | reading.FlagPast | reading.FlagDuplicate | reading.FlagHumidity
	write(t, s, rs)
	// Rewritten: the flag of one value cleared, another set.
	again := Readings("p1", "s1", reading.Air, []string{"pm25", "pm10"}, base.Add(2*time.Minute), time.Minute, 1)
	again[0].Values[1].QC = reading.FlagDuplicate
	write(t, s, again)
	// Later, a point without rh or pm10 but with a flagged metric whose
	// name needs quoting: the newest rh and pm10 are now older than their
	// station's newest point, and keep their flags.
	odd := `odd "name", x=y`
	later := Readings("p1", "s1", reading.Air, []string{"pm25", odd}, base.Add(4*time.Minute), time.Minute, 1)
	later[0].Values[1].QC = reading.FlagStuck | reading.FlagDuplicate
	write(t, s, later)
	all := slices.Concat(rs, again, later)
	for _, m := range []string{"pm25", "pm10", "rh", odd} {
		equalSamples(t, query(t, s, store.Query{Station: "s1", Metric: m}), Samples(all, "s1", m))
	}
	equalSamples(t, query(t, s, store.Query{Station: "s1", Metric: "rh", Limit: 1}), Samples(rs[3:], "s1", "rh"))
	latest, err := s.Latest(t.Context())
	if err != nil {
		t.Fatalf("Latest: %v", err)
	}
	equalLatest(t, latest, []reading.Latest{latestOf(all, "s1", odd), latestOf(all, "s1", "pm10"), latestOf(all, "s1", "pm25"), latestOf(all, "s1", "rh")})
}

func testIdempotentRewrite(t *testing.T, s store.Store, base time.Time) {
	rs := Readings("p1", "s1", reading.Air, airMetrics, base, time.Minute, 50)
	write(t, s, rs)
	write(t, s, rs)
	write(t, s, rs[10:20])                   // a replayed part of the batch
	write(t, s, append(rs[:5:5], rs[:5]...)) // duplicates within a batch
	for _, m := range airMetrics {
		got := query(t, s, store.Query{Station: "s1", Metric: m})
		equalSamples(t, got, Samples(rs, "s1", m))
	}
	latest, err := s.Latest(t.Context())
	if err != nil {
		t.Fatalf("Latest: %v", err)
	}
	if len(latest) != len(airMetrics) {
		t.Errorf("Latest has %d values, want %d", len(latest), len(airMetrics))
	}
}

// testReplace checks that a rewrite with other values replaces them.
func testReplace(t *testing.T, s store.Store, base time.Time) {
	rs := Readings("p1", "s1", reading.Air, []string{"pm25", "pm10"}, base, time.Minute, 5)
	write(t, s, rs)
	again := Readings("p1", "s1", reading.Air, []string{"pm25"}, base, time.Minute, 5)
	for i := range again {
		again[i].Values[0].Value += 100
	}
	write(t, s, again)
	// Within one batch the last of two readings of the same time wins.
	first := Readings("p1", "s1", reading.Air, []string{"pm10"}, base, time.Minute, 2)
	last := Readings("p1", "s1", reading.Air, []string{"pm10"}, base, time.Minute, 2)
	for i := range last {
		last[i].Values[0].Value = -1
	}
	write(t, s, append(first, last...))
	rs = append(rs, last...)
	equalSamples(t, query(t, s, store.Query{Station: "s1", Metric: "pm25"}), Samples(again, "s1", "pm25"))
	equalSamples(t, query(t, s, store.Query{Station: "s1", Metric: "pm10"}), Samples(rs, "s1", "pm10"))
	latest, err := s.Latest(t.Context())
	if err != nil {
		t.Fatalf("Latest: %v", err)
	}
	equalLatest(t, latest, []reading.Latest{latestOf(rs, "s1", "pm10"), latestOf(again, "s1", "pm25")})
}

func testRange(t *testing.T, s store.Store, base time.Time) {
	const n = 10
	rs := Readings("p1", "s1", reading.Air, []string{"pm25"}, base, time.Minute, n)
	write(t, s, rs)
	all := Samples(rs, "s1", "pm25")
	at := func(i int) time.Time { return base.Add(time.Duration(i) * time.Minute) }

	tests := []struct {
		name     string
		from, to time.Time
		want     []reading.Sample
	}{
		{"unbounded", time.Time{}, time.Time{}, all},
		{"from inclusive", at(3), time.Time{}, all[3:]},
		{"to exclusive", time.Time{}, at(3), all[:3]},
		{"both", at(2), at(5), all[2:5]},
		{"between samples", at(2).Add(time.Nanosecond), at(5).Add(time.Nanosecond), all[3:6]},
		{"one nanosecond", at(4), at(4).Add(time.Nanosecond), all[4:5]},
		{"before all", at(-10), at(0), nil},
		{"after all", at(n), at(n + 10), nil},
		{"gap", at(1).Add(time.Nanosecond), at(2), nil},
		{"wide", at(-1e5), at(1e5), all},
		{"far past and future", time.Date(1900, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2200, 1, 1, 0, 0, 0, 0, time.UTC), all},
		{"other zone", at(2).In(time.FixedZone("UTC+8", 8*3600)), at(5).In(time.FixedZone("UTC-5", -5*3600)), all[2:5]},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := query(t, s, store.Query{Station: "s1", Metric: "pm25", From: tt.from, To: tt.to})
			equalSamples(t, got, tt.want)
		})
	}
}

func testLimit(t *testing.T, s store.Store, base time.Time) {
	const n = 20
	rs := Readings("p1", "s1", reading.Air, []string{"pm25"}, base, time.Minute, n)
	write(t, s, rs)
	all := Samples(rs, "s1", "pm25")
	at := func(i int) time.Time { return base.Add(time.Duration(i) * time.Minute) }

	tests := []struct {
		name     string
		from, to time.Time
		limit    int
		want     []reading.Sample
	}{
		{"default", time.Time{}, time.Time{}, 0, all},
		{"one", time.Time{}, time.Time{}, 1, all[n-1:]},
		{"newest kept", time.Time{}, time.Time{}, 5, all[n-5:]},
		{"exact", time.Time{}, time.Time{}, n, all},
		{"more than there are", time.Time{}, time.Time{}, n + 1, all},
		{"within range", at(2), at(10), 3, all[7:10]},
		{"max", time.Time{}, time.Time{}, store.MaxLimit, all},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := query(t, s, store.Query{Station: "s1", Metric: "pm25", From: tt.from, To: tt.to, Limit: tt.limit})
			equalSamples(t, got, tt.want)
		})
	}
}

// testOrder writes readings shuffled, in several batches, and expects them
// back oldest first.
func testOrder(t *testing.T, s store.Store, base time.Time) {
	rs := Readings("p1", "s1", reading.Air, airMetrics[:2], base, time.Second, 100)
	shuffled := slices.Clone(rs)
	rand.New(rand.NewPCG(1, 2)).Shuffle(len(shuffled), func(i, j int) {
		shuffled[i], shuffled[j] = shuffled[j], shuffled[i]
	})
	for chunk := range slices.Chunk(shuffled, 30) {
		write(t, s, chunk)
	}
	for _, m := range airMetrics[:2] {
		equalSamples(t, query(t, s, store.Query{Station: "s1", Metric: m}), Samples(rs, "s1", m))
		equalSamples(t, query(t, s, store.Query{Station: "s1", Metric: m, Limit: 10}), Samples(rs[90:], "s1", m))
	}
}

func testLatest(t *testing.T, s store.Store, base time.Time) {
	air1 := Readings("p1", "air-1", reading.Air, airMetrics, base, time.Minute, 10)
	// A later batch with only some metrics, newer than the first.
	air1b := Readings("p1", "air-1", reading.Air, airMetrics[:2], base.Add(time.Hour/2), time.Minute, 3)
	// A late batch older than what is stored: it must not become the latest.
	air1c := Readings("p1", "air-1", reading.Air, airMetrics, base.Add(-time.Hour), time.Minute, 3)
	air2 := Readings("p1", "air-2", reading.Air, airMetrics[2:4], base.Add(time.Second), time.Minute, 4)
	water := Readings("p2", "water-1", reading.Water, waterMetrics, base, time.Hour/4, 3)
	noise := Readings("p3", "noise-1", reading.Noise, noiseMetrics, base, time.Second, 1)
	write(t, s, air1)
	write(t, s, append(air1b, air2...))
	write(t, s, air1c)
	write(t, s, append(water, noise...))

	all := slices.Concat(air1, air1b, air1c, air2, water, noise)
	var want []reading.Latest
	for _, st := range []string{"air-1", "air-2", "water-1", "noise-1"} {
		for _, m := range slices.Concat(airMetrics, waterMetrics, noiseMetrics) {
			if l := latestOf(all, st, m); l.Station != "" {
				want = append(want, l)
			}
		}
	}
	got, err := s.Latest(t.Context())
	if err != nil {
		t.Fatalf("Latest: %v", err)
	}
	equalLatest(t, got, want)
}

func testBadQuery(t *testing.T, s store.Store, base time.Time) {
	write(t, s, Readings("p1", "s1", reading.Air, []string{"pm25"}, base, time.Minute, 3))
	tests := []struct {
		name string
		q    store.Query
	}{
		{"no station", store.Query{Metric: "pm25"}},
		{"no metric", store.Query{Station: "s1"}},
		{"from after to", store.Query{Station: "s1", Metric: "pm25", From: base.Add(time.Minute), To: base}},
		{"from equals to", store.Query{Station: "s1", Metric: "pm25", From: base, To: base}},
		{"negative limit", store.Query{Station: "s1", Metric: "pm25", Limit: -1}},
		{"limit over max", store.Query{Station: "s1", Metric: "pm25", Limit: store.MaxLimit + 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := s.Query(t.Context(), tt.q)
			if !errors.Is(err, store.ErrBadQuery) {
				t.Errorf("Query(%+v) = %v, %v; want an error wrapping store.ErrBadQuery", tt.q, got, err)
			}
		})
	}
}

// testBadReading checks that a batch with a reading no store can keep is
// rejected whole.
func testBadReading(t *testing.T, s store.Store, base time.Time) {
	good := reading.Reading{Point: "p1", Station: "s1", Medium: reading.Air, Time: base, Values: []reading.Value{{Metric: "pm25", Value: 1}}}
	tests := []struct {
		name string
		edit func(r *reading.Reading)
	}{
		{"no station", func(r *reading.Reading) { r.Station = "" }},
		{"no medium", func(r *reading.Reading) { r.Medium = "" }},
		{"no metric", func(r *reading.Reading) { r.Values[0].Metric = "" }},
		{"NaN", func(r *reading.Reading) { r.Values[0].Value = math.NaN() }},
		{"infinite", func(r *reading.Reading) { r.Values[0].Value = math.Inf(-1) }},
		{"zero time", func(r *reading.Reading) { r.Time = time.Time{} }},
		{"year 3000", func(r *reading.Reading) { r.Time = time.Date(3000, 1, 1, 0, 0, 0, 0, time.UTC) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			bad := good
			bad.Station = "bad-" + tt.name
			bad.Values = slices.Clone(good.Values)
			tt.edit(&bad)
			if err := s.Write(t.Context(), []reading.Reading{good, bad}); err == nil {
				t.Fatalf("Write of a reading with %s succeeded, want an error", tt.name)
			}
		})
	}
	if got := query(t, s, store.Query{Station: "s1", Metric: "pm25"}); len(got) != 0 {
		t.Errorf("the good readings of rejected batches were stored: %v", got)
	}
}

func testLargeBatch(t *testing.T, s store.Store, base time.Time) {
	const n = 5000
	var rs []reading.Reading
	for i := range 5 {
		st := fmt.Sprintf("s%d", i)
		rs = append(rs, Readings("p1", st, reading.Air, airMetrics, base.Add(-48*time.Hour), time.Second, n/5)...)
	}
	write(t, s, rs)
	for i := range 5 {
		st := fmt.Sprintf("s%d", i)
		got := query(t, s, store.Query{Station: st, Metric: "co"})
		equalSamples(t, got, Samples(rs, st, "co"))
	}
	latest, err := s.Latest(t.Context())
	if err != nil {
		t.Fatalf("Latest: %v", err)
	}
	if len(latest) != 5*len(airMetrics) {
		t.Errorf("Latest has %d values, want %d", len(latest), 5*len(airMetrics))
	}
}

// testConcurrent writes and reads from several goroutines at once.
func testConcurrent(t *testing.T, s store.Store, base time.Time) {
	const writers, batches = 4, 5
	ctx := t.Context()
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
		all  []reading.Reading
	)
	for w := range writers {
		st := fmt.Sprintf("s%d", w)
		wg.Go(func() {
			for b := range batches {
				rs := Readings("p1", st, reading.Air, airMetrics[:3], base.Add(time.Duration(b)*time.Hour), time.Second, 20)
				err := s.Write(ctx, rs)
				if err == nil {
					_, err = s.Query(ctx, store.Query{Station: st, Metric: airMetrics[0]})
				}
				if err == nil {
					_, err = s.Latest(ctx)
				}
				mu.Lock()
				errs = append(errs, err)
				all = append(all, rs...)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	for w := range writers {
		st := fmt.Sprintf("s%d", w)
		equalSamples(t, query(t, s, store.Query{Station: st, Metric: airMetrics[1]}), Samples(all, st, airMetrics[1]))
	}
}

func testCanceled(t *testing.T, s store.Store, base time.Time) {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	rs := Readings("p1", "s1", reading.Air, []string{"pm25"}, base, time.Minute, 3)
	if err := s.Write(ctx, rs); err == nil {
		t.Error("Write with a canceled context succeeded")
	}
	if _, err := s.Query(ctx, store.Query{Station: "s1", Metric: "pm25"}); err == nil {
		t.Error("Query with a canceled context succeeded")
	}
	if _, err := s.Latest(ctx); err == nil {
		t.Error("Latest with a canceled context succeeded")
	}
	// The store still works.
	write(t, s, rs)
	equalSamples(t, query(t, s, store.Query{Station: "s1", Metric: "pm25"}), Samples(rs, "s1", "pm25"))
}

func write(t *testing.T, s store.Store, rs []reading.Reading) {
	t.Helper()
	if err := s.Write(t.Context(), rs); err != nil {
		t.Fatalf("Write of %d readings: %v", len(rs), err)
	}
}

func query(t *testing.T, s store.Store, q store.Query) []reading.Sample {
	t.Helper()
	got, err := s.Query(t.Context(), q)
	if err != nil {
		t.Fatalf("Query(%+v): %v", q, err)
	}
	return got
}

// latestOf returns the newest value of metric of station in rs, or a zero
// Latest if there is none.
func latestOf(rs []reading.Reading, station, metric string) reading.Latest {
	var l reading.Latest
	for _, r := range rs {
		if r.Station != station || (l.Station != "" && r.Time.Before(l.Time)) {
			continue
		}
		for _, v := range r.Values {
			if v.Metric == metric {
				l = reading.Latest{Point: r.Point, Station: station, Medium: r.Medium, Metric: metric, Time: r.Time, Value: v.Value, QC: v.QC}
			}
		}
	}
	return l
}

func equalSamples(t *testing.T, got, want []reading.Sample) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("got %d samples, want %d\ngot:  %v\nwant: %v", len(got), len(want), brief(got), brief(want))
		return
	}
	for i := range got {
		g, w := got[i], want[i]
		if !g.Time.Equal(w.Time) || g.Value != w.Value || g.QC != w.QC {
			t.Errorf("sample %d = %v %v %v, want %v %v %v", i, g.Time, g.Value, g.QC, w.Time, w.Value, w.QC)
		}
	}
}

func equalLatest(t *testing.T, got, want []reading.Latest) {
	t.Helper()
	order := func(a, b reading.Latest) int {
		return cmp.Or(cmp.Compare(a.Station, b.Station), cmp.Compare(a.Metric, b.Metric))
	}
	got, want = slices.Clone(got), slices.Clone(want)
	slices.SortFunc(got, order)
	slices.SortFunc(want, order)
	if len(got) != len(want) {
		t.Errorf("Latest has %d values, want %d\ngot:  %+v\nwant: %+v", len(got), len(want), got, want)
		return
	}
	for i := range got {
		g, w := got[i], want[i]
		if g.Point != w.Point || g.Station != w.Station || g.Medium != w.Medium || g.Metric != w.Metric || !g.Time.Equal(w.Time) || g.Value != w.Value || g.QC != w.QC {
			t.Errorf("Latest[%d] = %+v, want %+v", i, g, w)
		}
	}
}

// brief shortens a long list of samples for a failure message.
func brief(s []reading.Sample) string {
	if len(s) <= 6 {
		return fmt.Sprint(s)
	}
	return fmt.Sprintf("%v ... %v", s[:3], s[len(s)-3:])
}

// BenchmarkWrite writes batches of 1000 readings (10 stations, six air
// metrics) to s, each batch later than the one before, and reports
// readings/s. Each implementation's BenchmarkWrite calls it.
func BenchmarkWrite(b *testing.B, s store.Store, base time.Time) {
	const batch = 1000
	metrics := []string{"pm25", "pm10", "o3", "no2", "so2", "co"}
	var written int
	for b.Loop() {
		var rs []reading.Reading
		for st := range 10 {
			rs = append(rs, Readings("p1", fmt.Sprintf("s%d", st), reading.Air, metrics,
				base.Add(time.Duration(written)*time.Second), time.Second, batch/10)...)
		}
		if err := s.Write(b.Context(), rs); err != nil {
			b.Fatal(err)
		}
		written += batch
	}
	b.ReportMetric(float64(written)/b.Elapsed().Seconds(), "readings/s")
}
