package calc

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/envmon/envmon/quality"
)

const aqiUsage = `usage: envmon aqi [--standard S] [--units ugm3] [--json] KEY=VALUE...
       envmon aqi --nowcast pm25|pm10 [--json] V1,V2,...

Computes an air quality index from concentrations, exactly as the standard
defines it: sub-index (IAQI) per value, AQI, level, category, colour,
primary pollutant and, for HJ 633, exceeding pollutants, health effects and
recommended measures (the measures in Chinese only, as the standard gives
them).

Keys are <pollutant>_<period>, values in the standard's units:
  hj633-2026  so2_1h so2_24h no2_1h no2_24h co_1h co_24h o3_1h o3_8h
              pm25_24h pm10_24h, and pm25_1h pm10_1h (indexed on the 24 h
              breakpoints); µg/m³, CO in mg/m³. Concentrations are rounded
              half to even to 1 µg/m³ (CO 0.1 mg/m³) first.
  hj633-2012  the same without pm25_1h and pm10_1h.
  epa-2024    pm25_24h pm10_24h (µg/m³), o3_8h o3_1h co_8h (ppm),
              so2_1h so2_24h no2_1h (ppb). With --units ugm3 give every
              gas in µg/m³ (CO too); it is converted at 25 °C, 1013.25 hPa.
A value above the top of its table is an error, never clamped to 500.

With --nowcast, the argument is a list of hourly means, oldest first, of
which the last 12 count; an empty entry is a missing hour. The NowCast is
indexed on the EPA 24 h table.

Examples:
  envmon aqi --standard hj633-2012 --json pm10_24h=88
  envmon aqi pm25_24h=75 pm10_24h=120 so2_24h=10 no2_24h=40 co_24h=0.8 o3_8h=150
  envmon aqi --standard hj633-2026 pm25_1h=80 o3_1h=210
  envmon aqi --standard epa-2024 o3_8h=0.078 pm25_24h=35.9 co_8h=8.4
  envmon aqi --standard epa-2024 --units ugm3 o3_8h=153 no2_1h=80
  envmon aqi --nowcast pm25 50,80,75,90,82,53,64,74,21,10,16,13
  envmon aqi --nowcast pm25 50,,75,90

Exit status: 0 on success; 1 if the standard cannot index the values
(beyond its table, or a value it needs is missing); 2 for bad usage or
input.
`

// aqiOptions are the flags of envmon aqi.
type aqiOptions struct {
	standard string
	units    string
	nowcast  string
	json     bool
}

// AQI runs `envmon aqi ARGS`; it returns the process exit code.
func AQI(args []string, stdout, stderr io.Writer) int {
	var o aqiOptions
	fs := flag.NewFlagSet("envmon aqi", flag.ContinueOnError)
	fs.StringVar(&o.standard, "standard", quality.HJ633v2026.String(), "index `standard`: hj633-2026, hj633-2012 or epa-2024")
	fs.StringVar(&o.units, "units", "", "`unit` of the values if not the standard's own: ugm3 (µg/m³, for every gas)")
	fs.StringVar(&o.nowcast, "nowcast", "", "compute the EPA NowCast of `pollutant` pm25 or pm10 from a list of hourly means")
	fs.BoolVar(&o.json, "json", false, "print JSON instead of a table")
	return run("aqi", fs, aqiUsage, args, stdout, stderr, func(pos []string) error {
		standardSet := false
		fs.Visit(func(f *flag.Flag) { standardSet = standardSet || f.Name == "standard" })
		if o.nowcast != "" {
			return runNowCast(o, standardSet, pos, stdout)
		}
		return runAQI(o, pos, stdout)
	})
}

// parseAQIArgs turns the positional arguments of envmon aqi into
// concentrations in the units of s, converting from µg/m³ if units is
// "ugm3". It also returns the keys in the order given.
func parseAQIArgs(s quality.Standard, units string, args []string) (quality.Concentrations, []quality.Key, error) {
	var c quality.Concentrations
	var keys []quality.Key
	if len(args) == 0 {
		return c, nil, usagef("no concentrations given: want KEY=VALUE arguments such as pm25_24h=35")
	}
	switch units {
	case "", "ugm3":
	default:
		return c, nil, usagef("unknown --units %q: want ugm3, or leave it out for the standard's own units", units)
	}
	for _, arg := range args {
		k, v, err := parseConcentration(arg)
		if err != nil {
			return c, nil, usageError{err}
		}
		if _, dup := c.Get(k.Pollutant, k.Period); dup {
			return c, nil, usagef("%s given twice", k)
		}
		if units == "ugm3" {
			if v, err = quality.Convert(k.Pollutant, v, quality.UgM3, s.Unit(k.Pollutant)); err != nil {
				return c, nil, usageError{err}
			}
		}
		c.Set(k.Pollutant, k.Period, v)
		keys = append(keys, k)
	}
	return c, keys, nil
}

// aqiJSON is the JSON output of envmon aqi.
type aqiJSON struct {
	Standard        string             `json:"standard"`
	AQI             int                `json:"aqi"`
	Level           int                `json:"level"`
	Category        string             `json:"category"`
	CategoryZH      string             `json:"category_zh,omitempty"`
	Color           string             `json:"color"`
	Primary         []string           `json:"primary"`
	Exceeding       *[]string          `json:"exceeding,omitempty"`
	IAQI            map[string]int     `json:"iaqi"`
	Concentrations  map[string]float64 `json:"concentrations"`
	Units           map[string]string  `json:"units"`
	HealthEffects   string             `json:"health_effects,omitempty"`
	HealthEffectsZH string             `json:"health_effects_zh,omitempty"`
	Measures        string             `json:"measures,omitempty"`
}

