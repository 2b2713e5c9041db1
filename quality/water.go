package quality

import (
	"fmt"
	"math"
	"strings"
)

// A WaterBody is the kind of surface water a site samples. GB 3838-2002
// sets different total phosphorus limits for lakes and reservoirs, and
// total nitrogen counts toward the class of lakes and reservoirs only.
type WaterBody uint8

// The kinds of water body.
const (
	River WaterBody = iota // rivers and streams
	Lake                   // lakes and reservoirs (湖、库)
)

// String returns "river" or "lake".
func (b WaterBody) String() string {
	if b == Lake {
		return "lake"
	}
	return "river"
}

// A WaterClass is a surface water class of GB 3838-2002: I (best) to V, and
// worse than V (劣V). The zero value, Unclassed, means no class.
type WaterClass uint8

// The classes of GB 3838-2002 §4, best first.
const (
	Unclassed  WaterClass = iota
	ClassI                // I: source water, national nature reserves
	ClassII               // II: first-grade drinking water protection areas
	ClassIII              // III: second-grade drinking water protection areas, fisheries, swimming
	ClassIV               // IV: industrial water, recreation without body contact
	ClassV                // V: agricultural water, general landscape
	WorseThanV            // 劣V: worse than V
)

// String returns the class as written in Chinese reports: "I" to "V" and
// "劣V", or "" for Unclassed.
func (c WaterClass) String() string {
	switch c {
	case ClassI:
		return "I"
	case ClassII:
		return "II"
	case ClassIII:
		return "III"
	case ClassIV:
		return "IV"
	case ClassV:
		return "V"
	case WorseThanV:
		return "劣V"
	}
	return ""
}

// English returns the class in English: "I" to "V" and "worse than V".
func (c WaterClass) English() string {
	if c == WorseThanV {
		return "worse than V"
	}
	return c.String()
}

// Meets reports whether class c meets a target class: whether c is a
// class and as good as target or better.
func (c WaterClass) Meets(target WaterClass) bool {
	return c != Unclassed && target != Unclassed && c <= target
}

// ParseWaterClass returns the class written s: "I" to "V" (or "1" to "5"),
// or "劣V" (or "worse-than-V", "VI").
func ParseWaterClass(s string) (WaterClass, error) {
	switch strings.ToUpper(strings.TrimSpace(s)) {
	case "I", "1":
		return ClassI, nil
	case "II", "2":
		return ClassII, nil
	case "III", "3":
		return ClassIII, nil
	case "IV", "4":
		return ClassIV, nil
	case "V", "5":
		return ClassV, nil
	case "劣V", "WORSE-THAN-V", "WORSE THAN V", "VI":
		return WorseThanV, nil
	}
	return Unclassed, fmt.Errorf("unknown water class %q (want I, II, III, IV, V or 劣V)", s)
}

// waterDir is how a parameter's value meets a limit.
type waterDir uint8

const (
	atMost  waterDir = iota // value ≤ limit
	atLeast                 // value ≥ limit (dissolved oxygen)
	within                  // lower ≤ value ≤ upper (pH)
)

// A waterParam is one row of GB 3838-2002 Table 1, or a parameter stations
// report that the table does not class.
type waterParam struct {
	key, name, unit string
	dir             waterDir
	// limit holds the limits of classes I-V; for pH, the lower ends of the
	// ranges.
	limit [5]float64
	// upper holds, for pH only, the upper ends of the ranges.
	upper [5]float64
	// classed tells for which bodies the parameter counts toward the class.
	classed classedFor
	// note says why the parameter is not classed, where it is not.
	note string
}

// classedFor says for which water bodies a parameter is classed.
type classedFor uint8

const (
	never classedFor = iota
	always
	lakesOnly
)

// Why some parameters are reported but not classed.
const (
	noteNotUsed = "not used for the class (《地表水环境质量评价办法（试行）》)"
	noteNoLimit = "GB 3838-2002 sets no class limit"
)

