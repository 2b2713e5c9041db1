package rules

import (
	"bytes"
	_ "embed"
	"errors"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strings"
	"text/template"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/envmon/envmon/quality"
	"github.com/envmon/envmon/reading"
)

// Kind is what a rule watches.
type Kind string

// The kinds of rule.
const (
	// Threshold compares one metric, raw or over a window, with a limit.
	Threshold Kind = "threshold"
	// AQI compares the hourly air quality index level with a level.
	AQI Kind = "aqi"
	// WaterClass compares a reading's GB 3838-2002 class with the
	// station's target class.
	WaterClass Kind = "water_class"
	// Noise compares the hourly Leq with the GB 3096-2008 day or night
	// limit of the station's zone, and night Lmax with the night limit
	// plus 15 dB(A).
	Noise Kind = "noise"
	// Offline fires for a station that has sent nothing, by arrival time,
	// for longer than After, or whose connection ended (last will).
	Offline Kind = "offline"
	// SensorFault fires for a metric whose readings are all QC-flagged,
	// or all identical (stuck), over a period.
	SensorFault Kind = "sensor_fault"
)

var kinds = []Kind{Threshold, AQI, WaterClass, Noise, Offline, SensorFault}

// Inhibitor reports whether rules of kind k inhibit the threshold-like
// rules of their station while they are firing.
func (k Kind) Inhibitor() bool { return k == Offline || k == SensorFault }

// Window is what a threshold compares.
type Window string

// The windows: the raw value, or a mean from package windows.
const (
	Raw    Window = "raw"
	Mean1  Window = "1h"
	Mean8  Window = "8h"
	Mean24 Window = "24h"
)

// Hours returns the window's length in hours, 0 for Raw.
func (w Window) Hours() int {
	switch w {
	case Mean1:
		return 1
	case Mean8:
		return 8
	case Mean24:
		return 24
	}
	return 0
}

// Severity of an alert.
type Severity string

// The severities, least first.
const (
	Info     Severity = "info"
	Warning  Severity = "warning"
	Critical Severity = "critical"
)

// Text is a template in Chinese and English.
type Text struct {
	ZH string `yaml:"zh" json:"zh"`
	EN string `yaml:"en" json:"en"`

	zh, en *template.Template
}

// Rule is one alert rule.
type Rule struct {
	Name     string            `yaml:"name"`
	Kind     Kind              `yaml:"kind"`
	Medium   reading.Medium    `yaml:"medium"`
	Severity Severity          `yaml:"severity"`
	Labels   map[string]string `yaml:"labels"`
	// Annotations are templates, each in zh and en; see Data for what
	// they may use.
	Annotations map[string]Text `yaml:"annotations"`

	// For is how long the condition must hold, in event time, before a
	// pending episode fires.
	For time.Duration `yaml:"for"`
	// ClearFor is how long the clear condition must hold before a firing
	// episode resolves. Zero: at once.
	ClearFor time.Duration `yaml:"clear_for"`
	// MinFiring is the least time an episode stays firing, and
	// MinResolved the least time after a resolution before the same rule
	// and station may fire again (flap damping).
	MinFiring   time.Duration `yaml:"min_firing"`
	MinResolved time.Duration `yaml:"min_resolved"`
	// Repeat is the interval of repeat notifications while an episode
	// stays firing and unacknowledged; zero for none.
	Repeat time.Duration `yaml:"repeat_interval"`

	// Threshold.
	Metric string   `yaml:"metric"`
	Window Window   `yaml:"window"`
	Above  *float64 `yaml:"above"`
	Below  *float64 `yaml:"below"`
	// Clear is the hysteresis: a firing episode resolves only once the
	// value is below Clear (for Above), or above it (for Below).
	Clear *float64 `yaml:"clear"`

	// AQI: fire at Level or above; resolve at ClearLevel or below
	// (default Level-2, at least 1: one band's hysteresis).
	Level      int              `yaml:"level"`
	ClearLevel int              `yaml:"clear_level"`
	StandardID string           `yaml:"standard"`
	Standard   quality.Standard `yaml:"-"`

	// Noise: "leq" for the hourly Leq against the day or night limit, or
	// "night_lmax" for night Lmax against the night limit + 15 dB(A).
	Limit string `yaml:"limit"`

	// Offline: After is the silence by arrival time; LastWill also fires
	// when the station's connection ends.
	After    time.Duration `yaml:"after"`
	LastWill *bool         `yaml:"last_will"`

	// SensorFault: Flags are the QC flags that count (default all); a
	// metric whose values are all flagged for For is faulty. StuckFor:
	// a metric whose clean values stay identical for StuckFor is faulty
	// too (zero: not checked).
	Flags    []string      `yaml:"flags"`
	StuckFor time.Duration `yaml:"stuck_for"`
	FlagMask reading.Flags `yaml:"-"`

	// File and Line say where the rule was written.
	File string `yaml:"-"`
	Line int    `yaml:"-"`
}

