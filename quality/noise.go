package quality

import (
	"errors"
	"fmt"
	"math"
	"strings"
	"time"
)

// Day and night of GB 3096-2008 §3 (terms): day ("昼间") is 06:00-22:00
// and night ("夜间") 22:00-06:00, local time.
const (
	DayStartHour   = 6
	NightStartHour = 22
)

// IsDayHour reports whether local clock hour h (0-23) is in the day of
// GB 3096-2008: 06:00 ≤ h < 22:00.
func IsDayHour(h int) bool { return h >= DayStartHour && h < NightStartHour }

// IsDaytime reports whether t falls in the day of GB 3096-2008 in the
// station's time zone loc (for China, time.LoadLocation("Asia/Shanghai")).
func IsDaytime(t time.Time, loc *time.Location) bool { return IsDayHour(t.In(loc).Hour()) }

// Leq returns the equivalent continuous sound level of levels, in dB(A):
// the energy mean Leq = 10·lg(Σ 10^(0.1·Li) / n). It is an error if levels
// is empty or holds a value that is not finite.
func Leq(levels []float64) (float64, error) {
	if len(levels) == 0 {
		return 0, errors.New("leq: no levels")
	}
	var sum float64
	for _, l := range levels {
		if math.IsNaN(l) || math.IsInf(l, 0) {
			return 0, fmt.Errorf("leq: %s is not a sound level", formatValue(l))
		}
		sum += math.Pow(10, 0.1*l)
	}
	return 10 * math.Log10(sum/float64(len(levels))), nil
}

// DayNightLevels are the day, night and day-night levels of one day.
type DayNightLevels struct {
	Ld float64 // day level: energy mean of the day hours' Leq
	Ln float64 // night level: energy mean of the night hours' Leq
	// Ldn is the day-night level, the night weighted by 10 dB:
	// Ldn = 10·lg((16·10^(0.1·Ld) + 8·10^(0.1·(Ln+10))) / 24).
	Ldn float64
	// DayHours and NightHours are the numbers of valid hours averaged.
	DayHours, NightHours int
}

// DayNight returns the levels of one day from its hourly Leq values,
// indexed by local clock hour: hourly[h] covers h:00 to h+1:00 in the
// station's time zone, so hours 6-21 are day and 22-23 and 0-5 night
// (GB 3096-2008). Invalid hours are missing and left out of the means; the
// counts say how many were used. It is an error if the day or the night
// has no valid hour, or a valid hour is not finite.
func DayNight(hourly *[24]Mean) (DayNightLevels, error) {
	var dn DayNightLevels
	var day, night float64
	for h, m := range hourly {
		if !m.Valid {
			continue
		}
		if math.IsNaN(m.Value) || math.IsInf(m.Value, 0) {
			return DayNightLevels{}, fmt.Errorf("day-night levels: hour %d: %s is not a sound level", h, formatValue(m.Value))
		}
		e := math.Pow(10, 0.1*m.Value)
		if IsDayHour(h) {
			day += e
			dn.DayHours++
		} else {
			night += e
			dn.NightHours++
		}
	}
	if dn.DayHours == 0 || dn.NightHours == 0 {
		return DayNightLevels{}, fmt.Errorf("day-night levels: need valid hours by day and by night, have %d and %d", dn.DayHours, dn.NightHours)
	}
	dn.Ld = 10 * math.Log10(day/float64(dn.DayHours))
	dn.Ln = 10 * math.Log10(night/float64(dn.NightHours))
	dn.Ldn = 10 * math.Log10((16*math.Pow(10, 0.1*dn.Ld)+8*math.Pow(10, 0.1*(dn.Ln+10)))/24)
	return dn, nil
}

// A NoiseZone is an acoustic environment functional zone of GB 3096-2008.
type NoiseZone uint8

// The zones of GB 3096-2008 §4.
const (
	Zone0  NoiseZone = iota + 1 // 0: convalescent areas needing special quiet
	Zone1                       // 1: mainly residential, medical, education, research, administration
	Zone2                       // 2: commercial and mixed residential, commercial and industrial
	Zone3                       // 3: industrial production and warehousing
	Zone4a                      // 4a: both sides of expressways, main roads, urban rail, inland waterways
	Zone4b                      // 4b: both sides of railway trunk lines
)

