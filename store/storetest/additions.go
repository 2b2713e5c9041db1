package storetest

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
	"testing"
	"time"

	"github.com/envmon/envmon/reading"
	"github.com/envmon/envmon/store"
)

// The checks of the store.Scanner and store.Aggregator that Run runs; every
// store must implement both.

func scanner(t *testing.T, s store.Store) store.Scanner {
	t.Helper()
	sc, ok := s.(store.Scanner)
	if !ok {
		t.Fatalf("%T does not implement store.Scanner", s)
	}
	return sc
}

func aggregator(t *testing.T, s store.Store) store.Aggregator {
	t.Helper()
	a, ok := s.(store.Aggregator)
	if !ok {
		t.Fatalf("%T does not implement store.Aggregator", s)
	}
	return a
}

// scanFixture returns readings of several stations and media, with flagged
// values, metrics reported at different rates, names that need quoting and
// a station that moved to another point.
func scanFixture(base time.Time) []reading.Reading {
	var rs []reading.Reading
	air := Readings("p1", "air-1", reading.Air, []string{"pm25", "pm10", "o3"}, base, time.Minute, 30)
	air[3].Values[0].QC = reading.FlagRange
	air[7].Values[2].QC = reading.FlagSpike | reading.FlagStuck
	rs = append(rs, air...)
	// rh every 5 minutes, at the same times as some of the others.
	rs = append(rs, Readings("p1", "air-1", reading.Air, []string{"rh"}, base, 5*time.Minute, 6)...)
	rs = append(rs, Readings("p2", "water-1", reading.Water, []string{"ph", "do"}, base.Add(time.Second), 10*time.Minute, 3)...)
	noise := Readings("p3", "noise-1", reading.Noise, []string{"laeq", "lmax"}, base.Add(time.Millisecond), time.Second, 20)
	noise[19].Values[1].QC = reading.FlagDuplicate
	rs = append(rs, noise...)
	odd := Readings(`point "q"`, `quote"d, x=y ${z}`, reading.Air, []string{"pm25", `odd "name", x=y`}, base.Add(time.Nanosecond), time.Minute, 4)
	odd[1].Values[1].QC = reading.FlagHumidity
	rs = append(rs, odd...)
	// A station that moved: point pA for 5 readings, then pB.
	moved := Readings("pA", "mobile-1", reading.Air, []string{"pm25"}, base, 2*time.Minute, 10)
	for i := range moved[5:] {
		moved[5+i].Point = "pB"
	}
	rs = append(rs, moved...)
	return rs
}

// expectScan returns the readings of rs in [from, to) as Scan passes them:
// one per station, time, point and medium, values in metric order, by
// station and time. Of a value written twice the last wins.
func expectScan(rs []reading.Reading, from, to time.Time) []reading.Reading {
	type key struct {
		station, point string
		medium         reading.Medium
		ts             int64
	}
	vals := make(map[key]map[string]reading.Value)
	for _, r := range rs {
		if (!from.IsZero() && r.Time.Before(from)) || (!to.IsZero() && !r.Time.Before(to)) || len(r.Values) == 0 {
			continue
		}
		k := key{r.Station, r.Point, r.Medium, r.Time.UnixNano()}
		if vals[k] == nil {
			vals[k] = make(map[string]reading.Value)
		}
		for _, v := range r.Values {
			vals[k][v.Metric] = v
		}
	}
	out := make([]reading.Reading, 0, len(vals))
	for k, vs := range vals {
		r := reading.Reading{Point: k.point, Station: k.station, Medium: k.medium, Time: time.Unix(0, k.ts).UTC()}
		for _, m := range slices.Sorted(maps.Keys(vs)) {
			r.Values = append(r.Values, vs[m])
		}
		out = append(out, r)
	}
	slices.SortFunc(out, compareReadings)
	return out
}

func compareReadings(a, b reading.Reading) int {
	return cmp.Or(cmp.Compare(a.Station, b.Station), a.Time.Compare(b.Time),
		cmp.Compare(a.Point, b.Point), cmp.Compare(a.Medium, b.Medium))
}

