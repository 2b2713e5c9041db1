package quality

import (
	"fmt"
	"strings"
	"time"
)

// A Standard is an air quality index standard.
type Standard uint8

// The supported standards. The zero value is no standard.
const (
	// HJ633v2012 is HJ 633-2012, Technical Regulation on Ambient Air
	// Quality Index (on trial), in force until 2026-02-28.
	HJ633v2012 Standard = iota + 1
	// HJ633v2026 is HJ 633-2026, in force from 2026-03-01 together with
	// GB 3095-2026.
	HJ633v2026
	// EPA2024 is the US EPA AQI as revised on 2024-05-06,
	// EPA-454/B-24-002.
	EPA2024
)

// hj633v2026Start is the instant HJ 633-2026 took effect:
// 2026-03-01 00:00 China Standard Time (UTC+8), as a Unix time.
const hj633v2026Start = 1772294400

// StandardAt returns the Chinese standard in force at t: HJ 633-2026 from
// 2026-03-01 00:00 China Standard Time on, HJ 633-2012 before. Data is
// indexed with the standard in force when it was measured.
func StandardAt(t time.Time) Standard {
	if t.Unix() >= hj633v2026Start {
		return HJ633v2026
	}
	return HJ633v2012
}

// String returns the standard's key: "hj633-2012", "hj633-2026" or
// "epa-2024".
func (s Standard) String() string {
	switch s {
	case HJ633v2012:
		return "hj633-2012"
	case HJ633v2026:
		return "hj633-2026"
	case EPA2024:
		return "epa-2024"
	}
	return fmt.Sprintf("Standard(%d)", uint8(s))
}

// Title returns the standard's name as published, such as "HJ 633-2026".
func (s Standard) Title() string {
	switch s {
	case HJ633v2012:
		return "HJ 633-2012"
	case HJ633v2026:
		return "HJ 633-2026"
	case EPA2024:
		return "US EPA AQI (2024)"
	}
	return s.String()
}

// Valid reports whether s is one of the supported standards.
func (s Standard) Valid() bool { return s >= HJ633v2012 && s <= EPA2024 }

// China reports whether s is a version of HJ 633.
func (s Standard) China() bool { return s == HJ633v2012 || s == HJ633v2026 }

// ParseStandard returns the standard whose key (see [Standard.String]) is s.
// It also accepts the titles' spelling, such as "HJ 633-2026".
func ParseStandard(s string) (Standard, error) {
	switch strings.ReplaceAll(strings.ToLower(s), " ", "") {
	case "hj633-2012":
		return HJ633v2012, nil
	case "hj633-2026":
		return HJ633v2026, nil
	case "epa-2024", "epa2024", "epa":
		return EPA2024, nil
	}
	return 0, fmt.Errorf("unknown standard %q (want hj633-2026, hj633-2012 or epa-2024)", s)
}

// Unit returns the unit in which s takes concentrations of p: for HJ 633,
// µg/m³ and CO in mg/m³ (HJ 633 Table 1); for the EPA, particulates in
// µg/m³, O3 and CO in ppm, SO2 and NO2 in ppb (EPA-454/B-24-002 breakpoint
// table). It returns 0 for an invalid standard or pollutant.
func (s Standard) Unit(p Pollutant) Unit {
	if !p.Valid() {
		return 0
	}
	switch {
	case s.China():
		if p == CO {
			return MgM3
		}
		return UgM3
	case s == EPA2024:
		switch p {
		case O3, CO:
			return PPM
		case SO2, NO2:
			return PPB
		}
		return UgM3
	}
	return 0
}

// A Level is an AQI level (HJ 633 "级别") or EPA category, from 1 (best) to
// 6 (worst). The zero value is no level.
type Level uint8

// NumLevels is the number of AQI levels of both HJ 633 and the EPA.
const NumLevels = 6

// LevelOf returns the level of an AQI value under s. The AQI ranges of the
// six levels are the same in HJ 633-2012 Table 2, HJ 633-2026 and the EPA
// table: 0-50, 51-100, 101-150, 151-200, 201-300, 301 and above. It returns
// 0 for a negative AQI or an invalid standard.
func (s Standard) LevelOf(aqi int) Level {
	if !s.Valid() || aqi < 0 {
		return 0
	}
	switch {
	case aqi <= 50:
		return 1
	case aqi <= 100:
		return 2
	case aqi <= 150:
		return 3
	case aqi <= 200:
		return 4
	case aqi <= 300:
		return 5
	}
	return 6
}

