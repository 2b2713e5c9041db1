package quality

import (
	"errors"
	"math"
	"testing"
	"time"
)

// minuteSamples returns one sample a minute at the given minutes of the
// hour starting at start, all of value v.
func minuteSamples(start time.Time, minutes []int, v float64) []Sample {
	var out []Sample
	for _, m := range minutes {
		out = append(out, Sample{Time: start.Add(time.Duration(m) * time.Minute), Value: v})
	}
	return out
}

func seq(from, to int) []int {
	var out []int
	for i := from; i < to; i++ {
		out = append(out, i)
	}
	return out
}

func TestHourlyMeans(t *testing.T) {
	t.Parallel()
	start := time.Date(2026, 5, 1, 8, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name     string
		samples  []Sample
		interval time.Duration
		want     []Mean
	}{
		{"45 minutes is valid", minuteSamples(start, seq(0, 45), 10), time.Minute,
			[]Mean{{10, true}, {}}},
		{"44 minutes is not", minuteSamples(start, seq(0, 44), 10), time.Minute,
			[]Mean{{10, false}, {}}},
		{"a minute counts once", append(minuteSamples(start, seq(0, 44), 10),
			Sample{start.Add(30*time.Minute + 20*time.Second), 40}), time.Minute,
			[]Mean{{(44*10 + 40) / 45.0, false}, {}}},
		{"9 five-minute samples are valid", minuteSamples(start, []int{0, 5, 10, 15, 20, 25, 30, 35, 40}, 7), 5 * time.Minute,
			[]Mean{{7, true}, {}}},
		{"8 five-minute samples are not", minuteSamples(start, []int{0, 5, 10, 15, 20, 25, 30, 35}, 7), 5 * time.Minute,
			[]Mean{{7, false}, {}}},
		{"the hour's end belongs to the next hour", minuteSamples(start, seq(15, 105), 3), time.Minute,
			[]Mean{{3, true}, {3, true}}},
		{"invalid samples are not data", append(minuteSamples(start, seq(0, 44), 5),
			Sample{start.Add(50 * time.Minute), math.NaN()}, Sample{start.Add(51 * time.Minute), -1}), time.Minute,
			[]Mean{{5, false}, {}}},
		{"samples outside are ignored", minuteSamples(start, []int{-5, 125}, 9), time.Minute,
			[]Mean{{}, {}}},
		{"one hourly sample covers the hour", []Sample{{start, 42}}, time.Hour,
			[]Mean{{42, true}, {}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := HourlyMeans(tc.samples, start, 2, tc.interval)
			if err != nil {
				t.Fatal(err)
			}
			for i := range tc.want {
				if got[i].Valid != tc.want[i].Valid || (got[i].Value != tc.want[i].Value && tc.want[i].Value != 0) {
					t.Errorf("hour %d = %+v, want %+v", i, got[i], tc.want[i])
				}
			}
		})
	}
	for _, bad := range []time.Duration{0, time.Millisecond, 2 * time.Hour} {
		if _, err := HourlyMeans(nil, start, 1, bad); err == nil {
			t.Errorf("interval %v accepted", bad)
		}
	}
}

// hours returns valid hourly means of the values; NaN marks a missing hour.
func hours(vals ...float64) []Mean {
	out := make([]Mean, len(vals))
	for i, v := range vals {
		out[i] = Mean{Value: v, Valid: !math.IsNaN(v)}
	}
	return out
}

func repeat(v float64, n int) []float64 {
	out := make([]float64, n)
	for i := range out {
		out[i] = v
	}
	return out
}

