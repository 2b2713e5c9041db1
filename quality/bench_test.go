package quality

import "testing"

// BenchmarkAQI indexes a full set of pollutants, as a real-time report
// gives them.
func BenchmarkAQI(b *testing.B) {
	var china, epa Concentrations
	china.Set(PM25, Hour24, 75.3)
	china.Set(PM10, Hour24, 88)
	china.Set(SO2, Hour1, 12)
	china.Set(NO2, Hour1, 41)
	china.Set(CO, Hour1, 0.8)
	china.Set(O3, Hour1, 160)
	china.Set(O3, Hour8, 120)
	epa.Set(PM25, Hour24, 35.9)
	epa.Set(PM10, Hour24, 88)
	epa.Set(SO2, Hour1, 12)
	epa.Set(NO2, Hour1, 41)
	epa.Set(CO, Hour8, 0.8)
	epa.Set(O3, Hour1, 0.13)
	epa.Set(O3, Hour8, 0.078)
	for _, bc := range []struct {
		std Standard
		c   *Concentrations
	}{{HJ633v2026, &china}, {HJ633v2012, &china}, {EPA2024, &epa}} {
		b.Run(bc.std.String(), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := bc.std.AQI(bc.c); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkNowCast computes a PM2.5 NowCast from 12 hours: with the weight
// at its floor of 1/2, above it as a small fraction (3/4; both in int64
// arithmetic), and above it as a large one (math/big).
func BenchmarkNowCast(b *testing.B) {
	for _, bc := range []struct {
		name string
		in   []float64
	}{
		{"weight-0.5", []float64{50, 80, 75, 90, 82, 53, 64, 74, 21, 10, 16, 13}},
		{"weight-0.75", []float64{30, 32, 35, 33, 31, 36, 40, 38, 37, 35, 34, 36}},
		{"weight-0.96", []float64{20.1, 20.3, 20.8, 20.2, 20.4, 20.6, 20.5, 20.2, 20.0, 20.7, 20.9, 20.83}},
	} {
		h := hours(bc.in...)
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := NowCast(PM25, h); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
