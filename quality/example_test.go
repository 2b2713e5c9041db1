package quality_test

import (
	"fmt"
	"time"

	"github.com/envmon/envmon/quality"
)

func ExampleStandard_AQI() {
	var c quality.Concentrations
	c.Set(quality.PM25, quality.Hour24, 16)
	c.Set(quality.PM10, quality.Hour24, 88)
	c.Set(quality.O3, quality.Hour1, 75)

	measured := time.Date(2025, 11, 3, 14, 0, 0, 0, time.UTC)
	s := quality.StandardAt(measured)
	r, err := s.AQI(&c)
	if err != nil {
		fmt.Println(err)
		return
	}
	info := r.Info()
	fmt.Println(s.Title(), r.AQI, r.Level, info.NameZH, info.Name, info.Color, r.Primary)
	pm10, _ := r.IAQI(quality.PM10, quality.Hour24)
	fmt.Println("PM10 IAQI", pm10)
	// Output:
	// HJ 633-2012 69 2 良 Good #FFFF00 pm10
	// PM10 IAQI 69
}

func ExampleStandard_AQI_beyondTheTable() {
	var c quality.Concentrations
	c.Set(quality.PM25, quality.Hour24, 600)
	_, err := quality.HJ633v2026.AQI(&c)
	fmt.Println(err)
	// Output:
	// pm25_24h=600 is beyond the top of the HJ 633-2026 table (500)
}

func ExampleNowCast() {
	hourly := []quality.Mean{} // oldest first
	for _, v := range []float64{50, 80, 75, 90, 82, 53, 64, 74, 21, 10, 16, 13} {
		hourly = append(hourly, quality.Mean{Value: v, Valid: true})
	}
	nc, err := quality.NowCast(quality.PM25, hourly)
	if err != nil {
		fmt.Println(err)
		return
	}
	aqi, _ := quality.EPA2024.IAQI(quality.PM25, quality.Hour24, nc.Value)
	fmt.Println(nc.Value, nc.Weight, aqi)
	// Output: 17.4 0.5 66
}

func ExampleToMassConcentration() {
	ugm3, _ := quality.ToMassConcentration(quality.NO2, 53, quality.PPB)
	fmt.Printf("%.1f µg/m³\n", ugm3)
	// Output: 99.7 µg/m³
}

func ExampleClassifyWater() {
	a, err := quality.ClassifyWater(quality.River, []quality.WaterReading{
		{Key: "ph", Value: 7.6}, {Key: "do", Value: 6.8}, {Key: "codmn", Value: 4.2},
		{Key: "nh3n", Value: 0.42}, {Key: "tp", Value: 0.12}, {Key: "water_temp", Value: 17},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, p := range a.Parameters {
		fmt.Printf("%s=%v %q\n", p.Key, p.Value, p.Class.String())
	}
	fmt.Println("site", a.Class, a.Determining, "meets III:", a.Meets(quality.ClassIII))
	// Output:
	// ph=7.6 "I"
	// do=6.8 "II"
	// codmn=4.2 "III"
	// nh3n=0.42 "II"
	// tp=0.12 "III"
	// water_temp=17 ""
	// site III [codmn tp] meets III: true
}

func ExampleDayNight() {
	var hourly [24]quality.Mean // indexed by local clock hour
	for h := range hourly {
		level := 48.0
		if quality.IsDayHour(h) {
			level = 58
		}
		hourly[h] = quality.Mean{Value: level, Valid: true}
	}
	dn, _ := quality.DayNight(&hourly)
	a, _ := quality.AssessNoise(quality.Zone2, dn, []float64{66})
	fmt.Printf("Ld %.1f Ln %.1f Ldn %.1f\n", dn.Ld, dn.Ln, dn.Ldn)
	fmt.Println("day exceeds:", a.DayExceeds(), "night exceeds:", a.NightExceeds(), "Lmax over:", a.LmaxExceeding)
	// Output:
	// Ld 58.0 Ln 48.0 Ldn 58.0
	// day exceeds: false night exceeds: false Lmax over: 1
}