func TestMovingMeans(t *testing.T) {
	t.Parallel()
	nan := math.NaN()
	h := hours(1, 2, 3, 4, 5, 6, 7, 8, 9, 10)
	for _, tc := range []struct {
		name string
		got  Mean
		want Mean
	}{
		// The 8 h mean at hour X is the mean of hours X-7..X.
		{"8h at hour 9", Mean8h(h, 9), Mean{6.5, true}}, // hours 2-9: 3..10
		{"8h at hour 7", Mean8h(h, 7), Mean{4.5, true}},
		{"8h at hour 5 has 6 hours", Mean8h(h, 5), Mean{3.5, true}},
		{"8h at hour 4 has 5 hours", Mean8h(h, 4), Mean{}},
		{"8h with 6 of 8 valid", Mean8h(hours(nan, 1, 1, nan, 1, 1, 1, 1), 7), Mean{1, true}},
		{"8h with 5 of 8 valid", Mean8h(hours(nan, 1, nan, nan, 1, 1, 1, 1), 7), Mean{}},
		{"8h out of range", Mean8h(h, 10), Mean{}},
		{"24h with 20 valid", Mean24h(hours(append(repeat(nan, 4), repeat(2, 20)...)...), 23), Mean{2, true}},
		{"24h with 19 valid", Mean24h(hours(append(repeat(nan, 5), repeat(2, 19)...)...), 23), Mean{}},
		{"day with 20 valid", DailyMean(hours(append(repeat(nan, 4), repeat(3, 20)...)...)), Mean{3, true}},
		{"day of 23 hours", DailyMean(hours(repeat(3, 23)...)), Mean{}},
		{"max 1h", DailyMax1h(hours(append(repeat(nan, 4), append(repeat(3, 19), 9)...)...)), Mean{9, true}},
		{"max 1h with 19 valid", DailyMax1h(hours(append(repeat(nan, 5), repeat(3, 19)...)...)), Mean{}},
	} {
		if tc.got != tc.want {
			t.Errorf("%s: %+v, want %+v", tc.name, tc.got, tc.want)
		}
	}
}

func TestDailyMax8h(t *testing.T) {
	t.Parallel()
	nan := math.NaN()
	ramp := make([]float64, 24)
	for i := range ramp {
		ramp[i] = float64(10 * i)
	}
	// Hours 16-23 hold 160..230; their mean is 195.
	if got := DailyMax8h(hours(ramp...)); got != (Mean{195, true}) {
		t.Errorf("ramp: %+v", got)
	}
	// Hours 0-3 missing: the windows ending at hours 7 and 8 have 4 and 5
	// valid hours; those ending at 9-23 have at least 6: 15 windows.
	low := hours(append(repeat(nan, 4), repeat(50, 20)...)...)
	if got := DailyMax8h(low); got != (Mean{50, true}) {
		t.Errorf("15 windows: %+v", got)
	}
	// Hours 0-4 missing: windows ending at 10-23, 14 of them: valid.
	low = hours(append(repeat(nan, 5), repeat(50, 19)...)...)
	if got := DailyMax8h(low); got != (Mean{50, true}) {
		t.Errorf("14 windows: %+v", got)
	}
	// Hours 0-5 missing: 13 windows, and 50 does not exceed 160: invalid.
	low = hours(append(repeat(nan, 6), repeat(50, 18)...)...)
	if got := DailyMax8h(low); got.Valid {
		t.Errorf("13 windows: %+v, want invalid", got)
	}
	// The same with 200: above the grade 2 limit, valid anyway.
	high := hours(append(repeat(nan, 6), repeat(200, 18)...)...)
	if got := DailyMax8h(high); got != (Mean{200, true}) {
		t.Errorf("13 windows above the limit: %+v", got)
	}
}