// scanAll scans s and checks the order Scanner promises: one station at a
// time, each station's readings oldest first, never a reading without
// values.
func scanAll(t *testing.T, sc store.Scanner, from, to time.Time) []reading.Reading {
	t.Helper()
	var (
		got  []reading.Reading
		done = make(map[string]bool) // stations whose run has ended
	)
	err := sc.Scan(t.Context(), from, to, func(r reading.Reading) error {
		if len(r.Values) == 0 {
			t.Errorf("Scan passed a reading without values: %+v", r)
		}
		if n := len(got); n > 0 {
			prev := got[n-1]
			switch {
			case prev.Station != r.Station:
				done[prev.Station] = true
				if done[r.Station] {
					t.Errorf("Scan passed station %q again after other stations", r.Station)
				}
			case r.Time.Before(prev.Time):
				t.Errorf("Scan passed %q at %v after %v", r.Station, r.Time, prev.Time)
			}
		}
		got = append(got, r)
		return nil
	})
	if err != nil {
		t.Fatalf("Scan(%v, %v): %v", from, to, err)
	}
	return got
}

func equalReadings(t *testing.T, got, want []reading.Reading) {
	t.Helper()
	got = slices.Clone(got)
	slices.SortStableFunc(got, compareReadings)
	if len(got) != len(want) {
		t.Errorf("Scan passed %d readings, want %d\ngot:  %v\nwant: %v", len(got), len(want), briefReadings(got), briefReadings(want))
		return
	}
	bad := 0
	for i := range got {
		g, w := got[i], want[i]
		same := g.Station == w.Station && g.Point == w.Point && g.Medium == w.Medium && g.Time.Equal(w.Time) && len(g.Values) == len(w.Values)
		for j := 0; same && j < len(g.Values); j++ {
			same = g.Values[j] == w.Values[j]
		}
		if !same {
			if bad++; bad <= 5 {
				t.Errorf("reading %d = %+v, want %+v", i, g, w)
			}
		}
	}
	if bad > 5 {
		t.Errorf("... and %d more readings differ", bad-5)
	}
}

func briefReadings(rs []reading.Reading) string {
	if len(rs) <= 4 {
		return fmt.Sprintf("%+v", rs)
	}
	return fmt.Sprintf("%+v ... %+v", rs[:2], rs[len(rs)-2:])
}

func testScan(t *testing.T, s store.Store, base time.Time) {
	sc := scanner(t, s)
	rs := scanFixture(base)
	write(t, s, rs)
	at := func(d time.Duration) time.Time { return base.Add(d) }
	tests := []struct {
		name     string
		from, to time.Time
	}{
		{"unbounded", time.Time{}, time.Time{}},
		{"all", at(-time.Hour), at(time.Hour)},
		{"from inclusive", at(10 * time.Minute), time.Time{}},
		{"to exclusive", time.Time{}, at(10 * time.Minute)},
		{"both", at(5 * time.Minute), at(15 * time.Minute)},
		{"one nanosecond", at(0), at(time.Nanosecond)},
		{"between readings", at(30*time.Second + time.Millisecond), at(59 * time.Second)},
		{"before all", at(-time.Hour), at(-time.Minute)},
		{"after all", at(time.Hour), at(2 * time.Hour)},
		{"other zone", at(2 * time.Minute).In(time.FixedZone("UTC+8", 8*3600)), at(9 * time.Minute).In(time.FixedZone("UTC-5", -5*3600))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			equalReadings(t, scanAll(t, sc, tt.from, tt.to), expectScan(rs, tt.from, tt.to))
		})
	}

	t.Run("stops at fn's error", func(t *testing.T) {
		stop := errors.New("stop here")
		n := 0
		err := sc.Scan(t.Context(), time.Time{}, time.Time{}, func(reading.Reading) error {
			if n++; n == 3 {
				return stop
			}
			return nil
		})
		if err != stop {
			t.Errorf("Scan = %v, want fn's error as it is", err)
		}
		if n != 3 {
			t.Errorf("fn was called %d times, want 3: Scan went on after its error", n)
		}
	})
	t.Run("canceled", func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		if err := sc.Scan(ctx, time.Time{}, time.Time{}, func(reading.Reading) error { return nil }); err == nil {
			t.Error("Scan with a canceled context succeeded")
		}
	})
	t.Run("rewritten", func(t *testing.T) {
		// A rewrite replaces values and flags; Scan sees the new ones.
		again := Readings("p1", "air-1", reading.Air, []string{"pm25"}, base.Add(3*time.Minute), time.Minute, 1)
		again[0].Values[0].Value = -5
		write(t, s, again)
		all := slices.Concat(rs, again)
		from, to := at(time.Minute), at(5*time.Minute)
		equalReadings(t, scanAll(t, sc, from, to), expectScan(all, from, to))
	})
}

