package simulators

import (
	"math"
	"time"

	"github.com/envmon/envmon/reading"
)

// airModel is an urban air micro-station. Local traffic emits PM, NO2 and
// CO with morning and evening rush hours and less at weekends; a regional
// background drifts over days and is higher in winter; the mixing layer
// deepens in the afternoon and dilutes local emissions; ozone forms in
// afternoon sunshine and is titrated by NO2, so it runs opposite to it.
// PM10 is PM2.5 plus road dust, so the two are strongly correlated.
type airModel struct {
	model
	traffic  float64 // the site's exposure to traffic, 0.75-1.25
	ratio    float64 // the site's PM10/PM2.5 ratio, 1.45-1.85
	regional ou      // log-multiplier of the regional background
	weather  ou      // temperature anomaly, °C
	humid    ou      // relative humidity anomaly, %
	wind     ou      // log-multiplier of wind speed
	dir      ou      // wind direction anomaly, °
	pressure ou      // pressure anomaly, hPa
	noise    [6]ou   // short-term log-variability per pollutant
}

func newAir(b model) *airModel {
	a := &airModel{
		model:    b,
		regional: ou{tau: 18 * time.Hour, sd: 0.3},
		weather:  ou{tau: 36 * time.Hour, sd: 2},
		humid:    ou{tau: 12 * time.Hour, sd: 6},
		wind:     ou{tau: 6 * time.Hour, sd: 0.35},
		dir:      ou{tau: 8 * time.Hour, sd: 60},
		pressure: ou{tau: 48 * time.Hour, sd: 5},
	}
	a.traffic = 0.75 + 0.5*b.rng.Float64()
	a.ratio = 1.45 + 0.4*b.rng.Float64()
	for i := range a.noise {
		a.noise[i] = ou{tau: 20 * time.Minute, sd: 0.12}
	}
	return a
}

// trafficShape is the relative traffic over a weekday, by local hour:
// little at night, rush hours around 08:00 and 18:30, some at midday.
func trafficShape(h float64) float64 {
	return 0.12 + bump(h, 8, 1.2) + 0.85*bump(h, 18.5, 1.5) + 0.35*bump(h, 13, 2.5)
}

// weekFactor scales traffic by the day of the week.
func weekFactor(d time.Weekday) float64 {
	switch d {
	case time.Saturday:
		return 0.8
	case time.Sunday:
		return 0.7
	}
	return 1
}

func (a *airModel) Values(t time.Time) []reading.Value {
	dt := a.step(t)
	lt := t.In(a.loc)
	h := hourOfDay(lt)
	var n [6]float64
	for i := range a.noise {
		n[i] = a.noise[i].step(a.rng, dt)
	}
	R := math.Exp(a.regional.step(a.rng, dt))
	dT := a.weather.step(a.rng, dt)
	dRH := a.humid.step(a.rng, dt)
	W := math.Exp(a.wind.step(a.rng, dt))
	dDir := a.dir.step(a.rng, dt)
	dP := a.pressure.step(a.rng, dt)

	winter := season(lt, 15)  // 1 in mid-January, -1 in mid-July
	summer := season(lt, 196) // the opposite
	traffic := a.traffic * weekFactor(lt.Weekday()) * trafficShape(h)
	dil := 1 + bump(h, 14, 3) // the afternoon's deep mixing layer
	local := traffic / dil
	sw, sv := a.strength(t, Stagnation, 3, 4*time.Hour)
	stag := 1 + sw*(sv-1)
	fog, _ := a.strength(t, Fog, 1, time.Hour)
	daylight := bump(h, 13, 2.6)
	photo := bump(h, 15, 2.8) // ozone accumulates into the afternoon

	pm25 := (22*(1+0.35*winter)*R + 20*local) * stag * math.Exp(n[0])
	pm25 *= 1 + 0.4*fog // hygroscopic growth; optical sensors over-read
	pm25 = math.Max(1, a.level(t, "pm25", pm25))
	pm10 := pm25*a.ratio*math.Exp(0.5*n[1]) + 6*local*math.Exp(n[1])
	no2 := (14*math.Sqrt(R) + 42*local) * stag * (1 - 0.3*daylight) * math.Exp(n[3])
	o3 := ((38+95*(1+0.35*summer)*photo)/math.Sqrt(stag) - 0.45*no2) * math.Exp(n[2])
	so2 := (5 + 4*local) * (1 + 0.3*winter) * math.Sqrt(R) * math.Pow(stag, 0.7) * math.Exp(n[4])
	co := (0.35*(1+0.3*winter)*math.Sqrt(R) + 0.65*local) * stag * math.Exp(n[5])

	tmean := 16 - 9*winter
	diurnal := 4.5 * math.Cos(2*math.Pi*(h-15)/24)
	temp := tmean + diurnal + dT
	rh := 62 - 3*diurnal + dRH
	rh = (1-fog)*rh + fog*(97.5+0.7*a.erng.NormFloat64())
	wind := (1.6 + 1.4*bump(h, 15, 3.5)) * W / math.Pow(stag, 0.8)
	dir := math.Mod(math.Mod(200+dDir, 360)+360, 360)
	pressure := 1013 + 6*winter + 0.8*math.Cos(2*math.Pi*(h-10)/12) + dP

	vs := []reading.Value{
		{Metric: "co", Value: co},
		{Metric: "no2", Value: no2},
		{Metric: "o3", Value: o3},
		{Metric: "pm10", Value: pm10},
		{Metric: "pm25", Value: pm25},
		{Metric: "pressure", Value: pressure},
		{Metric: "rh", Value: rh},
		{Metric: "so2", Value: so2},
		{Metric: "temp", Value: temp},
		{Metric: "wind_dir", Value: dir},
		{Metric: "wind_speed", Value: wind},
	}
	for i := range vs {
		v := &vs[i]
		if v.Metric != "pm25" {
			v.Value = a.level(t, v.Metric, v.Value)
		}
		v.Value = airBounds(v.Metric, v.Value)
	}
	// PM10 includes PM2.5.
	vs[3].Value = math.Max(vs[3].Value, vs[4].Value)
	return vs
}

// airBounds keeps a value physical and rounds it as a micro-station does.
func airBounds(metric string, v float64) float64 {
	switch metric {
	case "co":
		return round(clamp(v, 0.05, 150), 2)
	case "pm25", "pm10", "o3", "no2", "so2":
		return round(clamp(v, 1, 1000), 1)
	case "rh":
		return round(clamp(v, 5, 100), 1)
	case "temp":
		return round(clamp(v, -45, 55), 1)
	case "wind_speed":
		return round(clamp(v, 0, 40), 1)
	case "wind_dir":
		return math.Mod(round(v, 0), 360)
	case "pressure":
		return round(clamp(v, 870, 1085), 1)
	}
	return v
}
