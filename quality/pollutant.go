package quality

import (
	"fmt"
	"iter"
	"math/bits"
	"strings"
)

// A Pollutant is one of the six air pollutants the indices cover.
type Pollutant uint8

// The pollutants of HJ 633 and the US EPA AQI.
const (
	PM25 Pollutant = iota // fine particulate matter, PM2.5
	PM10                  // inhalable particulate matter, PM10
	SO2                   // sulphur dioxide
	NO2                   // nitrogen dioxide
	CO                    // carbon monoxide
	O3                    // ozone

	// NumPollutants is the number of pollutants; valid values are
	// 0 <= p < NumPollutants.
	NumPollutants = 6
)

// String returns the pollutant's key: pm25, pm10, so2, no2, co or o3, the
// metric names of package reading.
func (p Pollutant) String() string {
	switch p {
	case PM25:
		return "pm25"
	case PM10:
		return "pm10"
	case SO2:
		return "so2"
	case NO2:
		return "no2"
	case CO:
		return "co"
	case O3:
		return "o3"
	}
	return fmt.Sprintf("Pollutant(%d)", uint8(p))
}

// Title returns the pollutant's usual written name, such as "PM2.5".
func (p Pollutant) Title() string {
	switch p {
	case PM25:
		return "PM2.5"
	case PM10:
		return "PM10"
	case SO2:
		return "SO2"
	case NO2:
		return "NO2"
	case CO:
		return "CO"
	case O3:
		return "O3"
	}
	return p.String()
}

// Valid reports whether p is one of the six pollutants.
func (p Pollutant) Valid() bool { return p < NumPollutants }

// ParsePollutant returns the pollutant whose key (see [Pollutant.String]) is
// s. It also accepts "pm2.5".
func ParsePollutant(s string) (Pollutant, error) {
	switch strings.ToLower(s) {
	case "pm25", "pm2.5":
		return PM25, nil
	case "pm10":
		return PM10, nil
	case "so2":
		return SO2, nil
	case "no2":
		return NO2, nil
	case "co":
		return CO, nil
	case "o3":
		return O3, nil
	}
	return 0, fmt.Errorf("unknown pollutant %q (want pm25, pm10, so2, no2, co or o3)", s)
}

// A Period is the averaging period of a concentration.
type Period uint8

// The averaging periods the indices use.
const (
	Hour1  Period = iota // 1 h mean
	Hour8                // 8 h moving mean
	Hour24               // 24 h mean

	// NumPeriods is the number of periods; valid values are
	// 0 <= p < NumPeriods.
	NumPeriods = 3
)

// String returns "1h", "8h" or "24h".
func (p Period) String() string {
	switch p {
	case Hour1:
		return "1h"
	case Hour8:
		return "8h"
	case Hour24:
		return "24h"
	}
	return fmt.Sprintf("Period(%d)", uint8(p))
}

// prose returns the period as written in text: "1 h", "8 h" or "24 h".
func (p Period) prose() string {
	s := p.String()
	return s[:len(s)-1] + " h"
}

// Valid reports whether p is one of the three periods.
func (p Period) Valid() bool { return p < NumPeriods }

// ParsePeriod returns the period written s: "1h", "8h" or "24h".
func ParsePeriod(s string) (Period, error) {
	switch strings.ToLower(s) {
	case "1h":
		return Hour1, nil
	case "8h":
		return Hour8, nil
	case "24h":
		return Hour24, nil
	}
	return 0, fmt.Errorf("unknown averaging period %q (want 1h, 8h or 24h)", s)
}

// A Key names a concentration: a pollutant averaged over a period.
type Key struct {
	Pollutant Pollutant
	Period    Period
}

// String returns the key as "<pollutant>_<period>", for example "pm25_24h".
func (k Key) String() string { return k.Pollutant.String() + "_" + k.Period.String() }

// Valid reports whether both parts of k are valid.
func (k Key) Valid() bool { return k.Pollutant.Valid() && k.Period.Valid() }

// bit returns k's bit in a Concentrations or Result mask.
func (k Key) bit() uint32 { return 1 << (uint(k.Pollutant)*NumPeriods + uint(k.Period)) }

// keyOfBit is the inverse of Key.bit for a bit index.
func keyOfBit(i int) Key {
	return Key{Pollutant: Pollutant(i / NumPeriods), Period: Period(i % NumPeriods)}
}

