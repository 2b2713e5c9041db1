package windows

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/envmon/envmon/reading"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// A golden case is a folder testdata/<case>/ holding:
//
//	input.txt     the clock, the stations' zones and the readings
//	queries.txt   the queries to answer
//	expected.txt  the answers
//
// input.txt lines (# starts a comment):
//
//	now TIME
//	zone STATION ZONE
//	r STATION METRIC TIME VALUE [FLAG,...]
//	gen STATION METRIC START STEP COUNT V0 [DV [FLAG,...]]   COUNT readings V0+i·DV
//	skip STATION METRIC FROM TO      drop the generated readings in [FROM, TO)
//	late STATION METRIC FROM TO      feed the readings in [FROM, TO) last
//
// queries.txt lines:
//
//	hour STATION METRIC END
//	hourly STATION METRIC FROM TO
//	moving STATION METRIC HOURS AT
//	daily STATION METRIC DAY
//
// Every case is fed four ways that must give the same answers: in the
// file's order (late readings last), with minutes shuffled (the order
// inside one station, metric and minute kept, as documented), twice over,
// and through Rebuild from a scan.
type goldenCase struct {
	now   time.Time
	zones map[string]*time.Location
	rs    []reading.Reading
}

func TestGolden(t *testing.T) {
	dirs, err := filepath.Glob("testdata/*/input.txt")
	if err != nil || len(dirs) == 0 {
		t.Fatalf("no golden cases: %v", err)
	}
	for _, in := range dirs {
		dir := filepath.Dir(in)
		t.Run(filepath.Base(dir), func(t *testing.T) {
			t.Parallel()
			gc := parseInput(t, in)
			queries := readLines(t, filepath.Join(dir, "queries.txt"))
			feeds := map[string]func(*Windows){
				"order": func(w *Windows) { gc.feed(w, gc.rs) },
				"shuffled": func(w *Windows) {
					gc.feed(w, shuffleMinutes(gc.rs, 1))
				},
				"replayed": func(w *Windows) {
					gc.feed(w, gc.rs)
					gc.feed(w, shuffleMinutes(gc.rs, 2))
				},
				"rebuilt": func(w *Windows) {
					scan := ScanFunc(func(ctx context.Context, from, to time.Time, fn func(reading.Reading) error) error {
						for _, r := range gc.rs {
							if !r.Time.Before(from) && r.Time.Before(to) {
								if err := fn(r); err != nil {
									return err
								}
							}
						}
						return nil
					})
					if err := w.Rebuild(context.Background(), scan); err != nil {
						t.Fatal(err)
					}
				},
			}
			var want string
			if b, err := os.ReadFile(filepath.Join(dir, "expected.txt")); err == nil {
				want = string(b)
			} else if !*update {
				t.Fatal(err)
			}
			for _, mode := range []string{"order", "shuffled", "replayed", "rebuilt"} {
				w := gc.windows(t)
				feeds[mode](w)
				got := answer(t, w, queries)
				if mode == "order" && *update {
					if err := os.WriteFile(filepath.Join(dir, "expected.txt"), []byte(got), 0o644); err != nil {
						t.Fatal(err)
					}
					want = got
				}
				if got != want {
					t.Errorf("%s: answers differ from expected.txt:\n%s", mode, diff(want, got))
				}
			}
		})
	}
}

func (gc *goldenCase) windows(t *testing.T) *Windows {
	t.Helper()
	w, err := New(Config{
		Now:      func() time.Time { return gc.now },
		Logger:   discard,
		Location: func(st string) *time.Location { return gc.zones[st] },
	})
	if err != nil {
		t.Fatal(err)
	}
	return w
}

func (gc *goldenCase) feed(w *Windows, rs []reading.Reading) {
	for _, r := range rs {
		w.Add(r, gc.zones[r.Station])
	}
}

