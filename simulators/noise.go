package simulators

import (
	"math"
	"time"

	"github.com/envmon/envmon/quality"
	"github.com/envmon/envmon/reading"
)

// noiseZone is a GB 3096-2008 acoustic environment zone: its day and night
// limits, and how much traffic there is.
type noiseZone struct {
	Day, Night float64 // limits, dB(A)
	traffic    float64 // weight of rush-hour peaks
}

// noiseZones are the zone classes of GB 3096-2008 Table 1.
var noiseZones = map[quality.NoiseZone]noiseZone{
	quality.Zone0:  {50, 40, 0.4},
	quality.Zone1:  {55, 45, 0.6},
	quality.Zone2:  {60, 50, 0.8},
	quality.Zone3:  {65, 55, 0.8},
	quality.Zone4a: {70, 55, 1.3},
	quality.Zone4b: {70, 60, 1},
}

// NoiseLimits returns the day and night LAeq limits of a GB 3096-2008 zone
// class.
func NoiseLimits(zone quality.NoiseZone) (day, night float64, ok bool) {
	z, ok := noiseZones[zone]
	return z.Day, z.Night, ok
}

// noiseModel is a noise monitor in a GB 3096-2008 zone. A typical day sits
// about 6 dB below the zone's day limit and a night about 5 dB below its
// night limit, with rush-hour peaks, quieter weekends and the occasional
// loud pass-by in Lmax. Construction adds its own level by energy.
type noiseModel struct {
	model
	zone noiseZone
	slow ou // dB
}

func newNoise(b model, z noiseZone) *noiseModel {
	return &noiseModel{model: b, zone: z, slow: ou{tau: 30 * time.Minute, sd: 1.5}}
}

func (n *noiseModel) Values(t time.Time) []reading.Value {
	dt := n.step(t)
	lt := t.In(n.loc)
	h := hourOfDay(lt)
	slow := n.slow.step(n.rng, dt)
	g := [4]float64{n.rng.NormFloat64(), n.rng.NormFloat64(), n.rng.NormFloat64(), n.rng.NormFloat64()}

	day, night := n.zone.Day-6, n.zone.Night-5
	if wd := lt.Weekday(); wd == time.Saturday || wd == time.Sunday {
		day -= 1.5
	}
	// Activity rises around 06:00 and falls around 22:30.
	activity := logistic((h-6)/0.5) * logistic((22.5-h)/0.6)
	peaks := 2.5 * n.zone.traffic * (bump(h, 8, 1.2) + bump(h, 18, 1.5))
	laeq := night + (day-night)*activity + peaks + slow + 0.8*g[0]
	impact := 0.0
	if w, lc := n.strength(t, Construction, 75, time.Minute); w > 0 {
		lc += 2 * n.erng.NormFloat64()
		laeq = 10 * math.Log10(math.Pow(10, laeq/10)+w*math.Pow(10, lc/10))
		impact = 8 + 4*math.Abs(n.erng.NormFloat64()) // pile driving, breakers
	}
	laeq = n.level(t, "laeq", laeq)
	lmax := laeq + 9 + 5*math.Abs(g[1]) + impact
	l10 := laeq + 1.5 + 0.6*math.Abs(g[2])
	l50 := laeq - 2.5
	l90 := laeq - 6 - math.Abs(g[3])
	lmin := l90 - 2 - 0.5*math.Abs(g[3])

	vs := []reading.Value{
		{Metric: "l10", Value: l10},
		{Metric: "l50", Value: l50},
		{Metric: "l90", Value: l90},
		{Metric: "laeq", Value: laeq},
		{Metric: "lmax", Value: lmax},
		{Metric: "lmin", Value: lmin},
	}
	for i := range vs {
		v := &vs[i]
		if v.Metric != "laeq" {
			v.Value = n.level(t, v.Metric, v.Value)
		}
		v.Value = round(clamp(v.Value, 20, 140), 1)
	}
	return vs
}