func TestReports(t *testing.T) {
	t.Parallel()
	var h Series
	for p := range Pollutant(NumPollutants) {
		h[p] = hours(repeat(float64(10*(int(p)+1)), 30)...)
	}
	h[SO2][29] = Mean{900, true}
	h[CO] = nil // not measured
	keys := func(c Concentrations) map[string]float64 {
		out := make(map[string]float64)
		for k, v := range c.All() {
			out[k.String()] = v
		}
		return out
	}
	c, err := HJ633v2012.RealTime(&h, 29)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]float64{
		"so2_1h": 900, "so2_24h": (23*30 + 900) / 24.0, "no2_1h": 40, "o3_1h": 60, "o3_8h": 60,
		"pm25_24h": 10, "pm10_24h": 20,
	}
	if got := keys(c); !equalMaps(got, want) {
		t.Errorf("2012 real time = %v, want %v", got, want)
	}
	if _, err := HJ633v2012.AQI(&c); err != nil {
		t.Errorf("2012 real-time report does not index: %v", err)
	}
	c, _ = HJ633v2012.RealTime(&h, 28)
	if _, ok := c.Get(SO2, Hour24); ok {
		t.Error("2012 real time has so2_24h with so2_1h below 800")
	}
	c, _ = HJ633v2026.RealTime(&h, 29)
	want = map[string]float64{"pm25_1h": 10, "pm10_1h": 20, "so2_1h": 900, "no2_1h": 40, "o3_1h": 60}
	if got := keys(c); !equalMaps(got, want) {
		t.Errorf("2026 real time = %v, want %v", got, want)
	}
	if _, err := EPA2024.RealTime(&h, 0); err == nil {
		t.Error("EPA real time succeeded")
	}

	var day Series
	for p := range Pollutant(NumPollutants) {
		day[p] = hours(repeat(float64(10*(int(p)+1)), 24)...)
	}
	day[O3][12] = Mean{100, true}
	c, err = HJ633v2012.Daily(&day)
	if err != nil {
		t.Fatal(err)
	}
	want = map[string]float64{
		"pm25_24h": 10, "pm10_24h": 20, "so2_24h": 30, "no2_24h": 40, "co_24h": 50,
		"o3_1h": 100, "o3_8h": (7*60 + 100) / 8.0,
	}
	if got := keys(c); !equalMaps(got, want) {
		t.Errorf("2012 daily = %v, want %v", got, want)
	}
	c, _ = HJ633v2026.Daily(&day)
	delete(want, "o3_1h")
	if got := keys(c); !equalMaps(got, want) {
		t.Errorf("2026 daily = %v, want %v", got, want)
	}
	day[PM25] = day[PM25][:23]
	if _, err := HJ633v2026.Daily(&day); err == nil {
		t.Error("daily report of a 23-hour day succeeded")
	}
}

func equalMaps(a, b map[string]float64) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || math.Abs(v-w) > 1e-9 {
			return false
		}
	}
	return true
}

func TestNowCast(t *testing.T) {
	t.Parallel()
	nan := math.NaN()
	// Expected values from exact fractions: see each comment.
	for _, tc := range []struct {
		name       string
		p          Pollutant
		in         []float64 // oldest first; NaN is a missing hour
		want       float64
		wantWeight float64
		wantErr    error
	}{
		// w = 30/40 = 0.75; NowCast = 35.592..., truncated to 35.5.
		{"weight above a half", PM25, []float64{30, 32, 35, 33, 31, 36, 40, 38, 37, 35, 34, 36}, 35.5, 0.75, nil},
		{"pm10 truncates to 1", PM10, []float64{30, 32, 35, 33, 31, 36, 40, 38, 37, 35, 34, 36}, 35, 0.75, nil},
		// w = 20/21; 20.4800..., truncated to 20.4; a missing hour.
		{"missing hour", PM25, []float64{20.1, 20.3, nan, 20.2, 20.4, 20.6, 20.5, 20.2, 20.0, 20.7, 20.9, 21.0}, 20.4, 20.0 / 21, nil},
		// Twelve hours of 12.3: floating point sums to 12.2999...
		{"exact where floats drift", PM25, repeat(12.3, 12), 12.3, 1, nil},
		// (20 + 10/2) / 1.5 = 16.67.
		{"two hours", PM25, []float64{10, 20}, 16.6, 0.5, nil},
		// Only the last 12 hours count: the leading 500 is ignored.
		{"thirteen hours", PM25, append([]float64{500}, repeat(8, 12)...), 8, 1, nil},
		{"all zero", PM25, repeat(0, 12), 0, 1, nil},
		{"two of the newest three", PM25, []float64{5, 5, nan, 5}, 5, 1, nil},
		{"one of the newest three", PM25, []float64{5, 5, 5, nan, 5, nan}, 0, 0, ErrMissing},
		{"no hours", PM25, nil, 0, 0, ErrMissing},
		{"negative", PM25, []float64{5, -1, 5}, 0, 0, ErrInvalid},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := NowCast(tc.p, hours(tc.in...))
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("NowCast = %+v, %v; want error %v", got, err, tc.wantErr)
				}
				return
			}
			if err != nil || got.Value != tc.want || math.Abs(got.Weight-tc.wantWeight) > 1e-12 {
				t.Fatalf("NowCast = %+v, %v; want %v with weight %v", got, err, tc.want, tc.wantWeight)
			}
		})
	}
	if _, err := NowCast(O3, hours(1, 2, 3)); err == nil {
		t.Error("NowCast of O3 succeeded")
	}
}