// shuffleMinutes returns rs in a random order of (station, metric, minute)
// groups, keeping the order inside each group.
func shuffleMinutes(rs []reading.Reading, seed uint64) []reading.Reading {
	type key struct {
		st, m string
		min   int64
	}
	groups := map[key][]reading.Reading{}
	var keys []key
	for _, r := range rs {
		k := key{r.Station, r.Values[0].Metric, r.Time.Unix() / 60}
		if _, ok := groups[k]; !ok {
			keys = append(keys, k)
		}
		groups[k] = append(groups[k], r)
	}
	rnd := rand.New(rand.NewPCG(seed, 7))
	rnd.Shuffle(len(keys), func(i, j int) { keys[i], keys[j] = keys[j], keys[i] })
	out := make([]reading.Reading, 0, len(rs))
	for _, k := range keys {
		out = append(out, groups[k]...)
	}
	return out
}

func readLines(t *testing.T, path string) [][]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out [][]string
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line, _, _ := strings.Cut(sc.Text(), "#")
		if fs := strings.Fields(line); len(fs) > 0 {
			out = append(out, append([]string{path + ":" + strconv.Itoa(n)}, fs...))
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func mustTime(t *testing.T, where, s string) time.Time {
	t.Helper()
	v, err := time.Parse(time.RFC3339, s)
	if err != nil {
		t.Fatalf("%s: %v", where, err)
	}
	return v
}

func mustFloat(t *testing.T, where, s string) float64 {
	t.Helper()
	v, err := strconv.ParseFloat(s, 64)
	if err != nil {
		t.Fatalf("%s: %v", where, err)
	}
	return v
}

func mustFlags(t *testing.T, where, s string) reading.Flags {
	t.Helper()
	var f reading.Flags
	for n := range strings.SplitSeq(s, ",") {
		b, err := reading.ParseFlag(n)
		if err != nil {
			t.Fatalf("%s: %v", where, err)
		}
		f |= b
	}
	return f
}

func one(st, metric string, at time.Time, v float64, qc reading.Flags) reading.Reading {
	return reading.Reading{Station: st, Medium: reading.Air, Time: at,
		Values: []reading.Value{{Metric: metric, Value: v, QC: qc}}}
}

func parseInput(t *testing.T, path string) *goldenCase {
	t.Helper()
	gc := &goldenCase{zones: map[string]*time.Location{}}
	var late []reading.Reading
	for _, l := range readLines(t, path) {
		where, f := l[0], l[1:]
		arg := func(i int) string {
			if i >= len(f) {
				t.Fatalf("%s: %s needs more fields", where, f[0])
			}
			return f[i]
		}
		switch f[0] {
		case "now":
			gc.now = mustTime(t, where, arg(1))
		case "zone":
			loc, err := time.LoadLocation(arg(2))
			if err != nil {
				t.Fatalf("%s: %v", where, err)
			}
			gc.zones[arg(1)] = loc
		case "r":
			var qc reading.Flags
			if len(f) > 5 {
				qc = mustFlags(t, where, f[5])
			}
			gc.rs = append(gc.rs, one(arg(1), arg(2), mustTime(t, where, arg(3)), mustFloat(t, where, arg(4)), qc))
		case "gen":
			start := mustTime(t, where, arg(3))
			step, err := time.ParseDuration(arg(4))
			if err != nil {
				t.Fatalf("%s: %v", where, err)
			}
			n, err := strconv.Atoi(arg(5))
			if err != nil {
				t.Fatalf("%s: %v", where, err)
			}
			v0, dv := mustFloat(t, where, arg(6)), 0.0
			if len(f) > 7 {
				dv = mustFloat(t, where, f[7])
			}
			var qc reading.Flags
			if len(f) > 8 {
				qc = mustFlags(t, where, f[8])
			}
			for i := range n {
				gc.rs = append(gc.rs, one(arg(1), arg(2), start.Add(time.Duration(i)*step), v0+float64(i)*dv, qc))
			}
		case "skip", "late":
			from, to := mustTime(t, where, arg(3)), mustTime(t, where, arg(4))
			in := func(r reading.Reading) bool {
				return r.Station == arg(1) && r.Values[0].Metric == arg(2) && !r.Time.Before(from) && r.Time.Before(to)
			}
			if f[0] == "late" {
				for _, r := range gc.rs {
					if in(r) {
						late = append(late, r)
					}
				}
			}
			gc.rs = slices.DeleteFunc(gc.rs, in)
		default:
			t.Fatalf("%s: unknown directive %q", where, f[0])
		}
	}
	if gc.now.IsZero() {
		t.Fatalf("%s: no now line", path)
	}
	gc.rs = append(gc.rs, late...)
	return gc
}

func answer(t *testing.T, w *Windows, queries [][]string) string {
	t.Helper()
	var b strings.Builder
	for _, q := range queries {
		where, f := q[0], q[1:]
		if len(f) < 4 {
			t.Fatalf("%s: short query", where)
		}
		st, metric := f[1], f[2]
		switch f[0] {
		case "hour":
			h, ok := w.Hour(st, metric, mustTime(t, where, f[3]))
			fmt.Fprintf(&b, "hour %s %s %s ok=%v\n", st, metric, f[3], ok)
			if ok {
				fmt.Fprintf(&b, "  %s\n", fmtHour(h))
			}
		case "hourly":
			hs := w.Hourly(st, metric, mustTime(t, where, f[3]), mustTime(t, where, f[4]))
			fmt.Fprintf(&b, "hourly %s %s %s %s: %d hours\n", st, metric, f[3], f[4], len(hs))
			for _, h := range hs {
				fmt.Fprintf(&b, "  %s\n", fmtHour(h))
			}
		case "moving":
			n, err := strconv.Atoi(f[3])
			if err != nil || len(f) < 5 {
				t.Fatalf("%s: moving needs HOURS AT", where)
			}
			m, ok := w.Moving(st, metric, n, mustTime(t, where, f[4]))
			fmt.Fprintf(&b, "moving %s %s %dh at %s ok=%v\n", st, metric, n, f[4], ok)
			if ok {
				fmt.Fprintf(&b, "  %s\n", fmtMean(m))
			}
		case "daily":
			d, ok := w.Daily(st, metric, mustTime(t, where, f[3]))
			fmt.Fprintf(&b, "daily %s %s %s ok=%v\n", st, metric, f[3], ok)
			if ok {
				fmt.Fprintf(&b, "  day   [%s, %s]\n  mean  %s\n  max8h %s\n  max1h %s\n",
					fmtTime(d.Start), fmtTime(d.End), fmtMean(d.Mean), fmtMean(d.Max8h), fmtMean(d.Max1h))
			}
		default:
			t.Fatalf("%s: unknown query %q", where, f[0])
		}
	}
	return b.String()
}

func fmtTime(t time.Time) string { return t.Format("2006-01-02T15:04Z07:00") }

func fmtNum(v float64) string {
	return strconv.FormatFloat(math.Round(v*1e6)/1e6, 'f', -1, 64)
}

func fmtReason(r Reason) string {
	if r == ReasonNone {
		return "-"
	}
	return string(r)
}

func fmtHour(h Hour) string {
	return fmt.Sprintf("[%s, %s] mean=%s valid=%v coverage=%v samples=%d flagged=%d reason=%s",
		fmtTime(h.Start), fmtTime(h.End), fmtNum(h.Mean), h.Valid, h.Coverage, h.Samples, h.Flagged, fmtReason(h.Reason))
}

func fmtMean(m Mean) string {
	return fmt.Sprintf("[%s, %s] value=%s valid=%v hours=%d/%d reason=%s",
		fmtTime(m.Start), fmtTime(m.End), fmtNum(m.Value), m.Valid, m.Hours, m.Need, fmtReason(m.Reason))
}

// diff returns the lines of got that differ from want.
func diff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	var b strings.Builder
	for i := range max(len(w), len(g)) {
		var a, c string
		if i < len(w) {
			a = w[i]
		}
		if i < len(g) {
			c = g[i]
		}
		if a != c {
			fmt.Fprintf(&b, "line %d:\n  want %s\n  got  %s\n", i+1, a, c)
		}
	}
	return b.String()
}
