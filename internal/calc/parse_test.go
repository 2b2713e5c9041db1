package calc

import (
	"flag"
	"io"
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/envmon/envmon/quality"
)

func TestParseNumber(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in      string
		want    float64
		wantErr bool
	}{
		{"88", 88, false},
		{" 0.078 ", 0.078, false},
		{"1e3", 1000, false},
		{"-2", -2, false},
		{"", 0, true},
		{"abc", 0, true},
		{"NaN", 0, true},
		{"Inf", 0, true},
		{"+Inf", 0, true},
		{"1e400", 0, true},
		{"0x10", 0, true},
		{"1_000", 0, true},
		{"1.2.3", 0, true},
	} {
		got, err := parseNumber(tc.in)
		if (err != nil) != tc.wantErr || (!tc.wantErr && got != tc.want) {
			t.Errorf("parseNumber(%q) = %v, %v; want %v, error %v", tc.in, got, err, tc.want, tc.wantErr)
		}
	}
}

func TestParseConcentration(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in      string
		want    quality.Key
		v       float64
		wantErr string
	}{
		{"pm25_24h=35", quality.Key{Pollutant: quality.PM25, Period: quality.Hour24}, 35, ""},
		{"PM10_1H=88.5", quality.Key{Pollutant: quality.PM10, Period: quality.Hour1}, 88.5, ""},
		{"o3_8h=0", quality.Key{Pollutant: quality.O3, Period: quality.Hour8}, 0, ""},
		{"pm25_24h", quality.Key{}, 0, "want key=value"},
		{"=5", quality.Key{}, 0, "want key=value"},
		{"pm25_24h=", quality.Key{}, 0, "empty value"},
		{"pm25_24h=-1", quality.Key{}, 0, "cannot be negative"},
		{"pm25_24h=nan", quality.Key{}, 0, "not a number"},
		{"pm25_12h=1", quality.Key{}, 0, "unknown averaging period"},
		{"lead_24h=1", quality.Key{}, 0, "unknown pollutant"},
	} {
		k, v, err := parseConcentration(tc.in)
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("parseConcentration(%q) = %v, %v, %v; want an error with %q", tc.in, k, v, err, tc.wantErr)
			}
			continue
		}
		if err != nil || k != tc.want || v != tc.v {
			t.Errorf("parseConcentration(%q) = %v, %v, %v; want %v, %v", tc.in, k, v, err, tc.want, tc.v)
		}
	}
}

func TestParseSeries(t *testing.T) {
	t.Parallel()
	got, err := parseSeries("50,,75, 90 ")
	want := []quality.Mean{{Value: 50, Valid: true}, {}, {Value: 75, Valid: true}, {Value: 90, Valid: true}}
	if err != nil || !slices.Equal(got, want) {
		t.Errorf("parseSeries = %v, %v; want %v", got, err, want)
	}
	for _, bad := range []string{"", " ", ",,", "1,x", "1,-2", "1,NaN"} {
		if got, err := parseSeries(bad); err == nil {
			t.Errorf("parseSeries(%q) = %v, want an error", bad, got)
		}
	}
	if _, err := parseList("1,,2"); err == nil {
		t.Error("parseList accepted a missing value")
	}
}

func TestParseFlagsInterleaved(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		args    []string
		wantPos []string
		wantStd string
		json    bool
	}{
		{[]string{"a=1", "--standard", "x", "b=2", "--json"}, []string{"a=1", "b=2"}, "x", true},
		{[]string{"--json", "a=1"}, []string{"a=1"}, "d", true},
		{[]string{"a=1", "--", "--json"}, []string{"a=1", "--json"}, "d", false},
		{nil, nil, "d", false},
	} {
		fs := flag.NewFlagSet("t", flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		std := fs.String("standard", "d", "")
		js := fs.Bool("json", false, "")
		pos, err := parseFlags(fs, tc.args)
		if err != nil || !slices.Equal(pos, tc.wantPos) || *std != tc.wantStd || *js != tc.json {
			t.Errorf("parseFlags(%q) = %q, %v, standard %q, json %v", tc.args, pos, err, *std, *js)
		}
	}
}

// FuzzParseConcentration checks that the KEY=VALUE parser never panics and
// accepts only valid keys and finite, non-negative values.
func FuzzParseConcentration(f *testing.F) {
	for _, s := range []string{"pm25_24h=35", "o3_8h=0.078", "co_1h=1e3", "pm10_24h=-1", "x=NaN", "=", "so2_1h=0x1p3"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		k, v, err := parseConcentration(s)
		if err != nil {
			return
		}
		if !k.Valid() || math.IsNaN(v) || math.IsInf(v, 0) || v < 0 {
			t.Fatalf("parseConcentration(%q) = %v, %v: accepted an invalid key or value", s, k, v)
		}
	})
}

// FuzzParseSeries checks that the list parser never panics, keeps one entry
// per comma-separated field and accepts only finite, non-negative values.
func FuzzParseSeries(f *testing.F) {
	for _, s := range []string{"50,80,75", "50,,75", ",", "1e309", "1,-1", " 3 ,4"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := parseSeries(s)
		if err != nil {
			return
		}
		if len(got) != strings.Count(s, ",")+1 {
			t.Fatalf("parseSeries(%q): %d entries", s, len(got))
		}
		for _, m := range got {
			if m.Valid && (math.IsNaN(m.Value) || math.IsInf(m.Value, 0) || m.Value < 0) {
				t.Fatalf("parseSeries(%q) accepted %v", s, m.Value)
			}
		}
	})
}

// FuzzCommands runs whole command lines: whatever the input, a command
// returns 0, 1 or 2 and never panics, and on exit code 0 it printed
// something.
func FuzzCommands(f *testing.F) {
	for _, s := range []string{
		"aqi --standard hj633-2012 --json pm10_24h=88",
		"aqi --standard epa-2024 --units ugm3 o3_8h=153 so2_1h=400 so2_24h=200",
		"aqi --nowcast pm25 50,,75,90",
		"water --lake --target III tp=0.04 tn=0.9 ph=7",
		"noise --zone 4a --lmax 70,71 --hourly 1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24",
		"noise --leq 100,80",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		words := strings.Fields(line)
		if len(words) == 0 {
			return
		}
		cmd, ok := commands[words[0]]
		if !ok {
			return
		}
		var out strings.Builder
		code := cmd(words[1:], &out, io.Discard)
		if code < 0 || code > 2 {
			t.Fatalf("%q: exit code %d", line, code)
		}
		if code == 0 && out.Len() == 0 {
			t.Fatalf("%q: success without output", line)
		}
	})
}
