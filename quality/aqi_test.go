package quality

import (
	"errors"
	"math"
	"slices"
	"testing"
	"time"
)

// conc builds Concentrations from key=value pairs.
func conc(t testing.TB, kv map[string]float64) *Concentrations {
	t.Helper()
	var c Concentrations
	for k, v := range kv {
		key, err := ParseKey(k)
		if err != nil {
			t.Fatal(err)
		}
		c.Set(key.Pollutant, key.Period, v)
	}
	return &c
}

func TestAQI(t *testing.T) {
	t.Parallel()
	// Expected values are worked by hand from the tables; the comment of
	// each case shows the arithmetic.
	for _, tc := range []struct {
		name      string
		std       Standard
		in        map[string]float64
		want      int
		wantIAQI  map[string]int // sub-indices that must be present
		notIAQI   []string       // keys that must have no sub-index
		primary   string
		exceeding string
	}{
		{
			// 50 + 50×(88−50)/(150−50) = 69 exactly: not 70.
			name: "2012 pm10 88 is exactly 69", std: HJ633v2012,
			in: map[string]float64{"pm10_24h": 88}, want: 69, primary: "pm10",
		},
		{
			// 50 + 50×38/70 = 77.14, rounded up.
			name: "2026 pm10 88", std: HJ633v2026,
			in: map[string]float64{"pm10_24h": 88}, want: 78, primary: "pm10",
		},
		{
			// 2012: SO2 1 h above 800 gets no sub-index; 24 h 100 µg/m³ is
			// 50 + 50×50/100 = 75.
			name: "2012 so2 1h above 800 uses 24h", std: HJ633v2012,
			in: map[string]float64{"so2_1h": 900, "so2_24h": 100}, want: 75,
			wantIAQI: map[string]int{"so2_24h": 75}, notIAQI: []string{"so2_1h"}, primary: "so2",
		},
		{
			// 2012: O3 8 h above 800 gets none; 1 h 500 is 200+100×100/400.
			name: "2012 o3 8h above 800 uses 1h", std: HJ633v2012,
			in: map[string]float64{"o3_8h": 900, "o3_1h": 500}, want: 225,
			wantIAQI: map[string]int{"o3_1h": 225}, notIAQI: []string{"o3_8h"},
			primary: "o3", exceeding: "o3",
		},
		{
			name: "2012 so2 1h at 800 is indexed", std: HJ633v2012,
			in: map[string]float64{"so2_1h": 800}, want: 200, primary: "so2", exceeding: "so2",
		},
		{
			name: "2026 so2 1h above 800 counts as 200", std: HJ633v2026,
			in: map[string]float64{"so2_1h": 900}, want: 200,
			wantIAQI: map[string]int{"so2_1h": 200}, primary: "so2", exceeding: "so2",
		},
		{
			name: "2026 o3 8h above 800 counts as 300", std: HJ633v2026,
			in: map[string]float64{"o3_8h": 1500}, want: 300,
			wantIAQI: map[string]int{"o3_8h": 300}, primary: "o3", exceeding: "o3",
		},
		{
			// O3 1 h 300 → 150, O3 8 h 215 → 150: one pollutant, IAQI 150.
			name: "pollutant takes the larger of its periods", std: HJ633v2012,
			in: map[string]float64{"o3_1h": 250, "o3_8h": 215, "pm25_24h": 75}, want: 150,
			wantIAQI: map[string]int{"o3_1h": 125, "o3_8h": 150, "pm25_24h": 100},
			primary:  "o3", exceeding: "o3",
		},
		{
			name: "ties name every primary pollutant", std: HJ633v2012,
			in: map[string]float64{"pm25_24h": 75, "pm10_24h": 150, "no2_24h": 40}, want: 100,
			primary: "pm25,pm10",
		},
		{
			name: "no primary pollutant at 50", std: HJ633v2026,
			in: map[string]float64{"pm25_24h": 35, "pm10_24h": 50}, want: 50,
		},
		{
			// NO2 1 h 250: 100 + 50×50/500 = 105.
			name: "exceeding pollutants are those above 100", std: HJ633v2012,
			in: map[string]float64{"pm25_24h": 115, "no2_1h": 250, "pm10_24h": 150}, want: 150,
			wantIAQI: map[string]int{"no2_1h": 105, "pm10_24h": 100},
			primary:  "pm25", exceeding: "pm25,no2",
		},
		{
			// 2026 rounds 35.5 half to even, to 36: 50 + 50×1/25 = 52.
			name: "2026 rounds half to even up", std: HJ633v2026,
			in: map[string]float64{"pm25_24h": 35.5}, want: 52, primary: "pm25",
		},
		{
			// 34.5 rounds to 34: 50×34/35 = 48.57, up to 49.
			name: "2026 rounds half to even down", std: HJ633v2026,
			in: map[string]float64{"pm25_24h": 34.5}, want: 49,
		},
		{
			// 2012 does not round: 50 + 50×0.5/40 = 50.625, up to 51.
			name: "2012 does not round concentrations", std: HJ633v2012,
			in: map[string]float64{"pm25_24h": 35.5}, want: 51, primary: "pm25",
		},
		{
			// CO 4.05 mg/m³ rounds to 4.0 (0 is even): IAQI 100 exactly.
			name: "2026 rounds CO to 0.1", std: HJ633v2026,
			in: map[string]float64{"co_24h": 4.05}, want: 100, primary: "co",
		},
		{
			// 100 + 50×15/55 = 113.64, up to 114, on the 24 h breakpoints.
			name: "2026 pm25 1h on the 24h breakpoints", std: HJ633v2026,
			in: map[string]float64{"pm25_1h": 75, "pm10_1h": 88}, want: 114,
			wantIAQI: map[string]int{"pm25_1h": 114, "pm10_1h": 78}, primary: "pm25", exceeding: "pm25",
		},
		{
			// EPA O3: 8 h above 0.200 defers to 1 h 0.45 ppm:
			// 301 + 199×(450−405)/(604−405) = 346.
			name: "epa o3 8h above 0.200 uses 1h", std: EPA2024,
			in: map[string]float64{"o3_8h": 0.25, "o3_1h": 0.45}, want: 346,
			wantIAQI: map[string]int{"o3_1h": 346}, notIAQI: []string{"o3_8h"}, primary: "o3",
		},
		{
			// 1 h 0.200: 151 + 49×35/39 = 194.97 → 195; 8 h 0.050:
			// 50×50/54 = 46.3 → 46. The higher wins.
			name: "epa o3 higher of 1h and 8h", std: EPA2024,
			in: map[string]float64{"o3_8h": 0.05, "o3_1h": 0.2}, want: 195,
			wantIAQI: map[string]int{"o3_1h": 195, "o3_8h": 46}, primary: "o3",
		},
		{
			// SO2 24 h 350 ppb: 201 + 99×45/299 = 215.9 → 216.
			name: "epa so2 from 305 uses 24h", std: EPA2024,
			in: map[string]float64{"so2_1h": 400, "so2_24h": 350}, want: 216,
			wantIAQI: map[string]int{"so2_24h": 216}, notIAQI: []string{"so2_1h"}, primary: "so2",
		},
		{
			name: "epa so2 1h from 305 with 24h below 305 is 200", std: EPA2024,
			in: map[string]float64{"so2_1h": 400, "so2_24h": 200}, want: 200,
			wantIAQI: map[string]int{"so2_1h": 200}, notIAQI: []string{"so2_24h"}, primary: "so2",
		},
		{
			// 50×50/90 = 27.8 → 28; the EPA names a pollutant even at 28.
			name: "epa names the primary pollutant below 50", std: EPA2024,
			in: map[string]float64{"pm25_24h": 5}, want: 28, primary: "pm25",
		},
		{
			// NO2 400 ppb: 151 + 49×39/288 = 157.6 → 158; no "exceeding"
			// under the EPA.
			name: "epa has no exceeding pollutants", std: EPA2024,
			in: map[string]float64{"no2_1h": 400, "pm10_24h": 100}, want: 158, primary: "no2",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r, err := tc.std.AQI(conc(t, tc.in))
			if err != nil {
				t.Fatal(err)
			}
			if r.AQI != tc.want {
				t.Errorf("AQI = %d, want %d", r.AQI, tc.want)
			}
			if want := tc.std.LevelOf(tc.want); r.Level != want {
				t.Errorf("level = %d, want %d", r.Level, want)
			}
			for k, want := range tc.wantIAQI {
				key, _ := ParseKey(k)
				if got, ok := r.IAQI(key.Pollutant, key.Period); !ok || got != want {
					t.Errorf("IAQI %s = %d, %v; want %d", k, got, ok, want)
				}
			}
			for _, k := range tc.notIAQI {
				key, _ := ParseKey(k)
				if got, ok := r.IAQI(key.Pollutant, key.Period); ok {
					t.Errorf("IAQI %s = %d, want none", k, got)
				}
			}
			if got := r.Primary.String(); got != tc.primary {
				t.Errorf("primary = %q, want %q", got, tc.primary)
			}
			if got := r.Exceeding.String(); got != tc.exceeding {
				t.Errorf("exceeding = %q, want %q", got, tc.exceeding)
			}
		})
	}
}