// String returns the zone as GB 3096-2008 names it: "0", "1", "2", "3",
// "4a" or "4b".
func (z NoiseZone) String() string {
	switch z {
	case Zone0:
		return "0"
	case Zone1:
		return "1"
	case Zone2:
		return "2"
	case Zone3:
		return "3"
	case Zone4a:
		return "4a"
	case Zone4b:
		return "4b"
	}
	return fmt.Sprintf("NoiseZone(%d)", uint8(z))
}

// ParseNoiseZone returns the zone written s: "0", "1", "2", "3", "4a" or
// "4b".
func ParseNoiseZone(s string) (NoiseZone, error) {
	for z := Zone0; z <= Zone4b; z++ {
		if strings.EqualFold(s, z.String()) {
			return z, nil
		}
	}
	return 0, fmt.Errorf("unknown noise zone %q (want 0, 1, 2, 3, 4a or 4b)", s)
}

// NoiseLimits are a zone's limits in dB(A).
type NoiseLimits struct {
	Day   float64 // limit of the day level Ld
	Night float64 // limit of the night level Ln
	// NightLmax is the largest maximum level a single night event may
	// reach: the night limit plus 15 dB(A) (GB 3096-2008 §5, "夜间突发噪声").
	NightLmax float64
}

// noiseLimits is GB 3096-2008 Table 1 ("环境噪声限值"), by zone, with the
// night Lmax limit of §5 (night limit + 15 dB(A)). Read-only.
var noiseLimits = [...]NoiseLimits{
	Zone0:  {Day: 50, Night: 40, NightLmax: 55},
	Zone1:  {Day: 55, Night: 45, NightLmax: 60},
	Zone2:  {Day: 60, Night: 50, NightLmax: 65},
	Zone3:  {Day: 65, Night: 55, NightLmax: 70},
	Zone4a: {Day: 70, Night: 55, NightLmax: 70},
	Zone4b: {Day: 70, Night: 60, NightLmax: 75},
}

// Limits returns the zone's limits, and false for an invalid zone.
func (z NoiseZone) Limits() (NoiseLimits, bool) {
	if z < Zone0 || z > Zone4b {
		return NoiseLimits{}, false
	}
	return noiseLimits[z], true
}

// A NoiseAssessment compares a day's levels with its zone's limits.
type NoiseAssessment struct {
	Zone   NoiseZone
	Limits NoiseLimits
	Levels DayNightLevels
	// DayExcess and NightExcess are by how much Ld and Ln exceed their
	// limits, in dB(A), rounded to 0.1; zero or negative means within.
	DayExcess, NightExcess float64
	// NightEvents is the number of night maximum levels given, and
	// LmaxExceeding how many of them exceed Limits.NightLmax.
	NightEvents, LmaxExceeding int
}

// DayExceeds reports whether the day level exceeds the day limit.
func (a *NoiseAssessment) DayExceeds() bool { return a.DayExcess > 0 }

// NightExceeds reports whether the night level exceeds the night limit.
func (a *NoiseAssessment) NightExceeds() bool { return a.NightExcess > 0 }

// Exceeds reports whether any limit is exceeded.
func (a *NoiseAssessment) Exceeds() bool {
	return a.DayExceeds() || a.NightExceeds() || a.LmaxExceeding > 0
}

// AssessNoise compares levels with zone z's limits (GB 3096-2008 Table 1):
// Ld with the day limit, Ln with the night limit, and each of nightLmax,
// the maximum levels of single night events, with the night limit plus
// 15 dB(A). Levels are compared after rounding to 0.1 dB(A), the
// resolution they are reported to, so that 55.00000001 does not exceed 55.
func AssessNoise(z NoiseZone, levels DayNightLevels, nightLmax []float64) (NoiseAssessment, error) {
	lim, ok := z.Limits()
	if !ok {
		return NoiseAssessment{}, fmt.Errorf("assess noise: unknown zone %v", z)
	}
	a := NoiseAssessment{
		Zone:        z,
		Limits:      lim,
		Levels:      levels,
		DayExcess:   round1(round1(levels.Ld) - lim.Day),
		NightExcess: round1(round1(levels.Ln) - lim.Night),
		NightEvents: len(nightLmax),
	}
	for _, l := range nightLmax {
		if math.IsNaN(l) || math.IsInf(l, 0) {
			return NoiseAssessment{}, fmt.Errorf("assess noise: night Lmax %s is not a sound level", formatValue(l))
		}
		if round1(l) > lim.NightLmax {
			a.LmaxExceeding++
		}
	}
	return a, nil
}

// round1 rounds a level to 0.1 dB, halves away from zero.
func round1(x float64) float64 { return math.Round(x*10) / 10 }
