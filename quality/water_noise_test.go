package quality

import (
	"math"
	"slices"
	"testing"
	"time"
)

func TestWaterParameterClass(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		body WaterBody
		key  string
		v    float64
		want WaterClass
	}{
		{River, "ph", 6, ClassI},
		{River, "ph", 9, ClassI},
		{River, "ph", 5.99, WorseThanV},
		{River, "ph", 9.01, WorseThanV},
		// Dissolved oxygen: at least the limit.
		{River, "do", 7.5, ClassI},
		{River, "do", 7.49, ClassII},
		{River, "do", 6, ClassII},
		{River, "do", 5.99, ClassIII},
		{River, "do", 3, ClassIV},
		{River, "do", 2, ClassV},
		{River, "do", 1.99, WorseThanV},
		{River, "codmn", 2, ClassI},
		{River, "codmn", 2.01, ClassII},
		{River, "codmn", 15, ClassV},
		{River, "codmn", 15.01, WorseThanV},
		// A limit shared by classes I and II: a value at it is class I.
		{River, "cod", 15, ClassI},
		{River, "cod", 15.1, ClassIII},
		{River, "bod5", 3, ClassI},
		{River, "f", 1.0, ClassI},
		{River, "f", 1.2, ClassIV},
		{River, "nh3n", 0.15, ClassI},
		{River, "nh3n", (0.1 + 0.2) / 2, ClassI}, // 0.15000000000000002 in floating point
		{River, "nh3n", 0.151, ClassII},
		{River, "nh3n", 1.0, ClassIII},
		{River, "nh3n", 2.0, ClassV},
		{River, "nh3n", 2.01, WorseThanV},
		// Total phosphorus: rivers and lakes differ.
		{River, "tp", 0.2, ClassIII},
		{Lake, "tp", 0.2, ClassV},
		{Lake, "tp", 0.025, ClassII},
		{Lake, "tp", 0.21, WorseThanV},
		{River, "tp_lake", 0.05, ClassIII},
		// Total nitrogen counts for lakes only.
		{Lake, "tn", 0.5, ClassII},
		{River, "tn", 0.5, Unclassed},
		{River, "hg", 0.00005, ClassI},
		{River, "hg", 0.00006, ClassIII},
		{River, "hg", 0.0011, WorseThanV},
		{River, "fcoli", 100, Unclassed},
		{River, "water_temp", -0.5, Unclassed},
		{River, "turbidity", 300, Unclassed},
		{River, "conductivity", 1200, Unclassed},
	} {
		got, err := WaterParameterClass(tc.body, tc.key, tc.v)
		if err != nil || got != tc.want {
			t.Errorf("%v %s=%v: class %q, %v; want %q", tc.body, tc.key, tc.v, got, err, tc.want)
		}
	}
	for _, bad := range []struct {
		key string
		v   float64
	}{{"xyz", 1}, {"do", -1}, {"ph", 15}, {"tp", math.NaN()}, {"nh3n", math.Inf(1)}} {
		if c, err := WaterParameterClass(River, bad.key, bad.v); err == nil {
			t.Errorf("%s=%v: class %v, want an error", bad.key, bad.v, c)
		}
	}
}

// TestWaterClassAtEveryLimit checks every limit of the reference table:
// a value at a class's limit is that class or a better one sharing the
// limit, and a value just worse than class V's limit is worse than V.
func TestWaterClassAtEveryLimit(t *testing.T) {
	t.Parallel()
	rows := readCSV(t, "gb3838_2002_water.csv")
	classes := []string{"I", "II", "III", "IV", "V"}
	for _, row := range rows {
		// On a lake every table parameter but fcoli is classed, and tp is
		// classed on tp_lake, so tp is checked on a river.
		key, body := row["key"], Lake
		if key == "fcoli" {
			continue
		}
		if key == "tp" {
			body = River
		}
		if row["direction"] == "range" {
			continue // pH: covered by TestWaterParameterClass
		}
		for i, c := range classes {
			limit := parseFloat(t, row[c])
			got, err := WaterParameterClass(body, key, limit)
			if err != nil {
				t.Fatal(err)
			}
			first := i // the best class sharing this limit
			for first > 0 && parseFloat(t, row[classes[first-1]]) == limit {
				first--
			}
			if want := ClassI + WaterClass(first); got != want {
				t.Errorf("%s at class %s limit %v: class %v, want %v", key, c, limit, got, want)
			}
		}
		worse := parseFloat(t, row["V"]) * 1.001
		if row["direction"] == ">=" {
			worse = parseFloat(t, row["V"]) * 0.999
		}
		if got, _ := WaterParameterClass(body, key, worse); got != WorseThanV {
			t.Errorf("%s=%v: class %v, want 劣V", key, worse, got)
		}
	}
}

