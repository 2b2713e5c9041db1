package quality

import (
	"math"
	"strconv"
	"strings"
	"testing"
)

// TestVectors runs every published worked example of
// testdata/reference/vectors.csv through the function it exercises, checking
// the expected AQI and the detail the row states (primary pollutant,
// NowCast value and weight, noise levels to 0.1 dB).
func TestVectors(t *testing.T) {
	t.Parallel()
	rows := readCSV(t, "vectors.csv")
	for _, row := range rows {
		t.Run(row["id"], func(t *testing.T) {
			t.Parallel()
			detail := parseDetail(row["expected_detail"])
			switch std := row["standard"]; std {
			case "hj633-2012", "hj633-2026", "epa-2024":
				runAQIVector(t, row, detail)
			case "epa-nowcast":
				runNowCastVector(t, row, detail)
			case "noise-leq":
				_, vals := vectorList(t, row["inputs"])
				leq, err := Leq(vals)
				if err != nil {
					t.Fatal(err)
				}
				checkTenth(t, "Leq", leq, detail)
			case "noise-ldn":
				_, vals := vectorList(t, row["inputs"])
				if len(vals) != 24 {
					t.Fatalf("want 24 hourly values, have %d", len(vals))
				}
				var hourly [24]Mean
				for h, v := range vals {
					hourly[h] = Mean{Value: v, Valid: true}
				}
				dn, err := DayNight(&hourly)
				if err != nil {
					t.Fatal(err)
				}
				checkTenth(t, "Ld", dn.Ld, detail)
				checkTenth(t, "Ln", dn.Ln, detail)
				checkTenth(t, "Ldn", dn.Ldn, detail)
			default:
				t.Fatalf("vector of unknown kind %q: teach this test to run it", std)
			}
		})
	}
}

// parseDetail reads the "name value" pairs of an expected_detail cell,
// such as "Ld 74.8 Ln 72.6 Ldn 79.1" or "primary pm10", into a map. Words
// without a following value are ignored.
func parseDetail(s string) map[string]string {
	out := make(map[string]string)
	words := strings.Fields(s)
	for i := 0; i+1 < len(words); i++ {
		w := strings.ToLower(words[i])
		switch w {
		case "primary", "leq", "ld", "ln", "ldn", "nowcast":
			out[w] = words[i+1]
		case "(weight":
			out["weight"] = strings.TrimSuffix(words[i+1], ")")
		}
	}
	if strings.HasPrefix(s, "no primary pollutant") {
		out["primary"] = ""
	}
	return out
}

// vectorList parses an input "name=v1;v2;..." whose empty entries are
// missing values, returning the validity of each entry and the values.
func vectorList(t *testing.T, in string) ([]bool, []float64) {
	t.Helper()
	_, list, ok := strings.Cut(in, "=")
	if !ok {
		t.Fatalf("input %q: want name=v1;v2;...", in)
	}
	var valid []bool
	var vals []float64
	for _, f := range strings.Split(list, ";") {
		if f == "" {
			valid, vals = append(valid, false), append(vals, 0)
			continue
		}
		valid, vals = append(valid, true), append(vals, parseFloat(t, f))
	}
	return valid, vals
}

// checkTenth checks that v, rounded to 0.1, is the detail's value for name.
func checkTenth(t *testing.T, name string, v float64, detail map[string]string) {
	t.Helper()
	want, ok := detail[strings.ToLower(name)]
	if !ok {
		t.Fatalf("detail gives no %s", name)
	}
	if got := strconv.FormatFloat(math.Round(v*10)/10, 'f', 1, 64); got != want {
		t.Errorf("%s = %s (%v), want %s", name, got, v, want)
	}
}

func runAQIVector(t *testing.T, row map[string]string, detail map[string]string) {
	s, err := ParseStandard(row["standard"])
	if err != nil {
		t.Fatal(err)
	}
	var c Concentrations
	for _, kv := range strings.Fields(row["inputs"]) {
		k, v, _ := strings.Cut(kv, "=")
		key, err := ParseKey(k)
		if err != nil {
			t.Fatal(err)
		}
		c.Set(key.Pollutant, key.Period, parseFloat(t, v))
	}
	r, err := s.AQI(&c)
	if err != nil {
		t.Fatalf("AQI(%s): %v", row["inputs"], err)
	}
	if want := atoi(t, row["expected_aqi"]); r.AQI != want {
		t.Errorf("AQI(%s) = %d, want %d", row["inputs"], r.AQI, want)
	}
	if want, ok := detail["primary"]; ok {
		if got := r.Primary.String(); got != want {
			t.Errorf("primary = %q, want %q", got, want)
		}
	}
}

func runNowCastVector(t *testing.T, row map[string]string, detail map[string]string) {
	name, _, _ := strings.Cut(row["inputs"], "=")
	p, err := ParsePollutant(strings.TrimSuffix(name, "_hourly_oldest_first"))
	if err != nil {
		t.Fatal(err)
	}
	valid, vals := vectorList(t, row["inputs"])
	hours := make([]Mean, len(vals))
	for i := range vals {
		hours[i] = Mean{Value: vals[i], Valid: valid[i]}
	}
	nc, err := NowCast(p, hours)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := strconv.FormatFloat(nc.Value, 'f', -1, 64), detail["nowcast"]; got != want {
		t.Errorf("NowCast = %s, want %s", got, want)
	}
	if w, ok := detail["weight"]; ok {
		if got := strconv.FormatFloat(nc.Weight, 'f', -1, 64); got != w {
			t.Errorf("weight = %s, want %s", got, w)
		}
	}
	if row["expected_aqi"] != "" {
		aqi, err := EPA2024.IAQI(p, Hour24, nc.Value)
		if err != nil {
			t.Fatal(err)
		}
		if want := atoi(t, row["expected_aqi"]); aqi != want {
			t.Errorf("AQI = %d, want %d", aqi, want)
		}
	}
}
