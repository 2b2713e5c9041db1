package windows

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"math/bits"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/envmon/envmon/quality"
	"github.com/envmon/envmon/reading"
)

var discard = slog.New(slog.DiscardHandler)

var shanghai = mustZone("Asia/Shanghai")

func mustZone(name string) *time.Location {
	l, err := time.LoadLocation(name)
	if err != nil {
		panic(err)
	}
	return l
}

// fixedClock is a controllable clock.
type fixedClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fixedClock) Now() time.Time  { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fixedClock) Set(t time.Time) { c.mu.Lock(); c.t = t; c.mu.Unlock() }

func newWindows(t testing.TB, now time.Time) (*Windows, *fixedClock) {
	t.Helper()
	c := &fixedClock{t: now}
	w, err := New(Config{Now: c.Now, Logger: discard})
	if err != nil {
		t.Fatal(err)
	}
	return w, c
}

func near(a, b float64) bool { return math.Abs(a-b) <= 1e-6*math.Max(1, math.Abs(b)) }

// TestAgainstQuality feeds random minute data with holes and flagged
// values, out of order and twice, and checks every hourly, 8 h, 24 h and
// daily mean against quality's functions applied to the clean samples.
func TestAgainstQuality(t *testing.T) {
	for seed := range uint64(8) {
		rnd := rand.New(rand.NewPCG(seed, 1))
		day := time.Date(2026, 3, 1, 0, 0, 0, 0, shanghai)
		const hours = 72
		w, _ := newWindows(t, day.Add(hours*time.Hour))
		var rs []reading.Reading
		var clean []quality.Sample
		for h := range hours {
			// Some hours are nearly full, some around the 45-minute edge.
			keep := []float64{1, 0.9, 0.76, 0.74, 0.5, 0}[rnd.IntN(6)]
			for m := range 60 {
				at := day.Add(time.Duration(h)*time.Hour + time.Duration(m)*time.Minute + time.Duration(rnd.IntN(60))*time.Second)
				if rnd.Float64() >= keep {
					continue
				}
				v := math.Round(rnd.Float64()*2000) / 10
				var qc reading.Flags
				if rnd.IntN(20) == 0 {
					qc = reading.FlagSpike
				} else {
					clean = append(clean, quality.Sample{Time: at, Value: v})
				}
				rs = append(rs, one("Q", "pm25", at, v, qc))
			}
		}
		rnd.Shuffle(len(rs), func(i, j int) { rs[i], rs[j] = rs[j], rs[i] })
		for range 2 {
			for _, r := range rs {
				w.Add(r, shanghai)
			}
		}
		want, err := quality.HourlyMeans(clean, day, hours, time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		for x := range hours {
			end := day.Add(time.Duration(x+1) * time.Hour)
			h, ok := w.Hour("Q", "pm25", end)
			if !ok || h.Valid != want[x].Valid || (h.Valid && !near(h.Mean, want[x].Value)) {
				t.Fatalf("seed %d hour %d: got %+v, quality %+v", seed, x, h, want[x])
			}
			for _, c := range []struct {
				n int
				m quality.Mean
			}{{8, quality.Mean8h(want, x)}, {24, quality.Mean24h(want, x)}} {
				got, ok := w.Moving("Q", "pm25", c.n, end)
				if !ok || got.Valid != c.m.Valid || (got.Valid && !near(got.Value, c.m.Value)) {
					t.Fatalf("seed %d %dh at hour %d: got %+v, quality %+v", seed, c.n, x, got, c.m)
				}
			}
		}
		for d := range hours / 24 {
			got, _ := w.Daily("Q", "pm25", day.AddDate(0, 0, d))
			part := want[24*d : 24*d+24]
			for _, c := range []struct {
				name      string
				got, want quality.Mean
			}{
				{"mean", quality.Mean{Value: got.Mean.Value, Valid: got.Mean.Valid}, quality.DailyMean(part)},
				{"max8h", quality.Mean{Value: got.Max8h.Value, Valid: got.Max8h.Valid}, quality.DailyMax8h(part)},
				{"max1h", quality.Mean{Value: got.Max1h.Value, Valid: got.Max1h.Valid}, quality.DailyMax1h(part)},
			} {
				if c.got.Valid != c.want.Valid || (c.got.Valid && !near(c.got.Value, c.want.Value)) {
					t.Fatalf("seed %d day %d %s: got %+v, quality %+v", seed, d, c.name, c.got, c.want)
				}
			}
		}
	}
}

// TestFiveMinuteCoverage checks that a station publishing every 5 minutes
// with at most one sample missing per hour gets quality's validity with a
// 5-minute sampling interval.
func TestFiveMinuteCoverage(t *testing.T) {
	day := time.Date(2026, 3, 1, 0, 0, 0, 0, shanghai)
	w, _ := newWindows(t, day.Add(48*time.Hour))
	rnd := rand.New(rand.NewPCG(3, 3))
	var clean []quality.Sample
	for h := range 24 {
		missing := []int{-1, rnd.IntN(12)}[h%2]
		for k := range 12 {
			if k == missing {
				continue
			}
			at := day.Add(time.Duration(h)*time.Hour + time.Duration(5*k)*time.Minute + 10*time.Second)
			v := float64(rnd.IntN(100))
			clean = append(clean, quality.Sample{Time: at, Value: v})
			w.Add(one("F", "pm25", at, v, 0), nil)
		}
	}
	want, err := quality.HourlyMeans(clean, day, 24, 5*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	for x := range 24 {
		h, _ := w.Hour("F", "pm25", day.Add(time.Duration(x+1)*time.Hour))
		if h.Valid != want[x].Valid || !near(h.Mean, want[x].Value) {
			t.Errorf("hour %d: got %+v, quality %+v", x, h, want[x])
		}
	}
}

func TestCoverage(t *testing.T) {
	every := func(step, from, to int) uint64 {
		var b uint64
		for m := from; m < to; m += step {
			b |= 1 << m
		}
		return b
	}
	for _, c := range []struct {
		name string
		set  uint64
		gap  int
		want int
	}{
		{"empty", 0, 15, 0},
		{"one sample", 1 << 30, 15, 1},
		{"every minute", every(1, 0, 60), 15, 60},
		{"44 minutes", every(1, 16, 60), 15, 44},
		{"hole of 20 in minute data", every(1, 0, 20) | every(1, 40, 60), 15, 40},
		{"every 5 minutes", every(5, 0, 60), 15, 60},
		{"every 5 minutes, one missing", every(5, 0, 60) &^ (1 << 25), 15, 55},
		{"every 15 minutes", every(15, 0, 60), 15, 60},
		{"every 15 minutes, capped at 10", every(15, 0, 60), 10, 40},
		{"every 20 minutes", every(20, 0, 60), 15, 45},
		{"5-minute data with one extra sample", every(5, 0, 60) | 1<<31, 15, 60},
		{"tie between 1 and 2 takes 1", 1<<0 | 1<<1 | 1<<3, 15, 3},
		{"bits above 59 ignored", every(1, 0, 60) | 1<<63, 15, 60},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := coverage(c.set, c.gap); got != c.want {
				t.Errorf("coverage = %d, want %d", got, c.want)
			}
		})
	}
}