func TestClassifyWater(t *testing.T) {
	t.Parallel()
	a, err := ClassifyWater(River, []WaterReading{
		{"ph", 7.4}, {"do", 5.5}, {"codmn", 4.2}, {"nh3n", 0.8}, {"tp", 0.18},
		{"tn", 3.1}, {"water_temp", 18.5}, {"turbidity", 12},
	})
	if err != nil {
		t.Fatal(err)
	}
	if a.Class != ClassIII {
		t.Errorf("site class %v, want III", a.Class)
	}
	if want := []string{"do", "codmn", "nh3n", "tp"}; !slices.Equal(a.Determining, want) {
		t.Errorf("determining %v, want %v", a.Determining, want)
	}
	if !a.Meets(ClassIII) || a.Meets(ClassII) || !a.Meets(ClassV) {
		t.Errorf("Meets: III %v, II %v, V %v", a.Meets(ClassIII), a.Meets(ClassII), a.Meets(ClassV))
	}
	classes := make(map[string]WaterClass)
	for _, p := range a.Parameters {
		classes[p.Key] = p.Class
		if p.Class == Unclassed && p.Note == "" {
			t.Errorf("%s is unclassed without a note", p.Key)
		}
	}
	want := map[string]WaterClass{"ph": ClassI, "do": ClassIII, "codmn": ClassIII, "nh3n": ClassIII,
		"tp": ClassIII, "tn": Unclassed, "water_temp": Unclassed, "turbidity": Unclassed}
	for k, w := range want {
		if classes[k] != w {
			t.Errorf("%s: class %v, want %v", k, classes[k], w)
		}
	}

	a, _ = ClassifyWater(Lake, []WaterReading{{"tp", 0.3}, {"tn", 1.2}})
	if a.Class != WorseThanV || a.Class.String() != "劣V" || a.Class.English() != "worse than V" {
		t.Errorf("lake class %v", a.Class)
	}
	a, _ = ClassifyWater(River, []WaterReading{{"turbidity", 3}})
	if a.Class != Unclassed || a.Meets(ClassV) {
		t.Errorf("unclassed site: %v, meets V %v", a.Class, a.Meets(ClassV))
	}
	if _, err := ClassifyWater(River, []WaterReading{{"do", 5}, {"do", 6}}); err == nil {
		t.Error("a repeated parameter was accepted")
	}
	for _, s := range []string{"I", "ii", "3", "IV", "V", "劣V", "worse-than-V"} {
		if _, err := ParseWaterClass(s); err != nil {
			t.Errorf("ParseWaterClass(%q): %v", s, err)
		}
	}
	if _, err := ParseWaterClass("VII"); err == nil {
		t.Error("ParseWaterClass(VII) succeeded")
	}
	if len(WaterParameters()) != len(waterParams) {
		t.Error("WaterParameters is incomplete")
	}
}

func TestLeq(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in   []float64
		want float64
	}{
		{[]float64{60}, 60},
		{[]float64{55, 55, 55}, 55},
		{[]float64{60, 60}, 60},
		// Two levels 10 dB apart: 10 lg((10^6 + 10^7)/2) = 67.40.
		{[]float64{60, 70}, 10 * math.Log10((1e6+1e7)/2)},
	} {
		got, err := Leq(tc.in)
		if err != nil || math.Abs(got-tc.want) > 1e-9 {
			t.Errorf("Leq(%v) = %v, %v; want %v", tc.in, got, err, tc.want)
		}
	}
	for _, bad := range [][]float64{nil, {50, math.NaN()}, {math.Inf(1)}} {
		if _, err := Leq(bad); err == nil {
			t.Errorf("Leq(%v) succeeded", bad)
		}
	}
}

