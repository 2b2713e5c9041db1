package simulators

import (
	"math"
	"time"

	"github.com/envmon/envmon/reading"
)

// waterModel is a river monitoring buoy of a GB 3838-2002 class III water
// body. Water temperature follows the season and, weakly, the day.
// Dissolved oxygen follows the saturation of that temperature (higher in
// cold water), with a photosynthetic swing that peaks mid-afternoon and a
// respiration low before dawn; pH swings with it. The permanganate index,
// ammonia nitrogen, phosphorus, nitrogen, turbidity and conductivity drift
// slowly. Rain washes runoff in: turbidity and nutrients rise within the
// hour and recede over about six hours, while dilution lowers conductivity
// and the oxygen demand lowers DO.
type waterModel struct {
	model
	wtemp, do, ph, codmn, nh3n, tp, tn, turb, cond ou
	runoff                                         float64 // 0 dry, about the rain intensity at full runoff
}

func newWater(b model) *waterModel {
	slow := func(sd float64) ou { return ou{tau: 48 * time.Hour, sd: sd} }
	return &waterModel{
		model: b,
		wtemp: ou{tau: 72 * time.Hour, sd: 1},
		do:    ou{tau: 3 * time.Hour, sd: 0.15},
		ph:    slow(0.1),
		codmn: slow(0.15),
		nh3n:  slow(0.2),
		tp:    slow(0.2),
		tn:    slow(0.15),
		turb:  ou{tau: 24 * time.Hour, sd: 0.25},
		cond:  slow(0.05),
	}
}

// doSaturation is the oxygen solubility of fresh water at temperature T
// (°C) and sea-level pressure, in mg/L.
func doSaturation(T float64) float64 {
	return 14.652 - 0.41022*T + 0.007991*T*T - 0.000077774*T*T*T
}

func (w *waterModel) Values(t time.Time) []reading.Value {
	dt := w.step(t)
	lt := t.In(w.loc)
	h := hourOfDay(lt)
	x := func(p *ou) float64 { return p.step(w.rng, dt) }
	dT, dDO, dPH := x(&w.wtemp), x(&w.do), x(&w.ph)
	xCOD, xNH, xTP, xTN, xTurb, xCond := x(&w.codmn), x(&w.nh3n), x(&w.tp), x(&w.tn), x(&w.turb), x(&w.cond)

	// Runoff follows the rain: it rises with a 45-minute time constant
	// while it rains and recedes with a 5-hour one after.
	rw, ri := w.strength(t, Rain, 1, 15*time.Minute)
	target, tau := rw*ri, 45*time.Minute
	if target < w.runoff {
		tau = 5 * time.Hour
	}
	w.runoff = relax(w.runoff, target, dt, tau)
	r := w.runoff

	summer := season(lt, 200)
	wt := 17 + 8*summer + 1.2*math.Cos(2*math.Pi*(h-16)/24) + dT - 0.5*r
	photo := bump(h, 14, 3) * (1 + 0.3*summer)
	do := doSaturation(wt)*(0.8+0.18*photo) + dDO - 1.5*r
	ph := 7.45 + 0.35*photo + dPH - 0.2*r
	codmn := 3.2*math.Exp(xCOD) + 5*r
	nh3n := 0.35*math.Exp(xNH)*(1+0.15*bump(h, 9, 3)) + 0.7*r
	tp := 0.08*math.Exp(xTP) + 0.2*r
	tn := 1.4*math.Exp(xTN) + 1.2*r
	turb := 9*math.Exp(xTurb) + 120*r
	cond := 420 * math.Exp(xCond) * (1 - 0.3*math.Min(r, 1.5)/1.5)

	vs := []reading.Value{
		{Metric: "codmn", Value: codmn},
		{Metric: "conductivity", Value: cond},
		{Metric: "do", Value: do},
		{Metric: "nh3n", Value: nh3n},
		{Metric: "ph", Value: ph},
		{Metric: "tn", Value: tn},
		{Metric: "tp", Value: tp},
		{Metric: "turbidity", Value: turb},
		{Metric: "water_temp", Value: wt},
	}
	for i := range vs {
		v := &vs[i]
		v.Value = waterBounds(v.Metric, w.level(t, v.Metric, v.Value))
	}
	return vs
}

// waterBounds keeps a value physical and rounds it as an analyser does.
func waterBounds(metric string, v float64) float64 {
	switch metric {
	case "ph":
		return round(clamp(v, 2, 12), 2)
	case "do":
		return round(clamp(v, 0.05, 20), 2)
	case "codmn":
		return round(clamp(v, 0.1, 100), 2)
	case "nh3n", "tp":
		return round(clamp(v, 0.005, 50), 3)
	case "tn":
		return round(clamp(v, 0.01, 100), 2)
	case "turbidity":
		return round(clamp(v, 0.1, 4000), 1)
	case "conductivity":
		return round(clamp(v, 5, 100000), 0)
	case "water_temp":
		return round(clamp(v, 0, 40), 1)
	}
	return v
}