func TestStats(t *testing.T) {
	now := time.Date(2026, 3, 5, 12, 0, 0, 0, shanghai)
	for _, c := range []struct {
		name string
		rs   []reading.Reading
		want Stats
	}{
		{"counted once", []reading.Reading{one("A", "pm25", now.Add(-time.Hour), 1, 0), one("A", "pm25", now.Add(-time.Hour), 1, 0)},
			Stats{Counted: 1, Duplicates: 1, Stations: 1, Series: 1}},
		{"same minute, other second", []reading.Reading{one("A", "pm25", now.Add(-time.Hour), 1, 0), one("A", "pm25", now.Add(-time.Hour+time.Second), 2, 0)},
			Stats{Counted: 1, Duplicates: 1, Stations: 1, Series: 1}},
		{"flagged apart", []reading.Reading{one("A", "pm25", now, 1, reading.FlagRange), one("A", "pm25", now, 1, 0)},
			Stats{Counted: 1, Flagged: 1, Stations: 1, Series: 1}},
		{"older than retention", []reading.Reading{one("A", "pm25", now.Add(-72*time.Hour-time.Second), 1, 0)},
			Stats{TooOld: 1}},
		{"at the retention edge", []reading.Reading{one("A", "pm25", now.Add(-72*time.Hour), 1, 0)},
			Stats{Counted: 1, Stations: 1, Series: 1}},
		{"too far ahead", []reading.Reading{one("A", "pm25", now.Add(time.Hour+time.Second), 1, 0)},
			Stats{TooNew: 1}},
		{"invalid", []reading.Reading{one("A", "pm25", now, math.NaN(), 0), one("", "pm25", now, 1, 0), one("A", "", now, 1, 0), one("A", "laeq", now, 1e6, 0)},
			Stats{Invalid: 4, Stations: 1, Series: 2}},
	} {
		t.Run(c.name, func(t *testing.T) {
			w, _ := newWindows(t, now)
			for _, r := range c.rs {
				w.Add(r, nil)
			}
			if got := w.Stats(); got != c.want {
				t.Errorf("stats = %+v, want %+v", got, c.want)
			}
		})
	}
}