// Set is a parsed rule file.
type Set struct {
	Rules []*Rule
}

// Get returns the rule called name.
func (s *Set) Get(name string) *Rule {
	for _, r := range s.Rules {
		if r.Name == name {
			return r
		}
	}
	return nil
}

type file struct {
	Standard string   `yaml:"standard"`
	Defaults defaults `yaml:"defaults"`
	Rules    []*Rule  `yaml:"rules"`
}

// lines is the file again, for the line of each rule.
type lines struct {
	Rules []yaml.Node `yaml:"rules"`
}

type defaults struct {
	For         *time.Duration    `yaml:"for"`
	ClearFor    *time.Duration    `yaml:"clear_for"`
	MinFiring   *time.Duration    `yaml:"min_firing"`
	MinResolved *time.Duration    `yaml:"min_resolved"`
	Repeat      *time.Duration    `yaml:"repeat_interval"`
	Severity    Severity          `yaml:"severity"`
	Labels      map[string]string `yaml:"labels"`
}

//go:embed default.yaml
var defaultRules []byte

// DefaultFile is the name the embedded defaults are reported under.
const DefaultFile = "embedded:alerts/rules/default.yaml"

// Default returns the embedded rules for the national standards
// (docs/ALERTS.md).
func Default() *Set {
	s, err := Parse(DefaultFile, defaultRules)
	if err != nil {
		panic(err) // tested
	}
	return s
}

// DefaultYAML returns the embedded default rule file.
func DefaultYAML() []byte { return bytes.Clone(defaultRules) }

// Load parses the rule file at path.
func Load(path string) (*Set, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("alert rules: %w", err)
	}
	return Parse(path, b)
}

// Error is a problem in a rule file, at a line.
type Error struct {
	File string
	Line int
	Msg  string
}

func (e *Error) Error() string { return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg) }

var yamlLine = regexp.MustCompile(`^yaml: (?:unmarshal errors:\n\s*)?line (\d+): (.*)$`)

func yamlErr(name string, err error) error {
	msg := err.Error()
	if m := yamlLine.FindStringSubmatch(msg); m != nil {
		var line int
		fmt.Sscan(m[1], &line)
		return &Error{File: name, Line: line, Msg: strings.TrimSpace(m[2])}
	}
	return &Error{File: name, Line: 1, Msg: strings.TrimPrefix(msg, "yaml: ")}
}

var nameRE = regexp.MustCompile(`^[a-z][a-z0-9_]{0,62}$`)

// Parse parses a rule file; name is what errors call it.
func Parse(name string, data []byte) (*Set, error) {
	var f file
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&f); err != nil {
		return nil, yamlErr(name, err)
	}
	std := quality.HJ633v2026
	if f.Standard != "" {
		s, err := quality.ParseStandard(f.Standard)
		if err != nil {
			return nil, &Error{name, 1, "standard: " + err.Error()}
		}
		std = s
	}
	var ls lines
	if err := yaml.Unmarshal(data, &ls); err != nil {
		return nil, yamlErr(name, err)
	}
	if len(f.Rules) == 0 {
		return nil, &Error{name, 1, "no rules: want a rules: list"}
	}
	set := &Set{}
	for i, r := range f.Rules {
		line := ls.Rules[i].Line
		if r == nil {
			return nil, &Error{name, line, "empty rule"}
		}
		r.File, r.Line = name, line
		if err := r.check(std, f.Defaults); err != nil {
			return nil, &Error{name, line, fmt.Sprintf("rule %q: %v", r.Name, err)}
		}
		if set.Get(r.Name) != nil {
			return nil, &Error{name, line, fmt.Sprintf("rule %q: defined twice", r.Name)}
		}
		set.Rules = append(set.Rules, r)
	}
	return set, nil
}

