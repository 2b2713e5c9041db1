package simulators

import (
	"fmt"
	"math"
	"math/rand/v2"
	"time"

	"github.com/envmon/envmon/quality"
	"github.com/envmon/envmon/reading"
)

// A Model generates what one station measures in one medium, in the
// canonical units of docs/MQTT.md and within physical bounds. It is
// deterministic: the same ModelConfig and the same sequence of times give
// the same values. A Model is not safe for concurrent use.
type Model interface {
	// Values returns the values measured at t, sorted by metric. Times
	// must not go backwards; gaps of any length are fine.
	Values(t time.Time) []reading.Value
}

// ModelConfig configures a Model.
type ModelConfig struct {
	Medium reading.Medium
	// Seed makes the model's randomness reproducible; each station should
	// have its own.
	Seed uint64
	// Location is the station's time zone, for the daily and weekly
	// cycles; default UTC.
	Location *time.Location
	// NoiseZone is a noise station's GB 3096-2008 zone class; default 2.
	NoiseZone quality.NoiseZone
	// Episodes change what the station measures: level, stagnation, fog,
	// rain, construction. Faults and other media's episodes are ignored.
	Episodes []Episode
}

// NewModel returns the model of cfg.Medium.
func NewModel(cfg ModelConfig) (Model, error) {
	if cfg.Location == nil {
		cfg.Location = time.UTC
	}
	var eps []Episode
	for _, e := range cfg.Episodes {
		if e.Kind.Fault() || !e.touches(cfg.Medium, "") {
			continue
		}
		if err := e.Validate(); err != nil {
			return nil, err
		}
		eps = append(eps, e)
	}
	base := model{
		rng:    rand.New(rand.NewPCG(cfg.Seed, uint64(len(cfg.Medium))<<32|0x5eed)),
		erng:   rand.New(rand.NewPCG(cfg.Seed, 0xe915)),
		loc:    cfg.Location,
		medium: cfg.Medium,
		eps:    eps,
	}
	switch cfg.Medium {
	case reading.Air:
		return newAir(base), nil
	case reading.Water:
		return newWater(base), nil
	case reading.Noise:
		zone := cfg.NoiseZone
		if zone == 0 {
			zone = quality.Zone2
		}
		z, ok := noiseZones[zone]
		if !ok {
			return nil, fmt.Errorf("noise zone %v is not a GB 3096-2008 class (0, 1, 2, 3, 4a, 4b)", cfg.NoiseZone)
		}
		return newNoise(base, z), nil
	}
	return nil, fmt.Errorf("unknown medium %q (want air, water or noise)", cfg.Medium)
}

// model is what every medium's model shares: randomness, the clock and
// the episodes.
type model struct {
	rng    *rand.Rand // the weather and the sensor's noise
	erng   *rand.Rand // the episodes' own noise, so episodes leave the rest unchanged
	loc    *time.Location
	medium reading.Medium
	eps    []Episode
	last   time.Time
}

// step advances the model's clock to t and returns the time since the
// previous step (zero on the first).
func (m *model) step(t time.Time) time.Duration {
	var dt time.Duration
	if !m.last.IsZero() && t.After(m.last) {
		dt = t.Sub(m.last)
	}
	m.last = t
	return dt
}

// level applies the level episodes of metric to v at t.
func (m *model) level(t time.Time, metric string, v float64) float64 {
	for _, e := range m.eps {
		if e.Kind != Level || !e.touches(m.medium, metric) {
			continue
		}
		if w := e.weight(t, 30*time.Minute); w > 0 {
			target := e.Value * math.Exp(0.06*m.erng.NormFloat64())
			v = (1-w)*v + w*target
		}
	}
	return v
}

// strength returns the combined weight × value of kind's episodes at t:
// the largest one active.
func (m *model) strength(t time.Time, kind EpisodeKind, def float64, ramp time.Duration) (w, value float64) {
	for _, e := range m.eps {
		if e.Kind != kind {
			continue
		}
		if ew := e.weight(t, ramp); ew > w {
			w, value = ew, e.valueOr(def)
		}
	}
	return w, value
}

// ou is an Ornstein-Uhlenbeck process: a mean-reverting random walk of
// standard deviation sd and correlation time tau, stepped exactly for any
// time step, so its statistics do not depend on the reading interval.
type ou struct {
	tau  time.Duration
	sd   float64
	x    float64
	init bool
}

func (p *ou) step(rng *rand.Rand, dt time.Duration) float64 {
	n := rng.NormFloat64()
	if !p.init {
		p.init = true
		p.x = p.sd * n
		return p.x
	}
	a := math.Exp(-float64(dt) / float64(p.tau))
	p.x = p.x*a + p.sd*math.Sqrt(1-a*a)*n
	return p.x
}

// relax moves x toward target with time constant tau over dt.
func relax(x, target float64, dt, tau time.Duration) float64 {
	return target + (x-target)*math.Exp(-float64(dt)/float64(tau))
}

// hourOfDay is the local clock hour as a fraction, 0 ≤ h < 24.
func hourOfDay(t time.Time) float64 {
	return float64(t.Hour()) + float64(t.Minute())/60 + float64(t.Second())/3600
}

// bump is a smooth peak of height 1 centred on hour c with width w hours,
// wrapping around midnight.
func bump(h, c, w float64) float64 {
	d := math.Abs(h - c)
	d = math.Min(d, 24-d)
	return math.Exp(-d * d / (2 * w * w))
}

// season is cos of the year's phase, 1 at day of year peak and -1 half a
// year later.
func season(t time.Time, peak int) float64 {
	return math.Cos(2 * math.Pi * float64(t.YearDay()-peak) / 365.25)
}

// logistic rises from 0 to 1 around x = 0.
func logistic(x float64) float64 { return 1 / (1 + math.Exp(-x)) }

func clamp(v, lo, hi float64) float64 { return math.Max(lo, math.Min(hi, v)) }

func round(v float64, places int) float64 {
	p := math.Pow10(places)
	return math.Round(v*p) / p
}