// waterParams is GB 3838-2002 Table 1 ("地表水环境质量标准基本项目标准
// 限值"), limits in mg/L unless noted, plus the physical parameters
// stations report. Water temperature, total nitrogen in rivers and fecal
// coliform are not used for the class (《地表水环境质量评价办法（试行）》,
// 环办[2011]22号); turbidity and conductivity have no limit. Read-only.
var waterParams = [...]waterParam{
	{key: "ph", name: "pH", unit: "", dir: within,
		limit: [5]float64{6, 6, 6, 6, 6}, upper: [5]float64{9, 9, 9, 9, 9}, classed: always},
	{key: "do", name: "dissolved oxygen", unit: "mg/L", dir: atLeast,
		limit: [5]float64{7.5, 6, 5, 3, 2}, classed: always},
	{key: "codmn", name: "permanganate index", unit: "mg/L",
		limit: [5]float64{2, 4, 6, 10, 15}, classed: always},
	{key: "cod", name: "chemical oxygen demand", unit: "mg/L",
		limit: [5]float64{15, 15, 20, 30, 40}, classed: always},
	{key: "bod5", name: "five-day biochemical oxygen demand", unit: "mg/L",
		limit: [5]float64{3, 3, 4, 6, 10}, classed: always},
	{key: "nh3n", name: "ammonia nitrogen", unit: "mg/L",
		limit: [5]float64{0.15, 0.5, 1.0, 1.5, 2.0}, classed: always},
	// Rivers; for lakes and reservoirs "tp" is classed on tp_lake.
	{key: "tp", name: "total phosphorus (rivers)", unit: "mg/L",
		limit: [5]float64{0.02, 0.1, 0.2, 0.3, 0.4}, classed: always},
	{key: "tp_lake", name: "total phosphorus (lakes and reservoirs)", unit: "mg/L",
		limit: [5]float64{0.01, 0.025, 0.05, 0.1, 0.2}, classed: always},
	{key: "tn", name: "total nitrogen (lakes and reservoirs)", unit: "mg/L",
		limit: [5]float64{0.2, 0.5, 1.0, 1.5, 2.0}, classed: lakesOnly, note: noteNotUsed + " for rivers"},
	{key: "cu", name: "copper", unit: "mg/L",
		limit: [5]float64{0.01, 1.0, 1.0, 1.0, 1.0}, classed: always},
	{key: "zn", name: "zinc", unit: "mg/L",
		limit: [5]float64{0.05, 1.0, 1.0, 2.0, 2.0}, classed: always},
	{key: "f", name: "fluoride", unit: "mg/L",
		limit: [5]float64{1.0, 1.0, 1.0, 1.5, 1.5}, classed: always},
	{key: "se", name: "selenium", unit: "mg/L",
		limit: [5]float64{0.01, 0.01, 0.01, 0.02, 0.02}, classed: always},
	{key: "as", name: "arsenic", unit: "mg/L",
		limit: [5]float64{0.05, 0.05, 0.05, 0.1, 0.1}, classed: always},
	{key: "hg", name: "mercury", unit: "mg/L",
		limit: [5]float64{0.00005, 0.00005, 0.0001, 0.001, 0.001}, classed: always},
	{key: "cd", name: "cadmium", unit: "mg/L",
		limit: [5]float64{0.001, 0.005, 0.005, 0.005, 0.01}, classed: always},
	{key: "cr6", name: "chromium (VI)", unit: "mg/L",
		limit: [5]float64{0.01, 0.05, 0.05, 0.05, 0.1}, classed: always},
	{key: "pb", name: "lead", unit: "mg/L",
		limit: [5]float64{0.01, 0.01, 0.05, 0.05, 0.1}, classed: always},
	{key: "cn", name: "cyanide", unit: "mg/L",
		limit: [5]float64{0.005, 0.05, 0.2, 0.2, 0.2}, classed: always},
	{key: "phenol", name: "volatile phenol", unit: "mg/L",
		limit: [5]float64{0.002, 0.002, 0.005, 0.01, 0.1}, classed: always},
	{key: "oil", name: "petroleum", unit: "mg/L",
		limit: [5]float64{0.05, 0.05, 0.05, 0.5, 1.0}, classed: always},
	{key: "las", name: "anionic surfactant", unit: "mg/L",
		limit: [5]float64{0.2, 0.2, 0.2, 0.3, 0.3}, classed: always},
	{key: "s2", name: "sulfide", unit: "mg/L",
		limit: [5]float64{0.05, 0.1, 0.2, 0.5, 1.0}, classed: always},
	{key: "fcoli", name: "fecal coliform", unit: "count/L",
		limit: [5]float64{200, 2000, 10000, 20000, 40000}, classed: never, note: noteNotUsed},
	// Reported by automatic stations, not classed.
	{key: "water_temp", name: "water temperature", unit: "°C", classed: never, note: noteNotUsed},
	{key: "turbidity", name: "turbidity", unit: "NTU", classed: never, note: noteNoLimit},
	{key: "conductivity", name: "conductivity", unit: "µS/cm", classed: never, note: noteNoLimit},
}