func TestConfigValidate(t *testing.T) {
	for _, c := range []struct {
		cfg  Config
		want string
	}{
		{Config{}, ""},
		{Config{Retention: 96 * time.Hour, MaxGap: 5 * time.Minute}, ""},
		{Config{Retention: 48 * time.Hour}, "windows.retention: 48h0m0s is below the minimum 72h0m0s"},
		{Config{MaxFuture: -time.Second}, "windows.max_future: -1s is negative"},
		{Config{MaxGap: 2 * time.Hour}, "windows.max_gap: 2h0m0s is outside 1m-1h"},
	} {
		err := c.cfg.Validate()
		if got := ""; err != nil {
			got = err.Error()
			if got != c.want {
				t.Errorf("Validate(%+v) = %q, want %q", c.cfg, got, c.want)
			}
		} else if c.want != "" {
			t.Errorf("Validate(%+v) = nil, want %q", c.cfg, c.want)
		}
		if _, err := New(c.cfg); (err == nil) != (c.want == "") {
			t.Errorf("New(%+v) error = %v", c.cfg, err)
		}
	}
}

// TestRetentionMovesOn checks that hours drop out as the clock and the ring
// move on, and that Prune drops silent series.
func TestRetentionMovesOn(t *testing.T) {
	start := time.Date(2026, 3, 1, 0, 0, 0, 0, shanghai)
	w, clk := newWindows(t, start)
	for m := range 60 {
		w.Add(one("A", "pm25", start.Add(time.Duration(m)*time.Minute), 5, 0), nil)
		w.Add(one("B", "pm25", start.Add(time.Duration(m)*time.Minute), 5, 0), nil)
	}
	first := start.Add(time.Hour)
	if h, _ := w.Hour("A", "pm25", first); !h.Valid {
		t.Fatalf("first hour: %+v", h)
	}
	// Station A keeps reporting for 80 hours; its first hour leaves the ring.
	for h := 1; h <= 80; h++ {
		at := start.Add(time.Duration(h) * time.Hour)
		clk.Set(at)
		w.Add(one("A", "pm25", at, 5, 0), nil)
	}
	if h, _ := w.Hour("A", "pm25", first); h.Reason != ReasonRetention || h.Samples != 0 {
		t.Errorf("first hour after 80 h: %+v", h)
	}
	if n := w.Prune(); n != 1 {
		t.Errorf("Prune dropped %d series, want 1 (B's)", n)
	}
	if _, ok := w.Hour("B", "pm25", first); ok {
		t.Error("station B still held after Prune")
	}
	if s := w.Stats(); s.Stations != 1 || s.Series != 1 {
		t.Errorf("stats after prune: %+v", s)
	}
}

func TestSubscribe(t *testing.T) {
	now := time.Date(2026, 3, 2, 12, 0, 0, 0, shanghai)
	w, _ := newWindows(t, now)
	var got []Change
	cancel := w.Subscribe(func(c Change) {
		// A subscriber may query: Add holds no lock now.
		if _, ok := w.Hour(c.Station, c.Metric, c.Hour.End); !ok {
			t.Error("hour not found from subscriber")
		}
		got = append(got, c)
	})
	at := now.Add(-90 * time.Minute)
	r := reading.Reading{Station: "S", Time: at, Values: []reading.Value{{Metric: "pm25", Value: 10}, {Metric: "o3", Value: 3, QC: reading.FlagStuck}}}
	w.Add(r, nil)
	w.Add(r, nil) // a replay changes nothing and tells nobody
	if len(got) != 2 || got[0].Metric != "pm25" || got[1].Metric != "o3" || got[1].Hour.Flagged != 1 {
		t.Fatalf("changes = %+v", got)
	}
	if want := time.Date(2026, 3, 2, 11, 0, 0, 0, shanghai); !got[0].Hour.End.Equal(want) || got[0].Hour.Samples != 1 {
		t.Errorf("change hour = %+v, want the hour ending %v", got[0].Hour, want)
	}
	scan := ScanFunc(func(ctx context.Context, from, to time.Time, fn func(reading.Reading) error) error {
		return fn(one("S", "pm25", at.Add(time.Minute), 11, 0))
	})
	if err := w.Rebuild(context.Background(), scan); err != nil {
		t.Fatal(err)
	}
	cancel()
	w.Add(one("S", "pm25", at.Add(2*time.Minute), 12, 0), nil)
	if len(got) != 2 {
		t.Errorf("notified after Rebuild or cancel: %+v", got[2:])
	}
	if h, _ := w.Hour("S", "pm25", at); h.Samples != 3 {
		t.Errorf("hour after rebuild and add: %+v", h)
	}
}