func TestDayNight(t *testing.T) {
	t.Parallel()
	var h [24]Mean
	for i := range h {
		h[i] = Mean{Value: 40, Valid: true} // night
		if IsDayHour(i) {
			h[i].Value = 60
		}
	}
	dn, err := DayNight(&h)
	if err != nil {
		t.Fatal(err)
	}
	// Ldn = 10 lg((16·10^6 + 8·10^5)/24) = 58.45.
	if math.Abs(dn.Ld-60) > 1e-9 || math.Abs(dn.Ln-40) > 1e-9 || dn.DayHours != 16 || dn.NightHours != 8 ||
		math.Abs(dn.Ldn-10*math.Log10((16e6+8e5)/24)) > 1e-9 {
		t.Errorf("DayNight = %+v", dn)
	}
	h[5], h[6], h[21], h[22] = Mean{}, Mean{}, Mean{}, Mean{}
	if dn, _ := DayNight(&h); dn.DayHours != 14 || dn.NightHours != 6 {
		t.Errorf("with missing hours: %+v", dn)
	}
	var nights [24]Mean
	nights[23] = Mean{40, true}
	if _, err := DayNight(&nights); err == nil {
		t.Error("DayNight without day hours succeeded")
	}
	cst := time.FixedZone("CST", 8*3600)
	for _, tc := range []struct {
		t    time.Time
		want bool
	}{
		{time.Date(2026, 6, 1, 5, 59, 59, 0, cst), false},
		{time.Date(2026, 6, 1, 6, 0, 0, 0, cst), true},
		{time.Date(2026, 6, 1, 21, 59, 59, 0, cst), true},
		{time.Date(2026, 6, 1, 22, 0, 0, 0, cst), false},
		{time.Date(2026, 6, 1, 14, 0, 0, 0, time.UTC), false}, // 22:00 in Beijing
	} {
		if got := IsDaytime(tc.t, cst); got != tc.want {
			t.Errorf("IsDaytime(%v) = %v", tc.t, got)
		}
	}
}

func TestAssessNoise(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name       string
		zone       string
		ld, ln     float64
		lmax       []float64
		day, night float64
		lmaxOver   int
		exceeds    bool
	}{
		{"within", "2", 60, 50, []float64{65}, 0, 0, 0, false},
		{"rounds to the limit", "2", 60.04, 50.049, nil, 0, 0, 0, false},
		{"rounds above the limit", "2", 60.05, 50, nil, 0.1, 0, 0, true},
		{"night", "1", 50, 47.3, nil, -5, 2.3, 0, true},
		{"lmax over night limit + 15", "4a", 65, 50, []float64{70, 70.1, 80}, -5, -5, 2, true},
		{"4b", "4b", 70.2, 60, []float64{75}, 0.2, 0, 0, true},
		{"0", "0", 49, 39.9, nil, -1, -0.1, 0, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			z, err := ParseNoiseZone(tc.zone)
			if err != nil {
				t.Fatal(err)
			}
			a, err := AssessNoise(z, DayNightLevels{Ld: tc.ld, Ln: tc.ln}, tc.lmax)
			if err != nil {
				t.Fatal(err)
			}
			if a.DayExcess != tc.day || a.NightExcess != tc.night || a.LmaxExceeding != tc.lmaxOver || a.Exceeds() != tc.exceeds {
				t.Errorf("AssessNoise = %+v; want day %v night %v lmax %d exceeds %v", a, tc.day, tc.night, tc.lmaxOver, tc.exceeds)
			}
		})
	}
	if _, err := ParseNoiseZone("5"); err == nil {
		t.Error("zone 5 parsed")
	}
	if _, err := AssessNoise(0, DayNightLevels{}, nil); err == nil {
		t.Error("zone 0 value assessed")
	}
}