func TestAQIErrors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		std     Standard
		in      map[string]float64
		wantErr error
		wantMsg string
	}{
		{"beyond the top", HJ633v2026, map[string]float64{"pm25_24h": 600}, ErrBeyondTable,
			"pm25_24h=600 is beyond the top of the HJ 633-2026 table (500)"},
		{"beyond rounding to the top stays in", HJ633v2026, map[string]float64{"pm25_24h": 500.6}, ErrBeyondTable, ""},
		{"huge", HJ633v2012, map[string]float64{"no2_1h": 1e300}, ErrBeyondTable, ""},
		{"beyond epa", EPA2024, map[string]float64{"pm25_24h": 325.5}, ErrBeyondTable,
			"pm25_24h=325.5 is beyond the top of the US EPA AQI (2024) table (325.4)"},
		{"epa o3 1h beyond", EPA2024, map[string]float64{"o3_8h": 0.3, "o3_1h": 0.605}, ErrBeyondTable, ""},
		{"negative", HJ633v2012, map[string]float64{"pm10_24h": -1}, ErrInvalid,
			"pm10_24h=-1 is not a concentration: want a finite number ≥ 0"},
		{"nan", EPA2024, map[string]float64{"pm10_24h": math.NaN()}, ErrInvalid, ""},
		{"inf", HJ633v2026, map[string]float64{"co_1h": math.Inf(1)}, ErrInvalid, ""},
		{"no co 8h table in hj633", HJ633v2026, map[string]float64{"co_8h": 1}, ErrNoTable, ""},
		{"no pm 1h table in 2012", HJ633v2012, map[string]float64{"pm25_1h": 10}, ErrNoTable, ""},
		{"no co 1h table in epa", EPA2024, map[string]float64{"co_1h": 1}, ErrNoTable, ""},
		{"2012 so2 1h above 800 without 24h", HJ633v2012, map[string]float64{"so2_1h": 801, "pm25_24h": 10}, ErrMissing,
			"so2_1h=801: above 800 µg/m³, where HJ 633-2012 gives no 1 h sub-index (Table 1 notes) and indexes SO2 on so2_24h, which is missing"},
		{"2012 o3 8h above 800 without 1h", HJ633v2012, map[string]float64{"o3_8h": 801}, ErrMissing, ""},
		{"epa o3 8h above 0.200 without 1h", EPA2024, map[string]float64{"o3_8h": 0.201}, ErrMissing, ""},
		{"epa o3 8h above 0.200 with low 1h", EPA2024, map[string]float64{"o3_8h": 0.21, "o3_1h": 0.1}, ErrMissing, ""},
		{"epa so2 1h 305 without 24h", EPA2024, map[string]float64{"so2_1h": 305}, ErrMissing, ""},
		{"epa only a low o3 1h", EPA2024, map[string]float64{"o3_1h": 0.1}, ErrNoData,
			"o3_1h=0.1: below 0.125 ppm, where the EPA gives 1 h ozone no index; the 8 h mean (o3_8h) sets the ozone index"},
		{"nothing", HJ633v2026, nil, ErrNoData, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r, err := tc.std.AQI(conc(t, tc.in))
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("AQI = %d, %v; want error %v", r.AQI, err, tc.wantErr)
			}
			if tc.wantMsg != "" && err.Error() != tc.wantMsg {
				t.Errorf("error %q\nwant      %q", err, tc.wantMsg)
			}
			var ce *ConcentrationError
			if tc.in != nil && !errors.As(err, &ce) {
				t.Errorf("error %v is not a *ConcentrationError", err)
			}
		})
	}
	if _, err := Standard(0).AQI(&Concentrations{}); err == nil {
		t.Error("AQI of the zero Standard succeeded")
	}
}