func TestConvert(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		p        Pollutant
		v        float64
		from, to Unit
		want     float64
	}{
		// µg/m³ = ppb × M / 24.465.
		{SO2, 1, PPB, UgM3, 64.058 / 24.465},
		{NO2, 100, PPB, UgM3, 100 * 46.005 / 24.465},
		{O3, 0.078, PPM, UgM3, 78 * 47.997 / 24.465},
		{CO, 1, PPM, MgM3, 28.010 / 24.465},
		{CO, 1.145, MgM3, PPM, 1.145 * 24.465 / 28.010},
		{PM25, 35, UgM3, MgM3, 0.035},
		{O3, 160, UgM3, PPB, 160 * 24.465 / 47.997},
		{NO2, 7, PPB, PPB, 7},
	} {
		got, err := Convert(tc.p, tc.v, tc.from, tc.to)
		if err != nil || math.Abs(got-tc.want) > 1e-9*math.Max(1, tc.want) {
			t.Errorf("Convert(%v, %v, %v→%v) = %v, %v; want %v", tc.p, tc.v, tc.from, tc.to, got, err, tc.want)
		}
		back, err := Convert(tc.p, got, tc.to, tc.from)
		if err != nil || math.Abs(back-tc.v) > 1e-9*math.Max(1, tc.v) {
			t.Errorf("round trip of %v %v: %v, %v", tc.v, tc.from, back, err)
		}
	}
	for _, u := range []Unit{UgM3, MgM3, PPB, PPM} {
		if got, err := ParseUnit(u.String()); err != nil || got != u {
			t.Errorf("ParseUnit(%q) = %v, %v", u, got, err)
		}
	}
	if u, err := ParseUnit("ug/m3"); err != nil || u != UgM3 {
		t.Errorf("ParseUnit(ug/m3) = %v, %v", u, err)
	}
	if _, err := ParseUnit("ppt"); err == nil {
		t.Error("ParseUnit(ppt) succeeded")
	}
	if v, err := ToMassConcentration(SO2, 10, PPB); err != nil || math.Abs(v-26.18352) > 1e-4 {
		t.Errorf("ToMassConcentration(so2, 10 ppb) = %v, %v", v, err)
	}
	if v, err := ToMixingRatio(CO, 1, MgM3); err != nil || math.Abs(v-873.438) > 1e-2 {
		t.Errorf("ToMixingRatio(co, 1 mg/m³) = %v, %v", v, err)
	}
	for _, bad := range []struct {
		p    Pollutant
		v    float64
		f, t Unit
	}{
		{PM25, 1, PPB, UgM3}, {PM10, 1, UgM3, PPM}, {SO2, -1, PPB, UgM3},
		{SO2, math.NaN(), PPB, UgM3}, {SO2, 1, 0, UgM3}, {NumPollutants, 1, UgM3, UgM3},
	} {
		if v, err := Convert(bad.p, bad.v, bad.f, bad.t); err == nil {
			t.Errorf("Convert(%v, %v, %v→%v) = %v, want an error", bad.p, bad.v, bad.f, bad.t, v)
		}
	}
}