func testScanEmpty(t *testing.T, s store.Store, base time.Time) {
	n := 0
	if err := scanner(t, s).Scan(t.Context(), time.Time{}, time.Time{}, func(reading.Reading) error { n++; return nil }); err != nil {
		t.Fatalf("Scan of an empty store: %v", err)
	}
	if n != 0 {
		t.Errorf("Scan of an empty store passed %d readings", n)
	}
}

// testScanLarge scans 12,000 readings of 20 stations, more than one query's
// worth in any store, and aggregates one of them.
func testScanLarge(t *testing.T, s store.Store, base time.Time) {
	const stations, per = 20, 600
	var rs []reading.Reading
	for i := range stations {
		st := fmt.Sprintf("st%02d", i)
		part := Readings("p1", st, reading.Air, []string{"pm25", "pm10", "o3"}, base.Add(-10*time.Hour+time.Duration(i)*time.Millisecond), 5*time.Second, per)
		for j := range part {
			if (i+j)%97 == 0 {
				part[j].Values[j%3].QC = reading.FlagStuck
			}
		}
		rs = append(rs, part...)
	}
	for chunk := range slices.Chunk(rs, 2000) {
		write(t, s, chunk)
	}
	got := scanAll(t, scanner(t, s), time.Time{}, time.Time{})
	if len(got) < 10_000 {
		t.Fatalf("Scan passed %d readings, want %d", len(got), stations*per)
	}
	equalReadings(t, got, expectScan(rs, time.Time{}, time.Time{}))

	q := store.AggregateQuery{Station: "st07", Metric: "pm10", From: base.Add(-11 * time.Hour), To: base, Every: 7 * time.Minute, Fn: store.FnMean}
	equalBuckets(t, aggregate(t, aggregator(t, s), q), expectBuckets(rs, q))
}

// expectBuckets computes the buckets of q over rs by the definition, apart
// from the stores' code.
func expectBuckets(rs []reading.Reading, q store.AggregateQuery) []store.Bucket {
	samples := Samples(rs, q.Station, q.Metric)
	var out []store.Bucket
	for start := q.From; start.Before(q.To); start = start.Add(q.Every) {
		b := store.Bucket{Start: start, End: start.Add(q.Every)}
		if b.End.After(q.To) {
			b.End = q.To
		}
		var (
			sum    float64
			lastAt time.Time
		)
		for _, sm := range samples {
			if sm.Time.Before(b.Start) || !sm.Time.Before(b.End) {
				continue
			}
			if sm.QC != 0 {
				b.Flagged++
				continue
			}
			b.Count++
			switch q.Fn {
			case store.FnMean:
				sum += sm.Value
				b.Value = sum / float64(b.Count)
			case store.FnMin:
				if b.Count == 1 || sm.Value < b.Value {
					b.Value = sm.Value
				}
			case store.FnMax:
				if b.Count == 1 || sm.Value > b.Value {
					b.Value = sm.Value
				}
			case store.FnLast:
				if b.Count == 1 || sm.Time.After(lastAt) {
					b.Value, lastAt = sm.Value, sm.Time
				}
			}
		}
		out = append(out, b)
	}
	return out
}

func aggregate(t *testing.T, a store.Aggregator, q store.AggregateQuery) []store.Bucket {
	t.Helper()
	got, err := a.Aggregate(t.Context(), q)
	if err != nil {
		t.Fatalf("Aggregate(%+v): %v", q, err)
	}
	return got
}

// equalBuckets compares buckets; a mean may differ in its last bits, since
// stores add in different orders.
func equalBuckets(t *testing.T, got, want []store.Bucket) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("got %d buckets, want %d\ngot:  %+v\nwant: %+v", len(got), len(want), got, want)
		return
	}
	bad := 0
	for i := range got {
		g, w := got[i], want[i]
		same := g.Start.Equal(w.Start) && g.End.Equal(w.End) && g.Count == w.Count && g.Flagged == w.Flagged
		if w.Count > 0 && math.Abs(g.Value-w.Value) > 1e-9*math.Max(1, math.Abs(w.Value)) {
			same = false
		}
		if !same {
			if bad++; bad <= 5 {
				t.Errorf("bucket %d = %v..%v value %v count %d flagged %d, want %v..%v value %v count %d flagged %d",
					i, g.Start, g.End, g.Value, g.Count, g.Flagged, w.Start, w.End, w.Value, w.Count, w.Flagged)
			}
		}
	}
	if bad > 5 {
		t.Errorf("... and %d more buckets differ", bad-5)
	}
}