func (r *Rule) check(std quality.Standard, d defaults) error {
	if !nameRE.MatchString(r.Name) {
		return errors.New("name: want [a-z][a-z0-9_]*")
	}
	if !slices.Contains(kinds, r.Kind) {
		return fmt.Errorf("kind %q is not one of threshold, aqi, water_class, noise, offline, sensor_fault", r.Kind)
	}
	if r.Severity == "" {
		r.Severity = d.Severity
	}
	switch r.Severity {
	case "":
		r.Severity = Warning
	case Info, Warning, Critical:
	default:
		return fmt.Errorf("severity %q is not info, warning or critical", r.Severity)
	}
	set := func(dst *time.Duration, def *time.Duration, fallback time.Duration) {
		if *dst == 0 {
			if def != nil {
				*dst = *def
			} else {
				*dst = fallback
			}
		}
	}
	set(&r.MinFiring, d.MinFiring, 0)
	set(&r.MinResolved, d.MinResolved, 0)
	set(&r.Repeat, d.Repeat, 0)
	for _, x := range []time.Duration{r.For, r.ClearFor, r.MinFiring, r.MinResolved, r.Repeat, r.After, r.StuckFor} {
		if x < 0 {
			return errors.New("durations must not be negative")
		}
	}
	if len(d.Labels) > 0 {
		l := map[string]string{}
		for k, v := range d.Labels {
			l[k] = v
		}
		for k, v := range r.Labels {
			l[k] = v
		}
		r.Labels = l
	}
	for k := range r.Labels {
		if !labelRE.MatchString(k) || slices.Contains(reservedLabels, k) {
			return fmt.Errorf("label %q: want [a-zA-Z_][a-zA-Z0-9_]*, and not one of %v", k, reservedLabels)
		}
	}
	if r.Medium != "" {
		if _, err := reading.ParseMedium(string(r.Medium)); err != nil {
			return fmt.Errorf("medium: %v", err)
		}
	}
	switch r.Kind {
	case Threshold:
		m, ok := reading.LookupMetric(r.Metric)
		if !ok {
			return fmt.Errorf("metric %q is not a metric of docs/MQTT.md", r.Metric)
		}
		if r.Medium == "" {
			r.Medium = m.Medium
		}
		if r.Window == "" {
			r.Window = Raw
		}
		if r.Window != Raw && r.Window.Hours() == 0 {
			return fmt.Errorf("window %q is not raw, 1h, 8h or 24h", r.Window)
		}
		if (r.Above == nil) == (r.Below == nil) {
			return errors.New("give exactly one of above and below")
		}
		if r.Clear == nil {
			c := *r.limit()
			r.Clear = &c
		}
		if r.Above != nil && *r.Clear > *r.Above {
			return fmt.Errorf("clear %g must be at most above %g", *r.Clear, *r.Above)
		}
		if r.Below != nil && *r.Clear < *r.Below {
			return fmt.Errorf("clear %g must be at least below %g", *r.Clear, *r.Below)
		}
	case AQI:
		r.Medium = reading.Air
		if r.Level < 2 || r.Level > 6 {
			return fmt.Errorf("level %d: want 2 to 6", r.Level)
		}
		if r.ClearLevel == 0 {
			r.ClearLevel = max(r.Level-2, 1)
		}
		if r.ClearLevel >= r.Level || r.ClearLevel < 1 {
			return fmt.Errorf("clear_level %d: want 1 to level-1", r.ClearLevel)
		}
		r.Standard = std
		if r.StandardID != "" {
			s, err := quality.ParseStandard(r.StandardID)
			if err != nil {
				return err
			}
			r.Standard = s
		}
	case WaterClass:
		r.Medium = reading.Water
	case Noise:
		r.Medium = reading.Noise
		if r.Limit != "leq" && r.Limit != "night_lmax" {
			return fmt.Errorf("limit %q is not leq or night_lmax", r.Limit)
		}
	case Offline:
		if r.After <= 0 {
			return errors.New("after: give how long a silence makes a station offline")
		}
		if r.LastWill == nil {
			t := true
			r.LastWill = &t
		}
	case SensorFault:
		if len(r.Flags) == 0 {
			r.FlagMask = ^reading.Flags(0)
		}
		for _, f := range r.Flags {
			fl, err := reading.ParseFlag(f)
			if err != nil {
				return err
			}
			r.FlagMask |= fl
		}
		if r.For == 0 && r.StuckFor == 0 {
			return errors.New("give for (flagged this long), stuck_for, or both")
		}
	}
	if r.Kind != Threshold && (r.Above != nil || r.Below != nil || r.Clear != nil || r.Metric != "" || r.Window != "") {
		return errors.New("metric, window, above, below and clear are for threshold rules")
	}
	if r.Kind != Offline && r.Kind != SensorFault {
		set(&r.For, d.For, 0)
		set(&r.ClearFor, d.ClearFor, 0)
	}
	if len(r.Annotations) == 0 {
		r.Annotations = map[string]Text{"summary": defaultSummary(r.Kind)}
	}
	for k, t := range r.Annotations {
		if !labelRE.MatchString(k) {
			return fmt.Errorf("annotation %q: want [a-zA-Z_][a-zA-Z0-9_]*", k)
		}
		var err error
		if t.zh, err = template.New(k).Option("missingkey=error").Parse(t.ZH); err != nil {
			return fmt.Errorf("annotation %s.zh: %v", k, err)
		}
		if t.en, err = template.New(k).Option("missingkey=error").Parse(t.EN); err != nil {
			return fmt.Errorf("annotation %s.en: %v", k, err)
		}
		// Render once with sample data, so that a bad field name fails
		// at start-up, not at the first alert.
		if _, err := t.render(Data{}); err != nil {
			return fmt.Errorf("annotation %s: %v", k, err)
		}
		r.Annotations[k] = t
	}
	return nil
}