func runAQI(o aqiOptions, args []string, stdout io.Writer) error {
	s, err := quality.ParseStandard(o.standard)
	if err != nil {
		return usageError{err}
	}
	c, keys, err := parseAQIArgs(s, o.units, args)
	if err != nil {
		return err
	}
	r, err := s.AQI(&c)
	if err != nil {
		if errors.Is(err, quality.ErrNoTable) || errors.Is(err, quality.ErrInvalid) {
			return usageError{err}
		}
		return err
	}
	info := r.Info()
	if o.json {
		out := aqiJSON{
			Standard:       s.String(),
			AQI:            r.AQI,
			Level:          int(r.Level),
			Category:       info.Name,
			CategoryZH:     info.NameZH,
			Color:          info.Color,
			Primary:        r.Primary.Strings(),
			IAQI:           make(map[string]int),
			Concentrations: make(map[string]float64),
			Units:          make(map[string]string),
		}
		for k, v := range r.All() {
			out.IAQI[k.String()] = v
		}
		for _, k := range keys {
			v, _ := c.Get(k.Pollutant, k.Period)
			out.Concentrations[k.String()] = v
			out.Units[k.String()] = s.Unit(k.Pollutant).String()
		}
		if s.China() {
			ex := r.Exceeding.Strings()
			out.Exceeding = &ex
			out.HealthEffects = info.HealthEffects
			out.HealthEffectsZH = info.HealthEffectsZH
			out.Measures = info.MeasuresZH
		}
		return writeJSON(stdout, out)
	}

	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "standard\t%s\n", s.Title())
	fmt.Fprintf(tw, "AQI\t%d\n", r.AQI)
	fmt.Fprintf(tw, "level\t%d  %s\n", r.Level, strings.TrimSpace(info.NameZH+"  "+info.Name))
	fmt.Fprintf(tw, "colour\t%s\n", info.Color)
	fmt.Fprintf(tw, "primary\t%s\n", orNone(r.Primary.String()))
	if s.China() {
		fmt.Fprintf(tw, "exceeding\t%s\n", orNone(r.Exceeding.String()))
		fmt.Fprintf(tw, "health effects\t%s\n", info.HealthEffectsZH)
		fmt.Fprintf(tw, "\t%s\n", info.HealthEffects)
		fmt.Fprintf(tw, "measures\t%s\n", info.MeasuresZH)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(stdout)
	tw = tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "key\tvalue\tunit\tIAQI")
	for _, k := range keys {
		v, _ := c.Get(k.Pollutant, k.Period)
		iaqi := "not used"
		if n, ok := r.IAQI(k.Pollutant, k.Period); ok {
			iaqi = fmt.Sprint(n)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", k, formatNumber(v), s.Unit(k.Pollutant), iaqi)
	}
	return tw.Flush()
}

// nowcastJSON is the JSON output of envmon aqi --nowcast.
type nowcastJSON struct {
	Standard  string  `json:"standard"`
	Pollutant string  `json:"pollutant"`
	NowCast   float64 `json:"nowcast"`
	Unit      string  `json:"unit"`
	Weight    float64 `json:"weight"`
	Hours     int     `json:"hours"`
	AQI       int     `json:"aqi"`
	Level     int     `json:"level"`
	Category  string  `json:"category"`
	Color     string  `json:"color"`
}

func runNowCast(o aqiOptions, standardSet bool, args []string, stdout io.Writer) error {
	if standardSet && o.standard != quality.EPA2024.String() {
		return usagef("--nowcast is the EPA's; it takes no --standard %s", o.standard)
	}
	if o.units != "" {
		return usagef("--nowcast takes particulates in µg/m³ only, without --units")
	}
	p, err := quality.ParsePollutant(o.nowcast)
	if err != nil || (p != quality.PM25 && p != quality.PM10) {
		return usagef("--nowcast %s: want pm25 or pm10", o.nowcast)
	}
	if len(args) != 1 {
		return usagef("--nowcast takes one comma-separated list of hourly means, oldest first, such as 50,,75")
	}
	hours, err := parseSeries(args[0])
	if err != nil {
		return usagef("hourly means: %v", err)
	}
	nc, err := quality.NowCast(p, hours)
	if err != nil {
		return err
	}
	aqi, err := quality.EPA2024.IAQI(p, quality.Hour24, nc.Value)
	if err != nil {
		return fmt.Errorf("NowCast %s µg/m³: %w", formatNumber(nc.Value), err)
	}
	s := quality.EPA2024
	level := s.LevelOf(aqi)
	info, _ := s.LevelInfo(level)
	if o.json {
		return writeJSON(stdout, nowcastJSON{
			Standard: s.String(), Pollutant: p.String(), NowCast: nc.Value, Unit: quality.UgM3.String(),
			Weight: round3(nc.Weight), Hours: nc.Hours, AQI: aqi, Level: int(level), Category: info.Name, Color: info.Color,
		})
	}
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "standard\t%s\n", s.Title())
	fmt.Fprintf(tw, "NowCast\t%s %s %s\n", p.Title(), formatNumber(nc.Value), quality.UgM3)
	fmt.Fprintf(tw, "weight\t%s\n", formatNumber(round3(nc.Weight)))
	fmt.Fprintf(tw, "hours\t%d valid of the last %d\n", nc.Hours, min(len(hours), 12))
	fmt.Fprintf(tw, "AQI\t%d\n", aqi)
	fmt.Fprintf(tw, "category\t%d  %s\n", level, info.Name)
	fmt.Fprintf(tw, "colour\t%s\n", info.Color)
	return tw.Flush()
}

// round3 rounds a weight to three decimals for display.
func round3(v float64) float64 { return float64(int64(v*1000+0.5)) / 1000 }

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}
