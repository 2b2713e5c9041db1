package ingest

import (
	"bytes"
	"math"

	"github.com/envmon/envmon/quality"
	"github.com/envmon/envmon/reading"
)

// normalise converts v, given in unit u, to metric's canonical unit of
// docs/MQTT.md. An empty unit means the canonical one. Gas mixing ratios
// (ppb, ppm) become mass concentrations at the HJ 633 reference state
// through package quality.
func normalise(m reading.Metric, v float64, u []byte) (float64, *Rejection) {
	metric := m.Name
	unit := canonicalUnit(u)
	if unit == "" || unit == canonicalUnits[m.Name] {
		return v, nil
	}
	switch m.Unit {
	case "µg/m³", "mg/m³":
		return convertGas(metric, m.Unit, v, unit)
	case "°C":
		if unit == "K" {
			return v - 273.15, nil
		}
	case "hPa":
		switch unit {
		case "Pa":
			return v / 100, nil
		case "kPa":
			return v * 10, nil
		}
	case "%":
		if unit == "%RH" {
			return v, nil
		}
	case "mg/L":
		switch unit {
		case "g/L":
			return v * 1000, nil
		case "ug/L":
			return v / 1000, nil
		}
	case "µS/cm":
		if unit == "mS/cm" {
			return v * 1000, nil
		}
	}
	return 0, reject(ReasonBadUnit, "unit %q cannot be converted to %s's unit %s", u, metric, m.Unit)
}

// canonicalUnits holds each metric's unit as canonicalUnit spells it.
var canonicalUnits = func() map[string]string {
	m := make(map[string]string, len(reading.Metrics))
	for _, mt := range reading.Metrics {
		m[mt.Name] = canonicalUnit([]byte(mt.Unit))
	}
	return m
}()

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
	// quality.Convert takes concentrations ≥ 0; a sensor's small negative
	// zero drift converts by magnitude and keeps its sign, for QC to judge.
	out, err := quality.Convert(p, math.Abs(v), from, to)
	if err != nil {
		return 0, reject(ReasonBadUnit, "%s: %v", metric, err)
	}
	return math.Copysign(out, v), nil
}