// lookupWaterParam returns the parameter called key, or nil.
func lookupWaterParam(key string) *waterParam {
	for i := range waterParams {
		if waterParams[i].key == key {
			return &waterParams[i]
		}
	}
	return nil
}

// A WaterParameter describes a parameter ClassifyWater accepts.
type WaterParameter struct {
	Key  string // as in reading.Metrics and the reference CSV: "do", "nh3n"
	Name string // English name
	Unit string // "mg/L"; "" for pH
}

// WaterParameters returns the parameters ClassifyWater accepts, in the
// order of GB 3838-2002 Table 1, then the unclassed physical ones.
func WaterParameters() []WaterParameter {
	out := make([]WaterParameter, len(waterParams))
	for i, p := range waterParams {
		out[i] = WaterParameter{Key: p.key, Name: p.name, Unit: p.unit}
	}
	return out
}

// A WaterReading is one parameter's value at a site, in the unit of the
// parameter (see [WaterParameters]).
type WaterReading struct {
	Key   string
	Value float64
}

// A ParameterClass is the class of one parameter's value.
type ParameterClass struct {
	Key   string
	Value float64
	Unit  string
	// Class is the parameter's class, or Unclassed if it does not count
	// toward the site's class; Note then says why.
	Class WaterClass
	Note  string
}

// A WaterAssessment is the class of a site from its parameters.
type WaterAssessment struct {
	Body WaterBody
	// Class is the site's class: the worst class of its classed
	// parameters, or Unclassed if none was classed.
	Class WaterClass
	// Parameters holds every reading with its class, in input order.
	Parameters []ParameterClass
	// Determining holds the keys of the parameters whose class is the
	// site's class, in input order. For a site worse than class III these
	// are the pollutants reported as the main ones ("主要污染指标").
	Determining []string
}

// Meets reports whether the site meets a target class (its water quality
// objective, "水质目标"): whether it is classed, and as good as the target
// or better.
func (a *WaterAssessment) Meets(target WaterClass) bool { return a.Class.Meets(target) }

// WaterParameterClass returns the class of value v of the parameter called
// key at a site on body, or Unclassed if the parameter does not count
// toward the class.
//
// GB 3838-2002 Table 1: the class is the best class whose limit the value
// meets (at most the limit; at least it for dissolved oxygen; 6-9 for pH),
// and worse than V if it meets none. Where classes share a limit, a value
// at the limit is the better class. Comparisons are exact on the decimal
// values, as for the air indices (see the package documentation).
func WaterParameterClass(body WaterBody, key string, v float64) (WaterClass, error) {
	p, err := waterParamFor(body, key, v)
	if err != nil {
		return Unclassed, err
	}
	return p.class(body, v), nil
}