func TestStandardAt(t *testing.T) {
	t.Parallel()
	cst := time.FixedZone("CST", 8*3600)
	for _, tc := range []struct {
		t    time.Time
		want Standard
	}{
		{time.Date(2013, 1, 1, 0, 0, 0, 0, cst), HJ633v2012},
		{time.Date(2026, 2, 28, 23, 59, 59, 0, cst), HJ633v2012},
		{time.Date(2026, 3, 1, 0, 0, 0, 0, cst), HJ633v2026},
		{time.Date(2026, 2, 28, 15, 59, 59, 0, time.UTC), HJ633v2012},
		{time.Date(2026, 2, 28, 16, 0, 0, 0, time.UTC), HJ633v2026},
		{time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC), HJ633v2026},
	} {
		if got := StandardAt(tc.t); got != tc.want {
			t.Errorf("StandardAt(%v) = %v, want %v", tc.t, got, tc.want)
		}
	}
}

func TestParse(t *testing.T) {
	t.Parallel()
	for _, s := range []Standard{HJ633v2012, HJ633v2026, EPA2024} {
		for _, in := range []string{s.String(), s.Title()} {
			if got, err := ParseStandard(in); err != nil || got != s {
				if s == EPA2024 && in == s.Title() {
					continue // the EPA title is prose
				}
				t.Errorf("ParseStandard(%q) = %v, %v", in, got, err)
			}
		}
	}
	if _, err := ParseStandard("hj633"); err == nil {
		t.Error("ParseStandard(hj633) succeeded")
	}
	for p := range Pollutant(NumPollutants) {
		for per := range Period(NumPeriods) {
			k := Key{p, per}
			if got, err := ParseKey(k.String()); err != nil || got != k {
				t.Errorf("ParseKey(%q) = %v, %v", k, got, err)
			}
		}
	}
	for _, bad := range []string{"", "pm25", "pm25_", "_24h", "pm1_24h", "pm25_2h", "pm25_24h_x"} {
		if k, err := ParseKey(bad); err == nil {
			t.Errorf("ParseKey(%q) = %v, want an error", bad, k)
		}
	}
}

