package ingest

import (
	"math"
	"strconv"
	"testing"

	"github.com/envmon/envmon/quality"
	"github.com/envmon/envmon/reading"
)

// TestUnitsConvertWithoutNoise checks that converted values are served as
// the short decimals a reader expects, and stay within the rounding of the
// exact conversion.
func TestUnitsConvertWithoutNoise(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, metric, unit string
		in                 float64
		want               string  // the value's shortest decimal form
		exact              float64 // the unrounded conversion
	}{
		{"3 ppb SO2", "so2", "ppb", 3, "7.855", 3 * molar(quality.SO2) / quality.MolarVolume},
		{"10 ppb SO2", "so2", "ppb", 10, "26.18", 10 * molar(quality.SO2) / quality.MolarVolume},
		{"0.5 ppb NO2", "no2", "ppb", 0.5, "0.9402", 0.5 * molar(quality.NO2) / quality.MolarVolume},
		{"41.7 ppb O3", "o3", "ppb", 41.7, "81.81", 41.7 * molar(quality.O3) / quality.MolarVolume},
		{"12345 ppb NO2", "no2", "ppb", 12345, "23210", 12345 * molar(quality.NO2) / quality.MolarVolume},
		{"0.08 ppm O3", "o3", "ppm", 0.08, "156.9", 0.08 * 1000 * molar(quality.O3) / quality.MolarVolume},
		{"1 ppm CO", "co", "ppm", 1, "1.145", molar(quality.CO) / quality.MolarVolume},
		{"negative drift", "so2", "ppb", -0.3, "-0.7855", -0.3 * molar(quality.SO2) / quality.MolarVolume},
		{"CO in ug/m3", "co", "ug/m3", 1234.5, "1.2345", 1.2345},
		{"NO2 in mg/m3", "no2", "mg/m3", 0.0451, "45.1", 45.1},
		{"Pa", "pressure", "Pa", 101326.7, "1013.267", 1013.267},
		{"kPa", "pressure", "kPa", 101.33, "1013.3", 1013.3},
		{"K", "temp", "K", 293.15, "20", 20},
		{"K with one decimal", "temp", "K", 293.1, "19.95", 19.95},
		{"K with three decimals", "temp", "K", 300.123, "26.973", 26.973},
		{"ug/L", "tp", "ug/L", 20, "0.02", 0.02},
		{"ug/L small", "tp", "ug/L", 0.05, "0.00005", 0.00005},
		{"g/L", "do", "g/L", 0.0075, "7.5", 7.5},
		{"mS/cm", "conductivity", "mS/cm", 0.42, "420", 420},
		{"%RH unchanged", "rh", "%RH", 55.55, "55.55", 55.55},
		{"canonical unchanged", "so2", "ug/m3", 7.855058246474556, "7.855058246474556", 7.855058246474556},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			m, ok := reading.LookupMetric(tt.metric)
			if !ok {
				t.Fatalf("no metric %s", tt.metric)
			}
			got, rj := normalise(m, tt.in, []byte(tt.unit))
			if rj != nil {
				t.Fatal(rj)
			}
			if s := strconv.FormatFloat(got, 'g', -1, 64); s != tt.want && strconv.FormatFloat(got, 'f', -1, 64) != tt.want {
				t.Errorf("%v %s = %s %s, want %s", tt.in, tt.unit, s, m.Unit, tt.want)
			}
			if math.Abs(got-tt.exact) > 5e-4*math.Abs(tt.exact) {
				t.Errorf("%v %s = %v, too far from the exact %v", tt.in, tt.unit, got, tt.exact)
			}
		})
	}
}

// TestUnitsRoundHalfToEven checks GB/T 8170-2008's rule on exact ties.
func TestUnitsRoundHalfToEven(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		in   float64
		n    int
		want float64
	}{
		{1.125, 3, 1.12}, {1.375, 3, 1.38}, {2.5, 1, 2}, {3.5, 1, 4}, {1.1251, 3, 1.13},
	} {
		if got := roundSignificant(tt.in, tt.n); got != tt.want {
			t.Errorf("roundSignificant(%v, %d) = %v, want %v", tt.in, tt.n, got, tt.want)
		}
	}
	if got := roundDecimals(0.125, 2); got != 0.12 {
		t.Errorf("roundDecimals(0.125, 2) = %v, want 0.12", got)
	}
}