// LevelInfo describes one AQI level: its range, name, colour and advice.
type LevelInfo struct {
	Level  Level
	AQILo  int      // lowest AQI of the level
	AQIHi  int      // highest AQI of the level; 500 for the top level
	Name   string   // English name: "Good", "Lightly Polluted"
	NameZH string   // Chinese name (HJ 633 only): "优", "轻度污染"
	Color  string   // colour as "#RRGGBB"
	RGB    [3]uint8 // colour as red, green, blue
	// HealthEffects is the English statement of health effects. For HJ 633
	// it is an unofficial translation of HealthEffectsZH.
	HealthEffects string
	// HealthEffectsZH is HJ 633's statement of health effects
	// ("对健康影响情况").
	HealthEffectsZH string
	// MeasuresZH is HJ 633's recommended measures ("建议采取的措施"). The
	// standard gives them in Chinese only.
	MeasuresZH string
}

// LevelInfo returns the description of level l under s, and false if either
// is invalid. Both versions of HJ 633 share the levels, names, colours and
// advice of HJ 633-2012 Table 2.
func (s Standard) LevelInfo(l Level) (LevelInfo, bool) {
	if l < 1 || l > NumLevels {
		return LevelInfo{}, false
	}
	switch {
	case s.China():
		return hj633Levels[l-1], true
	case s == EPA2024:
		return epaCategories[l-1], true
	}
	return LevelInfo{}, false
}

// hj633Levels is HJ 633-2012 Table 2 ("空气质量指数及相关信息"), kept
// unchanged by HJ 633-2026. English names and health effects are unofficial
// translations. Read-only.
var hj633Levels = [NumLevels]LevelInfo{
	{1, 0, 50, "Excellent", "优", "#00E400", [3]uint8{0, 228, 0},
		"No health implications.",
		"空气质量令人满意，基本无空气污染",
		"各类人群可正常活动"},
	{2, 51, 100, "Good", "良", "#FFFF00", [3]uint8{255, 255, 0},
		"Some pollutants may slightly affect very few hypersensitive individuals.",
		"空气质量可接受，但某些污染物可能对极少数异常敏感人群健康有较弱影响",
		"极少数异常敏感人群应减少户外活动"},
	{3, 101, 150, "Lightly Polluted", "轻度污染", "#FF7E00", [3]uint8{255, 126, 0},
		"Sensitive individuals are slightly affected; healthy people may feel irritation.",
		"易感人群症状有轻度加剧，健康人群出现刺激症状",
		"儿童、老年人及心脏病、呼吸系统疾病患者应减少长时间、高强度的户外锻炼"},
	{4, 151, 200, "Moderately Polluted", "中度污染", "#FF0000", [3]uint8{255, 0, 0},
		"Sensitive individuals are more seriously affected; hearts and lungs of healthy people may be affected.",
		"进一步加剧易感人群症状，可能对健康人群心脏、呼吸系统有影响",
		"儿童、老年人及心脏病、呼吸系统疾病患者避免长时间、高强度的户外锻练，一般人群适量减少户外运动"},
	{5, 201, 300, "Heavily Polluted", "重度污染", "#99004C", [3]uint8{153, 0, 76},
		"Healthy people commonly show symptoms; people with heart or lung disease are significantly affected.",
		"心脏病和肺病患者症状显著加剧，运动耐受力降低，健康人群普遍出现症状",
		"儿童、老年人和心脏病、肺病患者应停留在室内，停止户外运动，一般人群减少户外运动"},
	{6, 301, 500, "Severely Polluted", "严重污染", "#7E0023", [3]uint8{126, 0, 35},
		"Healthy people have reduced endurance and strong symptoms; some illnesses may be triggered.",
		"健康人群运动耐受力降低，有明显强烈症状，提前出现某些疾病",
		"儿童、老年人和病人应当留在室内，避免体力消耗，一般人群应避免户外活动"},
}

// epaCategories is the EPA's AQI category table (EPA-454/B-24-002), whose
// top category covers 301-500 since the 2024 revision. The EPA publishes no
// per-category advice in the table, so only names and colours are filled
// in. Read-only.
var epaCategories = [NumLevels]LevelInfo{
	{Level: 1, AQILo: 0, AQIHi: 50, Name: "Good", Color: "#00E400", RGB: [3]uint8{0, 228, 0}},
	{Level: 2, AQILo: 51, AQIHi: 100, Name: "Moderate", Color: "#FFFF00", RGB: [3]uint8{255, 255, 0}},
	{Level: 3, AQILo: 101, AQIHi: 150, Name: "Unhealthy for Sensitive Groups", Color: "#FF7E00", RGB: [3]uint8{255, 126, 0}},
	{Level: 4, AQILo: 151, AQIHi: 200, Name: "Unhealthy", Color: "#FF0000", RGB: [3]uint8{255, 0, 0}},
	{Level: 5, AQILo: 201, AQIHi: 300, Name: "Very Unhealthy", Color: "#8F3F97", RGB: [3]uint8{143, 63, 151}},
	{Level: 6, AQILo: 301, AQIHi: 500, Name: "Hazardous", Color: "#7E0023", RGB: [3]uint8{126, 0, 35}},
}
