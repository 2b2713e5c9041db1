package ingest

import (
	"bytes"
	"math"
	"strconv"
	"strings"

	"github.com/envmon/envmon/quality"
	"github.com/envmon/envmon/reading"
)

// normalise converts v, given in unit u, to metric's canonical unit of
// docs/MQTT.md. An empty unit means the canonical one. Gas mixing ratios
// (ppb, ppm) become mass concentrations at the HJ 633 reference state
// through package quality.
//
// A converted value carries no more digits than the conversion knows, so
// that no float noise is stored or served (3 ppb SO2 is 7.855 µg/m³, not
// 7.855058246474556): a change of decimal prefix (Pa to hPa, µg/L to mg/L)
// moves the decimal point of v's shortest decimal form, exactly; K to °C
// keeps v's decimals (at least the two of 273.15); and a gas conversion,
// whose constants (molar masses, the molar volume 24.465 L/mol) have 5
// significant digits, is rounded to 4. Rounding is half to even, the rule
// of GB/T 8170-2008 (数值修约规则), as strconv applies it to the exact
// binary value.
func normalise(m reading.Metric, v float64, u []byte) (float64, *Rejection) {
	metric := m.Name
	unit := canonicalUnit(u)
	if unit == "" || unit == catalogue.unit(m.Name) {
		return v, nil
	}
	switch m.Unit {
	case "µg/m³", "mg/m³":
		return convertGas(metric, m.Unit, v, unit)
	case "°C":
		if unit == "K" {
			return roundDecimals(v-273.15, max(decimals(v), 2)), nil
		}
	case "hPa":
		switch unit {
		case "Pa":
			return scale10(v, -2), nil
		case "kPa":
			return scale10(v, 1), nil
		}
	case "%":
		if unit == "%RH" {
			return v, nil
		}
	case "mg/L":
		switch unit {
		case "g/L":
			return scale10(v, 3), nil
		case "ug/L":
			return scale10(v, -3), nil
		}
	case "µS/cm":
		if unit == "mS/cm" {
			return scale10(v, 3), nil
		}
	}
	return 0, reject(ReasonBadUnit, "unit %q cannot be converted to %s's unit %s", u, metric, m.Unit)
}

// canonicalUnit folds the spellings of a unit, SenML's (RFC 8428) among
// them, to one.
func canonicalUnit(u []byte) string {
	switch string(bytes.TrimSpace(u)) {
	case "":
		return ""
	case "µg/m³", "ug/m3", "µg/m3", "ugm3":
		return "ug/m3"
	case "mg/m³", "mg/m3", "mgm3":
		return "mg/m3"
	case "°C", "Cel", "C", "degC":
		return "Cel"
	case "%", "%RH", "/":
		return "%RH"
	case "dB(A)", "dBA", "dB":
		return "dB(A)"
	case "°", "deg", "lat", "lon": // RFC 8428 §12.1 registers lat and lon as units in degrees
		return "deg"
	case "µS/cm", "uS/cm":
		return "uS/cm"
	case "ug/L", "µg/L":
		return "ug/L"
	default:
		return string(bytes.TrimSpace(u))
	}
}

// pollutant maps an air metric to its quality.Pollutant.
func pollutant(metric string) (quality.Pollutant, bool) {
	switch metric {
	case "so2":
		return quality.SO2, true
	case "no2":
		return quality.NO2, true
	case "o3":
		return quality.O3, true
	case "co":
		return quality.CO, true
	case "pm25":
		return quality.PM25, true
	case "pm10":
		return quality.PM10, true
	}
	return 0, false
}

func convertGas(metric, canonical string, v float64, unit string) (float64, *Rejection) {
	p, ok := pollutant(metric)
	var from quality.Unit
	var err error
	if ok {
		from, err = quality.ParseUnit(unit)
	}
	if !ok || err != nil {
		return 0, reject(ReasonBadUnit, "unit %q cannot be converted to %s's unit %s", unit, metric, canonical)
	}
	to := quality.UgM3
	if canonical == "mg/m³" {
		to = quality.MgM3
	}
	switch {
	case from == to:
		return v, nil
	case from == quality.UgM3 && to == quality.MgM3:
		return scale10(v, -3), nil
	case from == quality.MgM3 && to == quality.UgM3:
		return scale10(v, 3), nil
	}
	// quality.Convert takes concentrations ≥ 0; a sensor's small negative
	// zero drift converts by magnitude and keeps its sign, for QC to judge.
	out, err := quality.Convert(p, math.Abs(v), from, to)
	if err != nil {
		return 0, reject(ReasonBadUnit, "%s: %v", metric, err)
	}
	return math.Copysign(roundSignificant(out, gasDigits), v), nil
}

// gasDigits is the significant digits a gas conversion keeps: one fewer
// than its constants have.
const gasDigits = 4

// scale10 returns v × 10^exp computed on v's shortest decimal form, so that
// 1013.3 hPa from 101330 Pa is 1013.3, not 1013.3000000000001.
func scale10(v float64, exp int) float64 {
	mant, e, _ := strings.Cut(strconv.FormatFloat(v, 'e', -1, 64), "e")
	n, _ := strconv.Atoi(e)
	out, err := strconv.ParseFloat(mant+"e"+strconv.Itoa(n+exp), 64)
	if err != nil { // out of range: ±Inf, which QC and the store reject
		return v * math.Pow10(exp)
	}
	return out
}

// decimals returns the number of decimals of v's shortest decimal form.
func decimals(v float64) int {
	s := strconv.FormatFloat(v, 'f', -1, 64)
	if i := strings.IndexByte(s, '.'); i >= 0 {
		return len(s) - i - 1
	}
	return 0
}

// roundDecimals rounds v to n decimals, half to even (GB/T 8170-2008).
func roundDecimals(v float64, n int) float64 {
	out, _ := strconv.ParseFloat(strconv.FormatFloat(v, 'f', n, 64), 64)
	return out
}

// roundSignificant rounds v to n significant digits, half to even
// (GB/T 8170-2008).
func roundSignificant(v float64, n int) float64 {
	out, _ := strconv.ParseFloat(strconv.FormatFloat(v, 'e', n-1, 64), 64)
	return out
}
