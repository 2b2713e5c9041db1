package quality

import (
	"math/big"
	"math/rand/v2"
	"strconv"
	"testing"
	"testing/quick"
)

// indexedKeys returns the keys s has a table for, with the table's top
// breakpoint and a sweep step that is exact in binary.
func indexedKeys(s Standard) []struct {
	key  Key
	top  float64
	step float64
} {
	var out []struct {
		key  Key
		top  float64
		step float64
	}
	for p := range Pollutant(NumPollutants) {
		for per := range Period(NumPeriods) {
			k := Key{p, per}
			if s.China() && s.hjColumnFor(k) == nil || !s.China() && epaTableFor(k) == nil {
				continue
			}
			step := 0.125
			if s == EPA2024 {
				step = float64(epaTableFor(k).step) / micro / 4
			} else if p == CO {
				step = 1.0 / 64
			}
			out = append(out, struct {
				key  Key
				top  float64
				step float64
			}{k, s.top(k), step})
		}
	}
	return out
}

// TestIndexMonotonicAndContinuous sweeps every table densely from 0 to its
// top: the sub-index never decreases as the concentration rises, and it
// rises by at most one per sweep step at a band edge (bands are continuous:
// each band's top breakpoint gives the band's top index, and the next band
// starts there).
func TestIndexMonotonicAndContinuous(t *testing.T) {
	t.Parallel()
	for _, s := range []Standard{HJ633v2012, HJ633v2026, EPA2024} {
		for _, kt := range indexedKeys(s) {
			t.Run(s.String()+"/"+kt.key.String(), func(t *testing.T) {
				t.Parallel()
				prev := -1
				start := 0.0
				if kt.key == (Key{O3, Hour1}) && s == EPA2024 {
					start = 0.125
				}
				if kt.key == (Key{SO2, Hour24}) && s == EPA2024 {
					start = 305
				}
				for i := 0; ; i++ {
					c := start + float64(i)*kt.step
					if c > kt.top {
						break
					}
					got, err := s.IAQI(kt.key.Pollutant, kt.key.Period, c)
					if err != nil {
						t.Fatalf("IAQI(%v) = %v", c, err)
					}
					if got < prev {
						t.Fatalf("IAQI(%v) = %d < IAQI(%v) = %d", c, got, c-kt.step, prev)
					}
					// EPA bands meet at consecutive truncation steps,
					// checked by checkBreakpoints; HJ 633 bands meet at a
					// shared breakpoint, so the index rises smoothly.
					if s.China() && prev >= 0 && got-prev > maxJump(s, kt.key) {
						t.Fatalf("IAQI jumps from %d to %d between %v and %v", prev, got, c-kt.step, c)
					}
					prev = got
				}
				checkBreakpoints(t, s, kt.key)
			})
		}
	}
}

// maxJump is the largest sub-index rise per sweep step on an HJ 633
// column: the steepest band's slope times the step, plus one for the
// rounding up.
func maxJump(s Standard, k Key) int {
	col := s.hjColumnFor(k)
	step := 0.125
	if k.Pollutant == CO {
		step = 1.0 / 64
	}
	if s == HJ633v2026 {
		step = 1 // 2026 rounds to whole units (CO to 0.1) first
		if k.Pollutant == CO {
			step = 0.1
		}
	}
	jump := 0.0
	for i := 1; i <= col.top(); i++ {
		slope := float64(hjIndex[i]-hjIndex[i-1]) / float64(col.bp[i]-col.bp[i-1])
		jump = max(jump, slope*step)
	}
	return int(jump) + 2
}

// checkBreakpoints checks that each band's top breakpoint gives exactly the
// band's top index.
func checkBreakpoints(t *testing.T, s Standard, k Key) {
	t.Helper()
	if s.China() {
		col := s.hjColumnFor(k)
		for i := 0; i <= col.top(); i++ {
			if got, err := s.IAQI(k.Pollutant, k.Period, float64(col.bp[i])); err != nil || got != int(hjIndex[i]) {
				t.Errorf("IAQI at breakpoint %d = %d, %v; want %d", col.bp[i], got, err, hjIndex[i])
			}
		}
		return
	}
	tab := epaTableFor(k)
	for _, row := range tab.rows {
		for _, bp := range []struct {
			c    int32
			want int16
		}{{row.clo, row.ilo}, {row.chi, row.ihi}} {
			c := float64(int64(bp.c)*tab.step) / micro
			if got, err := s.IAQI(k.Pollutant, k.Period, c); err != nil || got != int(bp.want) {
				t.Errorf("IAQI(%v) = %d, %v; want %d", c, got, err, bp.want)
			}
		}
	}
}

// TestIndexMonotonicQuick checks with random pairs that a higher
// concentration never gets a lower sub-index.
func TestIndexMonotonicQuick(t *testing.T) {
	t.Parallel()
	for _, s := range []Standard{HJ633v2012, HJ633v2026, EPA2024} {
		for _, kt := range indexedKeys(s) {
			if s == EPA2024 && (kt.key == Key{O3, Hour1} || kt.key == Key{SO2, Hour24}) {
				continue // these start above zero
			}
			f := func(a, b uint32) bool {
				x := float64(a) / float64(^uint32(0)) * kt.top
				y := float64(b) / float64(^uint32(0)) * kt.top
				if x > y {
					x, y = y, x
				}
				ix, err1 := s.IAQI(kt.key.Pollutant, kt.key.Period, x)
				iy, err2 := s.IAQI(kt.key.Pollutant, kt.key.Period, y)
				return err1 == nil && err2 == nil && ix <= iy
			}
			if err := quick.Check(f, &quick.Config{MaxCount: 300}); err != nil {
				t.Errorf("%v %v: %v", s, kt.key, err)
			}
		}
	}
}