// ParseKey parses a key written "<pollutant>_<period>", such as "pm25_24h"
// or "o3_8h". Whether a standard has a table for the key is checked when an
// index is computed, not here.
func ParseKey(s string) (Key, error) {
	p, per, ok := strings.Cut(s, "_")
	if !ok {
		return Key{}, fmt.Errorf("bad key %q: want <pollutant>_<period>, such as pm25_24h", s)
	}
	pol, err := ParsePollutant(p)
	if err != nil {
		return Key{}, fmt.Errorf("bad key %q: %w", s, err)
	}
	pd, err := ParsePeriod(per)
	if err != nil {
		return Key{}, fmt.Errorf("bad key %q: %w", s, err)
	}
	return Key{Pollutant: pol, Period: pd}, nil
}

// A PollutantSet is a set of pollutants, such as the primary pollutants of a
// result. The zero value is the empty set. It is a bit mask, so results carry
// it without allocating.
type PollutantSet uint8

// Add returns the set with p added.
func (s PollutantSet) Add(p Pollutant) PollutantSet { return s | 1<<p }

// Has reports whether p is in the set.
func (s PollutantSet) Has(p Pollutant) bool { return p.Valid() && s&(1<<p) != 0 }

// Len returns the number of pollutants in the set.
func (s PollutantSet) Len() int { return bits.OnesCount8(uint8(s)) }

// All yields the pollutants of the set in the order of the Pollutant
// constants.
func (s PollutantSet) All() iter.Seq[Pollutant] {
	return func(yield func(Pollutant) bool) {
		for p := range Pollutant(NumPollutants) {
			if s.Has(p) && !yield(p) {
				return
			}
		}
	}
}

// Slice returns the pollutants of the set in order, or nil if it is empty.
// It allocates; hot paths should use [PollutantSet.All] or
// [PollutantSet.Has].
func (s PollutantSet) Slice() []Pollutant {
	var ps []Pollutant
	for p := range s.All() {
		ps = append(ps, p)
	}
	return ps
}

// Strings returns the keys of the pollutants in the set, in order; it returns
// an empty, non-nil slice for the empty set, so that it encodes as a JSON
// array.
func (s PollutantSet) Strings() []string {
	out := make([]string, 0, s.Len())
	for p := range s.All() {
		out = append(out, p.String())
	}
	return out
}

// String returns the keys of the pollutants joined by commas, or "" for the
// empty set.
func (s PollutantSet) String() string { return strings.Join(s.Strings(), ",") }

// Concentrations is the input of an index computation: at most one
// concentration per pollutant and period, in the units of the standard used
// (see [Standard.Unit]).
//
// Presence is explicit: a value is present only after Set, whatever its
// value, so a missing value is never mistaken for zero. The zero value holds
// no values. Concentrations holds no pointers and is safe to copy.
type Concentrations struct {
	v    [NumPollutants][NumPeriods]float64
	mask uint32
}

// Set records the concentration of pollutant p averaged over period per.
// Invalid values (negative, NaN, infinite) are recorded as given and
// reported when an index is computed. Set panics if p or per is out of
// range, like an out-of-range array index.
func (c *Concentrations) Set(p Pollutant, per Period, v float64) {
	k := Key{Pollutant: p, Period: per}
	if !k.Valid() {
		panic(fmt.Sprintf("quality: Concentrations.Set(%v, %v): no such pollutant or period", p, per))
	}
	c.v[p][per] = v
	c.mask |= k.bit()
}

// Unset removes the concentration of p over per, if present.
func (c *Concentrations) Unset(p Pollutant, per Period) {
	k := Key{Pollutant: p, Period: per}
	if k.Valid() {
		c.mask &^= k.bit()
		c.v[p][per] = 0
	}
}

// Get returns the concentration of p over per and whether it is present.
func (c *Concentrations) Get(p Pollutant, per Period) (float64, bool) {
	k := Key{Pollutant: p, Period: per}
	if !k.Valid() || c.mask&k.bit() == 0 {
		return 0, false
	}
	return c.v[p][per], true
}

// Len returns the number of values present.
func (c *Concentrations) Len() int { return bits.OnesCount32(c.mask) }

// All yields the present values in the order of pollutant, then period.
func (c *Concentrations) All() iter.Seq2[Key, float64] {
	return func(yield func(Key, float64) bool) {
		for m := c.mask; m != 0; m &= m - 1 {
			k := keyOfBit(bits.TrailingZeros32(m))
			if !yield(k, c.v[k.Pollutant][k.Period]) {
				return
			}
		}
	}
}
