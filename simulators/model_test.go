package simulators

import (
	"math"
	"slices"
	"testing"
	"time"

	"github.com/envmon/envmon/quality"
	"github.com/envmon/envmon/reading"
)

// series is one metric sampled over simulated time.
type series struct {
	t []time.Time
	v []float64
}

// generate runs a model from start every step for d and returns each
// metric's series.
func generate(t *testing.T, cfg ModelConfig, start time.Time, d, step time.Duration) map[string]*series {
	t.Helper()
	m, err := NewModel(cfg)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]*series{}
	for at := start; at.Before(start.Add(d)); at = at.Add(step) {
		vs := m.Values(at)
		if !slices.IsSortedFunc(vs, func(a, b reading.Value) int { return cmpString(a.Metric, b.Metric) }) {
			t.Fatalf("values at %s are not sorted by metric: %v", at, vs)
		}
		for _, v := range vs {
			s := out[v.Metric]
			if s == nil {
				s = &series{}
				out[v.Metric] = s
			}
			s.t = append(s.t, at)
			s.v = append(s.v, v.Value)
		}
	}
	return out
}

func cmpString(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// mean is the mean of s's values whose local hour h satisfies lo ≤ h < hi.
func (s *series) mean(loc *time.Location, lo, hi int) float64 {
	var sum float64
	var n int
	for i, at := range s.t {
		if h := at.In(loc).Hour(); h >= lo && h < hi {
			sum += s.v[i]
			n++
		}
	}
	return sum / float64(n)
}

func pearson(x, y []float64) float64 {
	var mx, my float64
	for i := range x {
		mx += x[i]
		my += y[i]
	}
	mx /= float64(len(x))
	my /= float64(len(y))
	var sxy, sxx, syy float64
	for i := range x {
		sxy += (x[i] - mx) * (y[i] - my)
		sxx += (x[i] - mx) * (x[i] - mx)
		syy += (y[i] - my) * (y[i] - my)
	}
	return sxy / math.Sqrt(sxx*syy)
}

var shanghai = time.FixedZone("CST", 8*3600)

// weekdays is Monday 2 to Friday 6 March 2026 in China Standard Time.
var weekdays = time.Date(2026, 3, 2, 0, 0, 0, 0, shanghai)

// TestAirShape checks a week of a city air station, over several seeds,
// for the documented shape.
func TestAirShape(t *testing.T) {
	t.Parallel()
	for seed := uint64(1); seed <= 5; seed++ {
		s := generate(t, ModelConfig{Medium: reading.Air, Seed: seed, Location: shanghai}, weekdays, 5*24*time.Hour, 5*time.Minute)
		o3, no2, pm25, pm10, co := s["o3"], s["no2"], s["pm25"], s["pm10"], s["co"]
		if a, n := o3.mean(shanghai, 13, 17), o3.mean(shanghai, 0, 6); a < n+30 {
			t.Errorf("seed %d: O3 afternoon mean %.1f is not 30 µg/m³ above the night's %.1f", seed, a, n)
		}
		mid := no2.mean(shanghai, 11, 15)
		if m, e := no2.mean(shanghai, 7, 9), no2.mean(shanghai, 17, 19); m < 1.2*mid || e < 1.2*mid {
			t.Errorf("seed %d: NO2 rush-hour means %.1f (7-9h) and %.1f (17-19h) are not 20%% above midday's %.1f", seed, m, e, mid)
		}
		for name, x := range map[string]*series{"CO": co, "PM2.5": pm25} {
			if m := x.mean(shanghai, 7, 9); m < 1.1*x.mean(shanghai, 11, 15) {
				t.Errorf("seed %d: %s has no morning rush-hour peak: %.2f vs midday %.2f", seed, name, m, x.mean(shanghai, 11, 15))
			}
		}
		// O3 runs opposite to NO2 over the day.
		if r := pearson(o3.v, no2.v); r > -0.3 {
			t.Errorf("seed %d: O3 and NO2 correlate at r = %.2f, want clearly negative", seed, r)
		}
		if r := pearson(pm25.v, pm10.v); r < 0.8 {
			t.Errorf("seed %d: PM2.5 and PM10 correlate at r = %.2f, want > 0.8", seed, r)
		}
		for i := range pm25.v {
			if pm10.v[i] < pm25.v[i] {
				t.Fatalf("seed %d: PM10 %.1f < PM2.5 %.1f at %s", seed, pm10.v[i], pm25.v[i], pm25.t[i])
			}
		}
		checkBounds(t, s)
	}
}

// TestAirWeekly: weekend traffic is lighter, so weekend NO2 is lower.
func TestAirWeekly(t *testing.T) {
	t.Parallel()
	var wk, we float64
	for seed := uint64(1); seed <= 6; seed++ {
		s := generate(t, ModelConfig{Medium: reading.Air, Seed: seed, Location: shanghai}, weekdays, 7*24*time.Hour, 10*time.Minute)
		for i, at := range s["no2"].t {
			if d := at.In(shanghai).Weekday(); d == time.Saturday || d == time.Sunday {
				we += s["no2"].v[i] / 2
			} else {
				wk += s["no2"].v[i] / 5
			}
		}
	}
	if we >= 0.95*wk {
		t.Errorf("weekend NO2 (%.0f) is not below the weekdays' (%.0f)", we, wk)
	}
}

// TestStagnationBuildsUp: a stagnation episode raises PM2.5 over hours,
// not at once, and calms the wind.
func TestStagnationBuildsUp(t *testing.T) {
	t.Parallel()
	from := weekdays.Add(24 * time.Hour)
	ep := Episode{Kind: Stagnation, From: from, To: from.Add(36 * time.Hour), Value: 3}
	base := generate(t, ModelConfig{Medium: reading.Air, Seed: 3, Location: shanghai}, weekdays, 4*24*time.Hour, 10*time.Minute)
	stag := generate(t, ModelConfig{Medium: reading.Air, Seed: 3, Location: shanghai, Episodes: []Episode{ep}}, weekdays, 4*24*time.Hour, 10*time.Minute)
	ratio := func(metric string, at time.Time) float64 {
		i := int(at.Sub(weekdays) / (10 * time.Minute))
		return stag[metric].v[i] / base[metric].v[i]
	}
	if r := ratio("pm25", from.Add(20*time.Minute)); r > 1.5 {
		t.Errorf("PM2.5 ×%.2f 20 minutes into stagnation: it should build up over hours", r)
	}
	if r := ratio("pm25", from.Add(12*time.Hour)); r < 2.5 {
		t.Errorf("PM2.5 ×%.2f 12 hours into stagnation, want about ×3", r)
	}
	if r := ratio("wind_speed", from.Add(12*time.Hour)); r > 0.6 {
		t.Errorf("wind ×%.2f in stagnation, want calmer", r)
	}
	if r := ratio("pm25", from.Add(48*time.Hour)); r < 0.8 || r > 1.25 {
		t.Errorf("PM2.5 ×%.2f long after stagnation, want back to normal", r)
	}
}

// TestLevelEpisode: "PM2.5 rises to 180 µg/m³ from 10:00 for 3 h", with
// PM10 following.
func TestLevelEpisode(t *testing.T) {
	t.Parallel()
	from := weekdays.Add(10 * time.Hour)
	ep := Episode{Kind: Level, Metrics: []string{"pm25"}, Value: 180, From: from, To: from.Add(3 * time.Hour)}
	s := generate(t, ModelConfig{Medium: reading.Air, Seed: 9, Location: shanghai, Episodes: []Episode{ep}}, weekdays, 24*time.Hour, 5*time.Minute)
	if m := s["pm25"].mean(shanghai, 11, 13); m < 160 || m > 200 {
		t.Errorf("PM2.5 11-13h mean %.1f, want about 180", m)
	}
	if m := s["pm10"].mean(shanghai, 11, 13); m < 200 {
		t.Errorf("PM10 11-13h mean %.1f does not follow PM2.5", m)
	}
	if m := s["pm25"].mean(shanghai, 15, 24); m > 120 {
		t.Errorf("PM2.5 after the episode %.1f, want back to normal", m)
	}
}

// TestWaterShape: DO is higher in the afternoon (photosynthesis) than
// before dawn, and follows temperature over the year (more oxygen in cold
// water); rain raises turbidity and nutrients and lowers conductivity.
func TestWaterShape(t *testing.T) {
	t.Parallel()
	loc := shanghai
	jan := time.Date(2026, 1, 12, 0, 0, 0, 0, loc)
	jul := time.Date(2026, 7, 13, 0, 0, 0, 0, loc)
	for seed := uint64(1); seed <= 5; seed++ {
		w := generate(t, ModelConfig{Medium: reading.Water, Seed: seed, Location: loc}, jan, 3*24*time.Hour, 10*time.Minute)
		s := generate(t, ModelConfig{Medium: reading.Water, Seed: seed, Location: loc}, jul, 3*24*time.Hour, 10*time.Minute)
		for name, x := range map[string]map[string]*series{"January": w, "July": s} {
			if a, d := x["do"].mean(loc, 13, 17), x["do"].mean(loc, 3, 7); a < d+0.5 {
				t.Errorf("seed %d %s: DO afternoon %.2f is not above the pre-dawn %.2f", seed, name, a, d)
			}
			if a, d := x["water_temp"].mean(loc, 14, 18), x["water_temp"].mean(loc, 3, 7); a <= d {
				t.Errorf("seed %d %s: water is not warmer in the afternoon", seed, name)
			}
			checkBounds(t, x)
		}
		if wd, sd := w["do"].mean(loc, 0, 24), s["do"].mean(loc, 0, 24); wd < sd+1.5 {
			t.Errorf("seed %d: January DO %.2f is not well above July's %.2f (colder water holds more oxygen)", seed, wd, sd)
		}
	}

	rain := Episode{Kind: Rain, From: jul.Add(24 * time.Hour), To: jul.Add(26 * time.Hour)}
	base := generate(t, ModelConfig{Medium: reading.Water, Seed: 2, Location: loc}, jul, 3*24*time.Hour, 10*time.Minute)
	wet := generate(t, ModelConfig{Medium: reading.Water, Seed: 2, Location: loc, Episodes: []Episode{rain}}, jul, 3*24*time.Hour, 10*time.Minute)
	at := func(m string, s map[string]*series, d time.Duration) float64 {
		return s[m].v[int((24*time.Hour+d)/(10*time.Minute))]
	}
	for _, m := range []string{"turbidity", "tp", "nh3n", "codmn"} {
		if b, r := at(m, base, 2*time.Hour), at(m, wet, 2*time.Hour); r < 2*b {
			t.Errorf("%s at the end of the rain %.3f, want well above the dry %.3f", m, r, b)
		}
	}
	if b, r := at("conductivity", base, 2*time.Hour), at("conductivity", wet, 2*time.Hour); r > 0.9*b {
		t.Errorf("conductivity %.0f in the rain, want diluted below %.0f", r, b)
	}
	if b, r := at("turbidity", base, 20*time.Hour), at("turbidity", wet, 20*time.Hour); r > 1.5*b {
		t.Errorf("turbidity %.1f a day after the rain, want receded towards %.1f", r, b)
	}
}

// TestNoiseZones: by every GB 3096-2008 zone, nights are quieter than
// days, a typical day stays near but mostly within the zone's limits,
// quieter zones are quieter, and night construction is loud.
func TestNoiseZones(t *testing.T) {
	t.Parallel()
	prevDay := 0.0
	for _, zone := range []quality.NoiseZone{quality.Zone0, quality.Zone1, quality.Zone2, quality.Zone3, quality.Zone4a} {
		dayLimit, nightLimit, _ := NoiseLimits(zone)
		s := generate(t, ModelConfig{Medium: reading.Noise, Seed: 4, Location: shanghai, NoiseZone: zone}, weekdays, 3*24*time.Hour, 5*time.Minute)
		laeq := s["laeq"]
		day := laeq.mean(shanghai, 6, 22)
		night := (laeq.mean(shanghai, 22, 24) + 3*laeq.mean(shanghai, 0, 6)) / 4
		if night > day-5 {
			t.Errorf("zone %s: night %.1f dB(A) is not well below day %.1f", zone, night, day)
		}
		if day > dayLimit || day < dayLimit-10 {
			t.Errorf("zone %s: day mean %.1f, want a little under the limit %.0f", zone, day, dayLimit)
		}
		if night > nightLimit || night < nightLimit-12 {
			t.Errorf("zone %s: night mean %.1f, want a little under the limit %.0f", zone, night, nightLimit)
		}
		if day <= prevDay {
			t.Errorf("zone %s: day %.1f is not louder than the quieter zone's %.1f", zone, day, prevDay)
		}
		prevDay = day
		for i := range laeq.v {
			if !(s["lmin"].v[i] <= s["l90"].v[i] && s["l90"].v[i] <= s["l50"].v[i] && s["l50"].v[i] <= s["l10"].v[i] && s["l10"].v[i] <= s["lmax"].v[i]) {
				t.Fatalf("zone %s: percentile levels out of order at %s", zone, laeq.t[i])
			}
		}
		checkBounds(t, s)
	}

	night := weekdays.Add(23 * time.Hour)
	ep := Episode{Kind: Construction, From: night, To: night.Add(4 * time.Hour)}
	s := generate(t, ModelConfig{Medium: reading.Noise, Seed: 4, Location: shanghai, NoiseZone: quality.Zone1, Episodes: []Episode{ep}}, weekdays, 2*24*time.Hour, 5*time.Minute)
	i := int(night.Add(time.Hour).Sub(weekdays) / (5 * time.Minute))
	if l := s["laeq"].v[i]; l < 70 {
		t.Errorf("night construction LAeq %.1f, want about 75", l)
	}
}

// checkBounds fails t if any value is outside its physical bounds.
func checkBounds(t *testing.T, s map[string]*series) {
	t.Helper()
	bounds := map[string][2]float64{
		"pm25": {0, 1000}, "pm10": {0, 2000}, "o3": {0, 1000}, "no2": {0, 1000}, "so2": {0, 1000}, "co": {0, 150},
		"temp": {-50, 60}, "rh": {0, 100}, "pressure": {850, 1100}, "wind_speed": {0, 75}, "wind_dir": {0, 360},
		"ph": {0, 14}, "do": {0, 20}, "codmn": {0, 100}, "nh3n": {0, 50}, "tp": {0, 20}, "tn": {0, 100},
		"turbidity": {0, 4000}, "water_temp": {-5, 45}, "conductivity": {0, 100000},
		"laeq": {20, 140}, "lmax": {20, 150}, "lmin": {20, 140}, "l10": {20, 140}, "l50": {20, 140}, "l90": {20, 140},
	}
	for metric, x := range s {
		b, ok := bounds[metric]
		if !ok {
			t.Errorf("unexpected metric %q", metric)
			continue
		}
		if _, ok := reading.LookupMetric(metric); !ok {
			t.Errorf("%q is not a canonical metric", metric)
		}
		for i, v := range x.v {
			if math.IsNaN(v) || v < b[0] || v > b[1] {
				t.Fatalf("%s = %v at %s is outside [%v, %v]", metric, v, x.t[i], b[0], b[1])
			}
		}
	}
}

// TestDeterministic: the same seed and start give identical output; a
// different seed gives different output.
func TestDeterministic(t *testing.T) {
	t.Parallel()
	for _, m := range reading.Media {
		a := generate(t, ModelConfig{Medium: m, Seed: 11, Location: shanghai}, weekdays, 24*time.Hour, 7*time.Minute)
		b := generate(t, ModelConfig{Medium: m, Seed: 11, Location: shanghai}, weekdays, 24*time.Hour, 7*time.Minute)
		c := generate(t, ModelConfig{Medium: m, Seed: 12, Location: shanghai}, weekdays, 24*time.Hour, 7*time.Minute)
		same, differ := true, false
		for metric := range a {
			same = same && slices.Equal(a[metric].v, b[metric].v)
			differ = differ || !slices.Equal(a[metric].v, c[metric].v)
		}
		if !same {
			t.Errorf("%s: the same seed gave different values", m)
		}
		if !differ {
			t.Errorf("%s: seeds 11 and 12 gave the same values", m)
		}
	}
}