// aggregateFixture returns pm25 of s1 every 10 s for 20 minutes from base,
// some flagged, with neighbours that must not be counted: pm10 of s1, pm25
// of s2, and a flagged metric whose name holds "pm25" in quotes.
func aggregateFixture(base time.Time) []reading.Reading {
	trick := `x"pm25`
	rs := Readings("p1", "s1", reading.Air, []string{"pm25", "pm10", trick}, base, 10*time.Second, 120)
	for i := range rs {
		rs[i].Values[0].Value = float64((i*37)%50) - 10 // not monotonic, some negative
		rs[i].Values[2].QC = reading.FlagRange          // never pm25's flag
		switch {
		case i >= 30 && i < 36: // minute 5 of base: all flagged
			rs[i].Values[0].QC = reading.FlagSpike
		case i%7 == 0:
			rs[i].Values[0].QC = reading.FlagStuck
		}
	}
	rs = append(rs, Readings("p1", "s2", reading.Air, []string{"pm25"}, base, 10*time.Second, 120)...)
	// Around the Unix epoch, where times turn negative.
	old := Readings("p1", "s1", reading.Air, []string{"pm25"}, epoch.Add(-2*time.Minute+500), 13*time.Second, 20)
	for i := range old {
		if i%5 == 0 {
			old[i].Values[0].QC = reading.FlagPast
		}
	}
	return append(rs, old...)
}

var epoch = time.Unix(0, 0).UTC()

func testAggregate(t *testing.T, s store.Store, base time.Time) {
	a := aggregator(t, s)
	rs := aggregateFixture(base)
	write(t, s, rs)
	at := func(d time.Duration) time.Time { return base.Add(d) }
	q := func(from, to time.Time, every time.Duration, fn store.Fn) store.AggregateQuery {
		return store.AggregateQuery{Station: "s1", Metric: "pm25", From: from, To: to, Every: every, Fn: fn}
	}
	tests := []struct {
		name string
		q    store.AggregateQuery
	}{
		{"mean by minute", q(at(0), at(20*time.Minute), time.Minute, store.FnMean)},
		{"min by minute", q(at(0), at(20*time.Minute), time.Minute, store.FnMin)},
		{"max by minute", q(at(0), at(20*time.Minute), time.Minute, store.FnMax)},
		{"last by minute", q(at(0), at(20*time.Minute), time.Minute, store.FnLast)},
		{"one bucket", q(at(-time.Hour), at(time.Hour), 2*time.Hour, store.FnMean)},
		{"sample at a bucket's start", q(at(10*time.Second), at(70*time.Second), 20*time.Second, store.FnLast)},
		{"just after a sample", q(at(time.Nanosecond), at(60*time.Second+time.Nanosecond), 20*time.Second, store.FnMin)},
		{"last bucket cut short", q(at(-25*time.Second), at(13*time.Minute+5*time.Second), 3*time.Minute, store.FnMax)},
		{"odd every", q(at(-7*time.Second), at(19*time.Minute), 67*time.Second, store.FnMean)},
		{"only flagged", q(at(5*time.Minute), at(6*time.Minute), 30*time.Second, store.FnMean)},
		{"daily", q(at(-72*time.Hour), at(24*time.Hour), 24*time.Hour, store.FnLast)},
		{"no data", q(at(-3*time.Hour), at(-2*time.Hour), 10*time.Minute, store.FnMean)},
		{"other zone", q(at(0).In(time.FixedZone("UTC+8", 8*3600)), at(5*time.Minute), time.Minute, store.FnMax)},
		{"across the epoch", q(epoch.Add(-2*time.Minute-3*time.Second), epoch.Add(3*time.Minute), 7*time.Second, store.FnMean)},
		{"before the epoch", q(epoch.Add(-3*time.Minute), epoch, 11*time.Second, store.FnLast)},
		{"other station", store.AggregateQuery{Station: "s2", Metric: "pm25", From: at(0), To: at(20 * time.Minute), Every: 5 * time.Minute, Fn: store.FnMean}},
		{"no such station", store.AggregateQuery{Station: "nowhere", Metric: "pm25", From: at(0), To: at(time.Minute), Every: 30 * time.Second, Fn: store.FnMean}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := aggregate(t, a, tt.q)
			want := expectBuckets(rs, tt.q)
			equalBuckets(t, got, want)
			for _, b := range got {
				if b.Start.Location() != time.UTC || b.End.Location() != time.UTC {
					t.Errorf("bucket %v..%v is not in UTC", b.Start, b.End)
					break
				}
			}
		})
	}
	// The fixture itself: minute 5 is all flagged, so that case tests that.
	if b := expectBuckets(rs, tests[9].q); b[0].Count != 0 || b[0].Flagged == 0 {
		t.Fatalf("fixture: minute 5 is not all flagged: %+v", b)
	}
}