func TestLevelOf(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		aqi  int
		want Level
	}{{-1, 0}, {0, 1}, {50, 1}, {51, 2}, {100, 2}, {101, 3}, {150, 3}, {151, 4}, {200, 4}, {201, 5}, {300, 5}, {301, 6}, {500, 6}} {
		for _, s := range []Standard{HJ633v2012, HJ633v2026, EPA2024} {
			if got := s.LevelOf(tc.aqi); got != tc.want {
				t.Errorf("%v.LevelOf(%d) = %d, want %d", s, tc.aqi, got, tc.want)
			}
			if info, ok := s.LevelInfo(tc.want); ok && (tc.aqi < info.AQILo || tc.aqi > info.AQIHi) {
				t.Errorf("%v level %d covers %d-%d, not %d", s, tc.want, info.AQILo, info.AQIHi, tc.aqi)
			}
		}
	}
	if _, ok := HJ633v2026.LevelInfo(7); ok {
		t.Error("level 7 exists")
	}
	r, _ := HJ633v2026.AQI(conc(t, map[string]float64{"pm25_24h": 200}))
	if info := r.Info(); info.NameZH != "重度污染" || info.Color != "#99004C" {
		t.Errorf("Info() = %+v", info)
	}
	r, _ = EPA2024.AQI(conc(t, map[string]float64{"pm25_24h": 200}))
	if info := r.Info(); info.Name != "Very Unhealthy" || info.Color != "#8F3F97" {
		t.Errorf("Info() = %+v", info)
	}
}

