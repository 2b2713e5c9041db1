package quality

import (
	"fmt"
	"math"
	"strings"
)

// A Unit is a unit of concentration.
type Unit uint8

// The units of concentration the standards use.
const (
	UgM3 Unit = iota + 1 // micrograms per cubic metre, µg/m³
	MgM3                 // milligrams per cubic metre, mg/m³
	PPB                  // parts per billion by volume
	PPM                  // parts per million by volume
)

// String returns the unit's symbol: "µg/m³", "mg/m³", "ppb" or "ppm".
func (u Unit) String() string {
	switch u {
	case UgM3:
		return "µg/m³"
	case MgM3:
		return "mg/m³"
	case PPB:
		return "ppb"
	case PPM:
		return "ppm"
	}
	return fmt.Sprintf("Unit(%d)", uint8(u))
}

// ParseUnit returns the unit written s. It accepts the symbols of
// [Unit.String] and the ASCII spellings ugm3, ug/m3, mgm3 and mg/m3.
func ParseUnit(s string) (Unit, error) {
	switch strings.ToLower(s) {
	case "µg/m³", "ug/m3", "ugm3", "µg/m3":
		return UgM3, nil
	case "mg/m³", "mg/m3", "mgm3":
		return MgM3, nil
	case "ppb":
		return PPB, nil
	case "ppm":
		return PPM, nil
	}
	return 0, fmt.Errorf("unknown unit %q (want ugm3, mgm3, ppb or ppm)", s)
}

// MolarVolume is the volume of one mole of an ideal gas at the reference
// state of GB 3095-2012 and the US EPA, 25 °C (298.15 K) and 1013.25 hPa,
// in litres per mole.
const MolarVolume = 24.465

// MolarMass returns the molar mass of gas p in g/mol, from the IUPAC
// standard atomic weights (abridged: C 12.011, N 14.007, O 15.999, S 32.06),
// and false for the particulates, which have none.
func MolarMass(p Pollutant) (float64, bool) {
	switch p {
	case SO2:
		return 32.06 + 2*15.999, true
	case NO2:
		return 14.007 + 2*15.999, true
	case CO:
		return 12.011 + 15.999, true
	case O3:
		return 3 * 15.999, true
	}
	return 0, false
}

// perMicrogram returns how many µg/m³ one unit u is, for pollutant p with
// molar mass m (used only for volume units).
func perMicrogram(u Unit, m float64) float64 {
	switch u {
	case UgM3:
		return 1
	case MgM3:
		return 1000
	case PPB:
		// 1 ppb = 1 nmol/mol; at molar volume Vm L/mol that is m/Vm µg/m³.
		return m / MolarVolume
	case PPM:
		return 1000 * m / MolarVolume
	}
	return math.NaN()
}

// Convert converts a concentration v of pollutant p from one unit to
// another at the reference state (25 °C, 1013.25 hPa). Particulates have
// only mass units; converting them to or from ppb or ppm is an error, as is
// a negative or non-finite value.
func Convert(p Pollutant, v float64, from, to Unit) (float64, error) {
	if !p.Valid() {
		return 0, fmt.Errorf("convert: unknown pollutant %v", p)
	}
	if math.IsNaN(v) || math.IsInf(v, 0) || v < 0 {
		return 0, fmt.Errorf("convert %s: %s is not a concentration (want a finite number ≥ 0)", p, formatValue(v))
	}
	m, gas := MolarMass(p)
	for _, u := range [2]Unit{from, to} {
		switch u {
		case UgM3, MgM3:
		case PPB, PPM:
			if !gas {
				return 0, fmt.Errorf("convert %s: a particulate has no volume mixing ratio (%s)", p, u)
			}
		default:
			return 0, fmt.Errorf("convert %s: unknown unit %v", p, u)
		}
	}
	if from == to {
		return v, nil
	}
	return v * perMicrogram(from, m) / perMicrogram(to, m), nil
}

// ToMassConcentration returns v, a concentration of p in unit u, in µg/m³
// at the reference state. Stations may report gases in ppb or ppm; ingest
// converts them with this before storing.
func ToMassConcentration(p Pollutant, v float64, u Unit) (float64, error) {
	return Convert(p, v, u, UgM3)
}

// ToMixingRatio returns v, a concentration of gas p in unit u, in ppb at the
// reference state.
func ToMixingRatio(p Pollutant, v float64, u Unit) (float64, error) {
	return Convert(p, v, u, PPB)
}