// limit returns the threshold, above or below.
func (r *Rule) limit() *float64 {
	if r.Above != nil {
		return r.Above
	}
	return r.Below
}

// Limit returns the threshold of a threshold rule.
func (r *Rule) LimitValue() float64 { return *r.limit() }

// Breach reports whether v breaches a threshold rule.
func (r *Rule) Breach(v float64) bool {
	if r.Above != nil {
		return v > *r.Above
	}
	return v < *r.Below
}

// Cleared reports whether v is past a threshold rule's clear value.
func (r *Rule) Cleared(v float64) bool {
	if r.Above != nil {
		return v < *r.Clear || (*r.Clear == *r.Above && v <= *r.Above)
	}
	return v > *r.Clear || (*r.Clear == *r.Below && v >= *r.Below)
}

var labelRE = regexp.MustCompile(`^[a-zA-Z_][a-zA-Z0-9_]*$`)

// reservedLabels are set by envmon on every alert.
var reservedLabels = []string{"alertname", "rule", "station", "point", "medium", "severity"}

// Data is what annotation templates see.
type Data struct {
	Rule, Station, Point, Metric, Unit, Window string
	Value, Threshold, Clear                    float64
	Level                                      int
	LevelName, LevelNameZH                     string
	Class, Target                              string
	Limit                                      float64
	Since                                      string // how long, for offline
}

func (t Text) render(d Data) ([2]string, error) {
	var out [2]string
	for i, tm := range []*template.Template{t.zh, t.en} {
		var b strings.Builder
		if err := tm.Execute(&b, d); err != nil {
			return out, err
		}
		out[i] = b.String()
	}
	return out, nil
}

// Render returns the rule's annotations for d, keyed as Alertmanager
// receivers expect: "summary" holds the English text and "summary_zh" the
// Chinese.
func (r *Rule) Render(d Data) map[string]string {
	out := make(map[string]string, 2*len(r.Annotations))
	for k, t := range r.Annotations {
		s, err := t.render(d)
		if err != nil {
			s = [2]string{err.Error(), err.Error()}
		}
		out[k] = s[1]
		out[k+"_zh"] = s[0]
	}
	return out
}

func defaultSummary(k Kind) Text {
	switch k {
	case Threshold:
		return Text{ZH: "{{.Station}} {{.Metric}} {{.Window}} 值 {{printf \"%.1f\" .Value}} {{.Unit}}，超过 {{.Threshold}}", EN: "{{.Station}} {{.Metric}} {{.Window}} value {{printf \"%.1f\" .Value}} {{.Unit}} beyond {{.Threshold}}"}
	case AQI:
		return Text{ZH: "{{.Station}} AQI {{printf \"%.0f\" .Value}}，{{.LevelNameZH}}", EN: "{{.Station}} AQI {{printf \"%.0f\" .Value}}: {{.LevelName}}"}
	case WaterClass:
		return Text{ZH: "{{.Station}} 水质 {{.Class}} 类，差于目标 {{.Target}} 类", EN: "{{.Station}} water class {{.Class}} is worse than its target {{.Target}}"}
	case Noise:
		return Text{ZH: "{{.Station}} 噪声 {{printf \"%.1f\" .Value}} dB(A) 超过限值 {{.Limit}}", EN: "{{.Station}} noise {{printf \"%.1f\" .Value}} dB(A) over the limit {{.Limit}}"}
	case Offline:
		return Text{ZH: "{{.Station}} 离线已 {{.Since}}", EN: "{{.Station}} offline for {{.Since}}"}
	}
	return Text{ZH: "{{.Station}} {{.Metric}} 传感器故障", EN: "{{.Station}} sensor fault on {{.Metric}}"}
}