// TestIndexAgainstRationalOracle compares the sub-index of random decimal
// concentrations with an independent evaluation of the standards' formulas
// in big.Rat, on breakpoints read from the reference CSVs rather than the
// Go tables.
func TestIndexAgainstRationalOracle(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(1, 2))
	for _, tc := range []struct {
		std  Standard
		file string
	}{{HJ633v2012, "hj633_2012_iaqi.csv"}, {HJ633v2026, "hj633_2026_iaqi.csv"}} {
		rows := readCSV(t, tc.file)
		for col := range rows[0] {
			if col == "iaqi" {
				continue
			}
			k, _ := ParseKey(col)
			var bps, idx []*big.Rat
			for _, row := range rows {
				if row[col] != "" {
					bps = append(bps, rat(row[col]))
					idx = append(idx, rat(row["iaqi"]))
				}
			}
			top := bps[len(bps)-1]
			for range 2000 {
				// A decimal with three places in [0, top].
				thousandths := rng.Int64N(ratFloor(new(big.Rat).Mul(top, rat("1000"))) + 1)
				c := new(big.Rat).SetFrac64(thousandths, 1000)
				if tc.std == HJ633v2026 {
					c = roundHalfEvenRat(c, k.Pollutant == CO)
				}
				want := -1
				for i := 1; i < len(bps); i++ {
					if c.Cmp(bps[i]) <= 0 {
						// IAQIlo + ⌈(IAQIhi−IAQIlo)(C−BPlo)/(BPhi−BPlo)⌉
						x := new(big.Rat).Sub(c, bps[i-1])
						x.Mul(x, new(big.Rat).Sub(idx[i], idx[i-1]))
						x.Quo(x, new(big.Rat).Sub(bps[i], bps[i-1]))
						want = int(ratCeil(x)) + int(ratFloor(idx[i-1]))
						break
					}
				}
				if want < 0 {
					continue // rounded above the top
				}
				v, _ := strconv.ParseFloat(new(big.Rat).SetFrac64(thousandths, 1000).FloatString(3), 64)
				got, err := tc.std.IAQI(k.Pollutant, k.Period, v)
				if err != nil || got != want {
					t.Fatalf("%v %s=%v: IAQI %d, %v; oracle %d", tc.std, col, v, got, err, want)
				}
			}
		}
	}
}

func rat(s string) *big.Rat {
	r, ok := new(big.Rat).SetString(s)
	if !ok {
		panic("bad rational " + s)
	}
	return r
}

func ratFloor(r *big.Rat) int64 {
	return new(big.Int).Div(r.Num(), r.Denom()).Int64() // Euclidean: floor for positive denominators
}

func ratCeil(r *big.Rat) int64 {
	f := ratFloor(r)
	if new(big.Rat).SetInt64(f).Cmp(r) == 0 {
		return f
	}
	return f + 1
}

// roundHalfEvenRat rounds r to whole units, or tenths for CO, ties to even.
func roundHalfEvenRat(r *big.Rat, tenths bool) *big.Rat {
	scale := int64(1)
	if tenths {
		scale = 10
	}
	x := new(big.Rat).Mul(r, big.NewRat(scale, 1))
	f := ratFloor(x)
	frac := new(big.Rat).Sub(x, new(big.Rat).SetInt64(f))
	switch frac.Cmp(big.NewRat(1, 2)) {
	case 1:
		f++
	case 0:
		if f%2 == 1 {
			f++
		}
	}
	return big.NewRat(f, scale)
}

// FuzzAQI indexes arbitrary values under every standard: it never panics,
// and an index it returns is within 0-500 and at the level it names.
func FuzzAQI(f *testing.F) {
	f.Add(uint8(4), 88.0, uint8(0), 0.0)
	f.Add(uint8(1), 900.0, uint8(2), 100.0)
	f.Add(uint8(16), 0.078, uint8(15), 0.13)
	f.Fuzz(func(t *testing.T, k1 uint8, v1 float64, k2 uint8, v2 float64) {
		var c Concentrations
		for _, kv := range []struct {
			k uint8
			v float64
		}{{k1, v1}, {k2, v2}} {
			k := keyOfBit(int(kv.k) % (NumPollutants * NumPeriods))
			c.Set(k.Pollutant, k.Period, kv.v)
		}
		for _, s := range []Standard{HJ633v2012, HJ633v2026, EPA2024} {
			r, err := s.AQI(&c)
			if err != nil {
				continue
			}
			if r.AQI < 0 || r.AQI > 500 || r.Level != s.LevelOf(r.AQI) || r.Primary.Len() == 0 && (!s.China() || r.AQI > 50) {
				t.Fatalf("%v %v: %+v", s, c, r)
			}
		}
	})
}