func testAggregateBadQuery(t *testing.T, s store.Store, base time.Time) {
	a := aggregator(t, s)
	write(t, s, Readings("p1", "s1", reading.Air, []string{"pm25"}, base, time.Minute, 3))
	ok := store.AggregateQuery{Station: "s1", Metric: "pm25", From: base, To: base.Add(time.Hour), Every: time.Minute, Fn: store.FnMean}
	edit := func(f func(q *store.AggregateQuery)) store.AggregateQuery { q := ok; f(&q); return q }
	tests := []struct {
		name string
		q    store.AggregateQuery
	}{
		{"no station", edit(func(q *store.AggregateQuery) { q.Station = "" })},
		{"no metric", edit(func(q *store.AggregateQuery) { q.Metric = "" })},
		{"no from", edit(func(q *store.AggregateQuery) { q.From = time.Time{} })},
		{"no to", edit(func(q *store.AggregateQuery) { q.To = time.Time{} })},
		{"from after to", edit(func(q *store.AggregateQuery) { q.From, q.To = q.To, q.From })},
		{"from equals to", edit(func(q *store.AggregateQuery) { q.To = q.From })},
		{"zero every", edit(func(q *store.AggregateQuery) { q.Every = 0 })},
		{"negative every", edit(func(q *store.AggregateQuery) { q.Every = -time.Minute })},
		{"no fn", edit(func(q *store.AggregateQuery) { q.Fn = "" })},
		{"unknown fn", edit(func(q *store.AggregateQuery) { q.Fn = "median" })},
		{"too many buckets", edit(func(q *store.AggregateQuery) {
			q.To = q.From.Add((store.MaxBuckets + 1) * time.Second)
			q.Every = time.Second
		})},
		{"one bucket too many", edit(func(q *store.AggregateQuery) {
			q.To = q.From.Add(store.MaxBuckets*time.Second + time.Nanosecond)
			q.Every = time.Second
		})},
		{"ten years by minute", edit(func(q *store.AggregateQuery) { q.From = q.To.AddDate(-10, 0, 0) })},
		{"year 3000", edit(func(q *store.AggregateQuery) {
			q.To = time.Date(3000, 1, 1, 0, 0, 0, 0, time.UTC)
			q.Every = 24 * time.Hour * 365
		})},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := a.Aggregate(t.Context(), tt.q)
			if !errors.Is(err, store.ErrBadQuery) {
				t.Errorf("Aggregate(%+v) = %d buckets, %v; want an error wrapping store.ErrBadQuery", tt.q, len(got), err)
			}
		})
	}
	t.Run("max buckets", func(t *testing.T) {
		q := edit(func(q *store.AggregateQuery) {
			q.To = q.From.Add(store.MaxBuckets * time.Second)
			q.Every = time.Second
		})
		got := aggregate(t, a, q)
		if len(got) != store.MaxBuckets {
			t.Errorf("got %d buckets, want %d", len(got), store.MaxBuckets)
		}
		equalBuckets(t, got, expectBuckets(Readings("p1", "s1", reading.Air, []string{"pm25"}, base, time.Minute, 3), q))
	})
	t.Run("canceled", func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		if _, err := a.Aggregate(ctx, ok); err == nil {
			t.Error("Aggregate with a canceled context succeeded")
		}
	})
}

// BenchmarkScan writes 100 stations' readings of six metrics, 600 each
// (360,000 values), to s once, then scans them all, and reports values/s.
// Each implementation's BenchmarkScan calls it.
func BenchmarkScan(b *testing.B, s store.Store, base time.Time) {
	const stations, per = 100, 600
	metrics := []string{"pm25", "pm10", "o3", "no2", "so2", "co"}
	for st := range stations {
		rs := Readings("p1", fmt.Sprintf("s%03d", st), reading.Air, metrics, base, time.Minute, per)
		if err := s.Write(b.Context(), rs); err != nil {
			b.Fatal(err)
		}
	}
	sc, ok := s.(store.Scanner)
	if !ok {
		b.Fatalf("%T does not implement store.Scanner", s)
	}
	var values int
	for b.Loop() {
		err := sc.Scan(b.Context(), time.Time{}, time.Time{}, func(r reading.Reading) error {
			values += len(r.Values)
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	if want := b.N * stations * per * len(metrics); values != want {
		b.Fatalf("scanned %d values, want %d", values, want)
	}
	b.ReportMetric(float64(values)/b.Elapsed().Seconds(), "values/s")
}