func TestConcentrations(t *testing.T) {
	t.Parallel()
	var c Concentrations
	if c.Len() != 0 {
		t.Fatal("zero Concentrations is not empty")
	}
	if _, ok := c.Get(PM25, Hour24); ok {
		t.Fatal("zero Concentrations has a value")
	}
	c.Set(O3, Hour8, 0) // zero is a value, not absence
	c.Set(PM25, Hour24, 35)
	if v, ok := c.Get(O3, Hour8); !ok || v != 0 {
		t.Errorf("Get(o3_8h) = %v, %v", v, ok)
	}
	var keys []string
	for k := range c.All() {
		keys = append(keys, k.String())
	}
	if want := []string{"pm25_24h", "o3_8h"}; !slices.Equal(keys, want) {
		t.Errorf("All() = %v, want %v", keys, want)
	}
	c.Unset(O3, Hour8)
	if c.Len() != 1 {
		t.Errorf("Len() = %d after Unset", c.Len())
	}
	defer func() {
		if recover() == nil {
			t.Error("Set of an invalid pollutant did not panic")
		}
	}()
	c.Set(NumPollutants, Hour1, 1)
}

func TestResultAll(t *testing.T) {
	t.Parallel()
	r, err := HJ633v2012.AQI(conc(t, map[string]float64{"o3_1h": 160, "pm10_24h": 88, "co_1h": 5}))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for k, v := range r.All() {
		got = append(got, k.String()+"="+itoa(v))
	}
	if want := []string{"pm10_24h=69", "co_1h=50", "o3_1h=50"}; !slices.Equal(got, want) {
		t.Errorf("All() = %v, want %v", got, want)
	}
	if p := r.Primary.Slice(); !slices.Equal(p, []Pollutant{PM10}) {
		t.Errorf("Primary.Slice() = %v", p)
	}
	if v, ok := r.PollutantIAQI(SO2); ok {
		t.Errorf("PollutantIAQI(so2) = %d, want none", v)
	}
}

func itoa(v int) string { return formatValue(float64(v)) }

// TestAQIDoesNotAllocate asserts the hot path's allocation count, which is
// deterministic (unlike its time, which is left to the benchmarks).
func TestAQIDoesNotAllocate(t *testing.T) {
	china := conc(t, map[string]float64{
		"pm25_24h": 75.3, "pm10_24h": 88, "so2_1h": 12, "no2_1h": 41, "co_1h": 0.8, "o3_1h": 160, "o3_8h": 120,
	})
	epa := conc(t, map[string]float64{
		"pm25_24h": 35.9, "pm10_24h": 88, "so2_1h": 12, "no2_1h": 41, "co_8h": 0.8, "o3_1h": 0.13, "o3_8h": 0.078,
	})
	for _, tc := range []struct {
		std Standard
		c   *Concentrations
	}{{HJ633v2012, china}, {HJ633v2026, china}, {EPA2024, epa}} {
		var sink int
		allocs := testing.AllocsPerRun(100, func() {
			r, err := tc.std.AQI(tc.c)
			if err != nil {
				t.Fatal(err)
			}
			for p := range r.Primary.All() {
				sink += int(p)
			}
			sink += r.AQI
		})
		if allocs != 0 {
			t.Errorf("%v: AQI allocates %v times per call, want 0", tc.std, allocs)
		}
	}
}