// waterParamFor checks key and v and returns the table row to class v on.
func waterParamFor(body WaterBody, key string, v float64) (*waterParam, error) {
	p := lookupWaterParam(key)
	if p == nil {
		return nil, fmt.Errorf("unknown water parameter %q", key)
	}
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return nil, fmt.Errorf("%s=%s: not a number", key, formatValue(v))
	}
	if v < 0 && key != "water_temp" {
		return nil, fmt.Errorf("%s=%s: must not be negative", key, formatValue(v))
	}
	if key == "ph" && v > 14 {
		return nil, fmt.Errorf("ph=%s: pH is between 0 and 14", formatValue(v))
	}
	if key == "tp" && body == Lake {
		p = lookupWaterParam("tp_lake")
	}
	return p, nil
}

// class returns the class of v, which waterParamFor accepted.
func (p *waterParam) class(body WaterBody, v float64) WaterClass {
	switch p.classed {
	case never:
		return Unclassed
	case lakesOnly:
		if body != Lake {
			return Unclassed
		}
	}
	for i := range p.limit {
		var ok bool
		switch p.dir {
		case atMost:
			ok = cmpDecimal(v, p.limit[i]) <= 0
		case atLeast:
			ok = cmpDecimal(v, p.limit[i]) >= 0
		case within:
			ok = cmpDecimal(v, p.limit[i]) >= 0 && cmpDecimal(v, p.upper[i]) <= 0
		}
		if ok {
			return ClassI + WaterClass(i)
		}
	}
	return WorseThanV
}

// note returns why p is not classed at a site on body, or "".
func (p *waterParam) noteFor(body WaterBody) string {
	if p.classed == always || (p.classed == lakesOnly && body == Lake) {
		return ""
	}
	return p.note
}

// cmpDecimal compares two non-negative decimals given as float64, exactly
// to 10⁻⁹ of their unit (the finest GB 3838 limit is 0.00005 mg/L): it
// returns -1, 0 or +1 as a < b, a == b, a > b. A mean of 0.1 and 0.2 mg/L
// (0.15000000000000002 in floating point) thus equals the 0.15 limit.
func cmpDecimal(a, b float64) int {
	const scale = 1e9
	if a > maxValue || b > maxValue || a < 0 || b < 0 {
		switch {
		case a < b:
			return -1
		case a > b:
			return 1
		}
		return 0
	}
	x, y := int64(math.Round(a*scale)), int64(math.Round(b*scale))
	switch {
	case x < y:
		return -1
	case x > y:
		return 1
	}
	return 0
}

// ClassifyWater classes a site on body from its readings. Each parameter
// gets its class (see [WaterParameterClass]); the site's class is the worst
// class among its classed parameters (《地表水环境质量评价办法（试行）》:
// single-factor assessment, "单因子评价"). Unknown, repeated or invalid
// parameters are an error.
func ClassifyWater(body WaterBody, readings []WaterReading) (WaterAssessment, error) {
	a := WaterAssessment{Body: body, Parameters: make([]ParameterClass, 0, len(readings))}
	for i, r := range readings {
		for _, prev := range readings[:i] {
			if prev.Key == r.Key {
				return WaterAssessment{}, fmt.Errorf("water parameter %q given twice", r.Key)
			}
		}
		p, err := waterParamFor(body, r.Key, r.Value)
		if err != nil {
			return WaterAssessment{}, err
		}
		c := p.class(body, r.Value)
		a.Parameters = append(a.Parameters, ParameterClass{
			Key: r.Key, Value: r.Value, Unit: p.unit, Class: c, Note: p.noteFor(body),
		})
		if c != Unclassed && c > a.Class {
			a.Class = c
		}
	}
	for _, pc := range a.Parameters {
		if pc.Class != Unclassed && pc.Class == a.Class {
			a.Determining = append(a.Determining, pc.Key)
		}
	}
	return a, nil
}