func TestRebuildErrors(t *testing.T) {
	w, _ := newWindows(t, time.Now())
	boom := errors.New("boom")
	err := w.Rebuild(context.Background(), ScanFunc(func(context.Context, time.Time, time.Time, func(reading.Reading) error) error { return boom }))
	if !errors.Is(err, boom) {
		t.Errorf("scan error: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err = w.Rebuild(ctx, ScanFunc(func(ctx context.Context, _, _ time.Time, fn func(reading.Reading) error) error {
		for i := 0; ; i++ {
			if err := fn(one("S", "pm25", time.Now().Add(-time.Duration(i)*time.Second), 1, 0)); err != nil {
				return err
			}
		}
	}))
	if !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled rebuild: %v", err)
	}
}

// TestConcurrentAdd feeds stations from several goroutines at once, with
// queries alongside, and checks the result equals sequential feeding.
func TestConcurrentAdd(t *testing.T) {
	now := time.Date(2026, 3, 3, 0, 0, 0, 0, shanghai)
	var rs []reading.Reading
	for s := range 20 {
		for m := range 600 {
			at := now.Add(-time.Duration(m) * time.Minute)
			rs = append(rs, one(string(rune('A'+s)), "pm25", at, float64(m%50), reading.Flags(m%7/6)))
		}
	}
	seq, _ := newWindows(t, now)
	for _, r := range rs {
		seq.Add(r, nil)
	}
	par, _ := newWindows(t, now)
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := g; i < len(rs); i += 4 {
				par.Add(rs[i], nil)
				par.Moving(rs[i].Station, "pm25", 8, now)
			}
		})
	}
	wg.Wait()
	for s := range 20 {
		st := string(rune('A' + s))
		a := seq.Hourly(st, "pm25", now.Add(-12*time.Hour), now)
		b := par.Hourly(st, "pm25", now.Add(-12*time.Hour), now)
		if len(a) != 12 || len(a) != len(b) {
			t.Fatalf("%s: %d and %d hours", st, len(a), len(b))
		}
		for i := range a {
			if !sameHour(a[i], b[i]) {
				t.Errorf("%s hour %d: sequential %+v, concurrent %+v", st, i, a[i], b[i])
			}
		}
	}
}

// sameHour compares hours field by field; time.Time values are compared
// with Equal, since two Windows load their default zone apart.
func sameHour(a, b Hour) bool {
	if !a.Start.Equal(b.Start) || !a.End.Equal(b.End) {
		return false
	}
	a.Start, a.End, b.Start, b.End = time.Time{}, time.Time{}, time.Time{}, time.Time{}
	return a == b
}

func TestCoverageOfLossyMinuteData(t *testing.T) {
	// A 1-minute station that lost every other sample but one run: 29
	// samples, gaps of 2 outnumbering gaps of 1, must not count as 2-minute
	// data.
	var set uint64
	for m := 0; m < 40; m += 2 {
		set |= 1 << m
	}
	for m := 40; m < 49; m++ {
		set |= 1 << m
	}
	if got := coverage(set, 15); got != 29 {
		t.Errorf("coverage = %d, want 29", got)
	}
}

// coverageRef is coverage as first written: the sum, gap by gap, of the
// minutes each sample covers.
func coverageRef(set uint64, maxGap int) int {
	set &= 1<<60 - 1
	if set == 0 {
		return 0
	}
	var counts [61]uint8
	gaps, prev := 0, -1
	for s := set; s != 0; s &= s - 1 {
		m := bits.TrailingZeros64(s)
		if prev >= 0 {
			counts[m-prev]++
			gaps++
		}
		prev = m
	}
	span, smallest := 0, 0
	for g := 1; g <= 60 && span == 0; g++ {
		if counts[g] == 0 {
			continue
		}
		if smallest == 0 {
			smallest = g
		}
		if 4*int(counts[g]) >= gaps {
			span = g
		}
	}
	if span == 0 {
		span = max(smallest, 1)
	}
	span = min(span, maxGap)
	cov := 0
	prev = -1
	for s := set; s != 0; s &= s - 1 {
		m := bits.TrailingZeros64(s)
		if prev >= 0 {
			cov += min(m-prev, span)
		}
		prev = m
	}
	return cov + min(60-prev, span)
}

// TestCoverageAgainstRef checks coverage against coverageRef on every set
// of up to three minutes, on regular sampling with holes, and on random
// sets of every density.
func TestCoverageAgainstRef(t *testing.T) {
	check := func(set uint64) {
		t.Helper()
		for _, gap := range []int{1, 2, 5, 15, 60} {
			if got, want := coverage(set, gap), coverageRef(set, gap); got != want {
				t.Fatalf("coverage(%#x, %d) = %d, want %d", set, gap, got, want)
			}
		}
	}
	check(0)
	check(^uint64(0))
	for a := range 64 {
		for b := a; b < 64; b++ {
			for c := b; c < 64; c++ {
				check(1<<a | 1<<b | 1<<c)
			}
		}
	}
	for step := 1; step <= 30; step++ {
		for off := range step {
			var set uint64
			for m := off; m < 60; m += step {
				set |= 1 << m
			}
			check(set)
			for hole := range 60 {
				check(set &^ (1<<hole | 1<<((hole*7)%60)))
			}
		}
	}
	rnd := rand.New(rand.NewPCG(3, 5))
	for range 200_000 {
		set := rnd.Uint64()
		for range rnd.IntN(4) {
			if rnd.IntN(2) == 0 {
				set &= rnd.Uint64()
			} else {
				set |= rnd.Uint64()
			}
		}
		check(set)
	}
}

// TestChangesAreTheHours checks that every change a subscriber hears of
// is the hour as a query then returns it, over random readings with
// flagged, invalid, duplicate and late values, in zones with a half-hour
// offset and with summer time.
func TestChangesAreTheHours(t *testing.T) {
	for _, zone := range []string{"Asia/Shanghai", "Asia/Kolkata", "Europe/Berlin"} {
		loc := mustZone(zone)
		// A day across the change to summer time in Berlin.
		start := time.Date(2026, 3, 28, 12, 0, 0, 0, loc)
		w, clk := newWindows(t, start)
		var changes []Change
		cancel := w.Subscribe(func(c Change) { changes = append(changes, c) })
		rnd := rand.New(rand.NewPCG(7, uint64(len(zone))))
		metrics := []string{"pm25", "o3", "laeq", "temp", "co"}
		n := 0
		for m := range 36 * 60 {
			now := start.Add(time.Duration(m) * time.Minute)
			clk.Set(now)
			if rnd.IntN(3) == 0 {
				continue
			}
			at := now
			if rnd.IntN(10) == 0 {
				at = now.Add(-time.Duration(rnd.IntN(180)) * time.Minute) // late
			}
			r := reading.Reading{Station: fmt.Sprintf("S%d", rnd.IntN(3)), Time: at}
			for _, i := range rnd.Perm(len(metrics))[:1+rnd.IntN(len(metrics))] {
				v := reading.Value{Metric: metrics[i], Value: 40 + 30*rnd.Float64()}
				switch rnd.IntN(12) {
				case 0:
					v.QC = reading.FlagSpike
				case 1:
					v.Value = math.NaN()
				}
				r.Values = append(r.Values, v)
			}
			changes = changes[:0]
			w.Add(r, loc)
			for _, c := range changes {
				n++
				h, ok := w.Hour(c.Station, c.Metric, c.Hour.End)
				if !ok || h != c.Hour {
					t.Fatalf("%s: change %+v, but the hour is %+v", zone, c, h)
				}
			}
		}
		cancel()
		if n < 1000 {
			t.Fatalf("%s: only %d changes", zone, n)
		}
	}
}
