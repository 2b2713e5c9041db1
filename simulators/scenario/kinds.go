package scenario

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/envmon/envmon/reading"
	"github.com/envmon/envmon/simulators"
)

// qcFlags are the quality control flags envmon's API reports.
var qcFlags = []string{"range", "sentinel", "stuck", "spike", "future", "past", "duplicate", "humidity"}

// where is the station, metric and time window most kinds look at.
type where struct {
	Station string `yaml:"station"`
	Metric  string `yaml:"metric"`
	// From and To are scenario times; default the whole run.
	From string `yaml:"from"`
	To   string `yaml:"to"`

	from, to time.Duration
}

func (w *where) resolve(c *Context, needMetric bool) error {
	if w.Station == "" {
		return errors.New("station is required")
	}
	if !c.HasStation(w.Station) {
		return fmt.Errorf("station %s is not in the scenario", w.Station)
	}
	if needMetric {
		if w.Metric == "" {
			return errors.New("metric is required")
		}
		if _, ok := reading.LookupMetric(w.Metric); !ok && w.Metric != "lat" && w.Metric != "lon" {
			return fmt.Errorf("%q is not a metric of docs/MQTT.md", w.Metric)
		}
	}
	var err error
	if w.from, err = c.Offset(w.From); err != nil {
		return fmt.Errorf("from: %w", err)
	}
	if w.To == "" {
		w.To = "end"
	}
	if w.to, err = c.Offset(w.To); err != nil {
		return fmt.Errorf("to: %w", err)
	}
	if w.to <= w.from {
		return fmt.Errorf("the window %s-%s is empty", w.fromName(), w.To)
	}
	return nil
}

func (w where) fromName() string {
	if w.From == "" {
		return "start"
	}
	return w.From
}

// window says the window in words.
func (w where) window() string {
	if w.from == 0 && w.To == "end" {
		return "over the run"
	}
	return fmt.Sprintf("from %s to %s", w.fromName(), w.To)
}

func (w where) times(env *Env) (time.Time, time.Time) { return env.At(w.from), env.At(w.to) }

func (w where) readings(ctx context.Context, env *Env) ([]Sample, error) {
	from, to := w.times(env)
	return env.API.Readings(ctx, w.Station, w.Metric, from, to)
}

// stored: how many readings of a metric envmon stored in a window.
//
//   - kind: stored
//     station: st-7
//     metric: pm25
//     from: "11:00"   # default start
//     to: end         # default end
//     min: 1          # at least; or max: 0 for none; or count: sent
type stored struct {
	where `yaml:",inline"`
	Min   *int `yaml:"min"`
	Max   *int `yaml:"max"`
	// Count "sent" wants exactly as many as the simulator delivered whole
	// (distinct timestamps: a duplicate is stored once).
	Count string `yaml:"count"`
}

func decodeStored(c *Context, node *yaml.Node) (Expectation, error) {
	var x stored
	if err := DecodeStrict(node, &x); err != nil {
		return nil, err
	}
	if err := x.resolve(c, true); err != nil {
		return nil, err
	}
	if x.Count != "" && x.Count != "sent" {
		return nil, fmt.Errorf("count %q: the only count is sent", x.Count)
	}
	if x.Min == nil && x.Max == nil && x.Count == "" {
		one := 1
		x.Min = &one
	}
	return &x, nil
}

func (x *stored) String() string {
	var want string
	switch {
	case x.Count == "sent":
		want = "as many readings stored as were delivered"
	case x.Max != nil && *x.Max == 0:
		want = "no readings stored"
	case x.Min != nil && x.Max != nil:
		want = fmt.Sprintf("%d to %d readings stored", *x.Min, *x.Max)
	case x.Max != nil:
		want = fmt.Sprintf("at most %d readings stored", *x.Max)
	default:
		want = fmt.Sprintf("at least %d readings stored", *x.Min)
	}
	return fmt.Sprintf("stored: %s %s: %s %s", x.Station, x.Metric, want, x.window())
}

func (x *stored) Check(ctx context.Context, env *Env) (string, error) {
	ss, err := x.readings(ctx, env)
	if err != nil {
		return "", err
	}
	n := len(ss)
	obs := fmt.Sprintf("%d stored", n)
	switch {
	case x.Count == "sent":
		from, to := x.times(env)
		want := len(Timestamps(env.Ledger.Delivered(x.Station, x.Metric, from, to)))
		obs += fmt.Sprintf(", %d delivered", want)
		if n != want {
			return obs, fmt.Errorf("%d stored, but %d were delivered", n, want)
		}
	case x.Min != nil && n < *x.Min:
		return obs, fmt.Errorf("only %d stored", n)
	case x.Max != nil && n > *x.Max:
		return obs, fmt.Errorf("%d stored", n)
	}
	return obs, nil
}

// latest: a metric's latest value.
//
//   - kind: latest
//     station: st-3
//     metric: pm25
//     min: 150        # and/or max; or equals: sent (the newest the
//     max: 220        # simulator delivered, by timestamp)
type latest struct {
	Station string   `yaml:"station"`
	Metric  string   `yaml:"metric"`
	Min     *float64 `yaml:"min"`
	Max     *float64 `yaml:"max"`
	Equals  string   `yaml:"equals"`
}

func decodeLatest(c *Context, node *yaml.Node) (Expectation, error) {
	var x latest
	if err := DecodeStrict(node, &x); err != nil {
		return nil, err
	}
	w := where{Station: x.Station, Metric: x.Metric}
	if err := w.resolve(c, true); err != nil {
		return nil, err
	}
	if x.Equals != "" && x.Equals != "sent" {
		return nil, fmt.Errorf("equals %q: the only value to equal is sent", x.Equals)
	}
	return &x, nil
}

func (x *latest) String() string {
	want := "a value"
	switch {
	case x.Equals == "sent":
		want = "the newest value delivered"
	case x.Min != nil && x.Max != nil:
		want = fmt.Sprintf("between %g and %g", *x.Min, *x.Max)
	case x.Min != nil:
		want = fmt.Sprintf("at least %g", *x.Min)
	case x.Max != nil:
		want = fmt.Sprintf("at most %g", *x.Max)
	}
	return fmt.Sprintf("latest: %s %s is %s", x.Station, x.Metric, want)
}

func (x *latest) Check(ctx context.Context, env *Env) (string, error) {
	st, err := env.API.Latest(ctx, x.Station)
	if err != nil {
		return "", err
	}
	v, ok := st.Values[x.Metric]
	if !ok {
		return "no value", fmt.Errorf("%s has no latest %s", x.Station, x.Metric)
	}
	obs := fmt.Sprintf("%g %s at %s", v.Value, v.Unit, v.Time.In(env.Start.Location()).Format("15:04:05"))
	if x.Equals == "sent" {
		var newest simulators.Sent
		for _, s := range env.Ledger.Delivered(x.Station, x.Metric, env.Start.Add(-24*time.Hour), env.End.Add(24*time.Hour)) {
			if !s.TS.Before(newest.TS) { // the last copy of a duplicate wins
				newest = s
			}
		}
		want, ok := newest.Value(x.Metric)
		switch {
		case !ok:
			return obs, errors.New("the simulator delivered no value")
		case v.Value != want || !v.Time.Equal(newest.TS):
			return obs, fmt.Errorf("latest is %g at %s, but the newest delivered was %g at %s", v.Value, v.Time.Format(time.RFC3339), want, newest.TS.Format(time.RFC3339))
		}
		return obs, nil
	}
	if (x.Min != nil && v.Value < *x.Min) || (x.Max != nil && v.Value > *x.Max) {
		return obs, fmt.Errorf("latest is %g", v.Value)
	}
	return obs, nil
}

// stat: a statistic of the stored readings in a window.
//
//   - kind: stat
//     station: st-3
//     metric: pm25
//     from: "11:00"
//     to: "13:00"
//     stat: mean      # mean, min or max
//     min: 150
//     max: 220
type stat struct {
	where `yaml:",inline"`
	Stat  string   `yaml:"stat"`
	Min   *float64 `yaml:"min"`
	Max   *float64 `yaml:"max"`
}

func decodeStat(c *Context, node *yaml.Node) (Expectation, error) {
	var x stat
	if err := DecodeStrict(node, &x); err != nil {
		return nil, err
	}
	if err := x.resolve(c, true); err != nil {
		return nil, err
	}
	switch x.Stat {
	case "":
		x.Stat = "mean"
	case "mean", "min", "max":
	default:
		return nil, fmt.Errorf("stat %q is not mean, min or max", x.Stat)
	}
	if x.Min == nil && x.Max == nil {
		return nil, errors.New("give min, max or both")
	}
	return &x, nil
}

func (x *stat) String() string {
	var want string
	switch {
	case x.Min != nil && x.Max != nil:
		want = fmt.Sprintf("between %g and %g", *x.Min, *x.Max)
	case x.Min != nil:
		want = fmt.Sprintf("at least %g", *x.Min)
	default:
		want = fmt.Sprintf("at most %g", *x.Max)
	}
	return fmt.Sprintf("stat: %s %s %s %s is %s", x.Station, x.Metric, x.Stat, x.window(), want)
}

func (x *stat) Check(ctx context.Context, env *Env) (string, error) {
	ss, err := x.readings(ctx, env)
	if err != nil {
		return "", err
	}
	if len(ss) == 0 {
		return "no readings", errors.New("no readings stored in the window")
	}
	v := ss[0].Value
	sum := 0.0
	for _, s := range ss {
		sum += s.Value
		switch x.Stat {
		case "min":
			v = math.Min(v, s.Value)
		case "max":
			v = math.Max(v, s.Value)
		}
	}
	if x.Stat == "mean" {
		v = sum / float64(len(ss))
	}
	obs := fmt.Sprintf("%s %.4g over %d readings", x.Stat, v, len(ss))
	if (x.Min != nil && v < *x.Min) || (x.Max != nil && v > *x.Max) {
		return obs, fmt.Errorf("%s is %.4g", x.Stat, v)
	}
	return obs, nil
}

// qc: the quality control flags on stored readings.
//
//   - kind: qc
//     station: st-9
//     metric: pm25
//     fault: sentinel     # the readings this episode shaped...
//     flags: [sentinel]   # ...carry one of these flags (default: any)
//     min_fraction: 1     # ...at least this share of them (default 1)
//
//   - kind: qc
//     station: st-9
//     metric: pm25
//     clean: true         # the readings no episode touched...
//     max_fraction: 0.05  # ...at most this share flagged (default 0)
type qcExp struct {
	where       `yaml:",inline"`
	Fault       string   `yaml:"fault"`
	Flags       []string `yaml:"flags"`
	MinFraction *float64 `yaml:"min_fraction"`
	Clean       bool     `yaml:"clean"`
	MaxFraction *float64 `yaml:"max_fraction"`
}

func decodeQC(c *Context, node *yaml.Node) (Expectation, error) {
	var x qcExp
	if err := DecodeStrict(node, &x); err != nil {
		return nil, err
	}
	if err := x.resolve(c, true); err != nil {
		return nil, err
	}
	if (x.Fault == "") == !x.Clean {
		return nil, errors.New("give either fault (readings that must be flagged) or clean: true")
	}
	if x.Fault != "" && !slices.Contains(simulators.EpisodeKinds(), simulators.EpisodeKind(x.Fault)) {
		return nil, fmt.Errorf("fault %q is not an episode kind (%v)", x.Fault, simulators.EpisodeKinds())
	}
	for _, f := range x.Flags {
		if !slices.Contains(qcFlags, f) {
			return nil, fmt.Errorf("flag %q is not a QC flag (%s)", f, strings.Join(qcFlags, ", "))
		}
	}
	if x.MinFraction == nil {
		one := 1.0
		x.MinFraction = &one
	}
	if x.MaxFraction == nil {
		zero := 0.0
		x.MaxFraction = &zero
	}
	return &x, nil
}

func (x *qcExp) flagsName() string {
	if len(x.Flags) == 0 {
		return "a flag"
	}
	return strings.Join(x.Flags, " or ")
}

func (x *qcExp) String() string {
	if x.Clean {
		return fmt.Sprintf("qc: %s %s readings no episode touched are clean %s (at most %g%% flagged)", x.Station, x.Metric, x.window(), 100**x.MaxFraction)
	}
	share := "all"
	if *x.MinFraction < 1 {
		share = fmt.Sprintf("at least %g%% of the", 100**x.MinFraction)
	}
	return fmt.Sprintf("qc: %s %s: %s readings with the %s fault carry %s %s", x.Station, x.Metric, share, x.Fault, x.flagsName(), x.window())
}

// flagged reports whether s carries one of x's flags (any, if none). A
// sample without a qc field is not flagged.
func (x *qcExp) flagged(s Sample) bool {
	if len(x.Flags) == 0 {
		return len(s.QC) > 0
	}
	for _, f := range s.QC {
		if slices.Contains(x.Flags, f) {
			return true
		}
	}
	return false
}

func (x *qcExp) Check(ctx context.Context, env *Env) (string, error) {
	// The window is in measured time: a skewed clock's readings are
	// looked for at the timestamps they were sent with.
	from, to := x.times(env)
	var ts []time.Time
	for _, s := range env.Ledger.Sent(x.Station) {
		if _, ok := s.Value(x.Metric); !ok || !s.Delivered || s.Malformed || s.Measured.Before(from) || !s.Measured.Before(to) {
			continue
		}
		if (x.Clean && s.Untouched(x.Metric)) || (!x.Clean && s.Shaped(x.Metric, simulators.EpisodeKind(x.Fault))) {
			ts = append(ts, s.TS)
		}
	}
	slices.SortFunc(ts, func(a, b time.Time) int { return a.Compare(b) })
	ts = slices.CompactFunc(ts, time.Time.Equal)
	if len(ts) == 0 {
		return "", errors.New("the simulator delivered no such readings")
	}
	ss, err := env.API.Readings(ctx, x.Station, x.Metric, ts[0], ts[len(ts)-1].Add(time.Millisecond))
	if err != nil {
		return "", err
	}
	byTime := map[int64]Sample{}
	for _, s := range ss {
		byTime[s.Time.UnixNano()] = s
	}
	flagged, missing := 0, 0
	var clean []string
	for _, t := range ts {
		s, ok := byTime[t.UnixNano()]
		switch {
		case !ok:
			missing++
		case x.flagged(s):
			flagged++
		case len(clean) < 3:
			clean = append(clean, fmt.Sprintf("%g at %s", s.Value, t.In(env.Start.Location()).Format("15:04")))
		}
	}
	share := float64(flagged) / float64(len(ts))
	obs := fmt.Sprintf("%d of %d flagged", flagged, len(ts))
	if missing > 0 {
		obs += fmt.Sprintf(", %d not stored", missing)
	}
	if x.Clean {
		switch {
		case share > *x.MaxFraction:
			return obs, fmt.Errorf("%d of %d clean readings were flagged", flagged, len(ts))
		case missing > 0:
			return obs, fmt.Errorf("%d of %d clean readings were not stored", missing, len(ts))
		}
		return obs, nil
	}
	if share < *x.MinFraction {
		msg := fmt.Sprintf("only %d of %d faulty readings carry %s", flagged, len(ts), x.flagsName())
		if len(clean) > 0 {
			msg += "; came back clean: " + strings.Join(clean, ", ")
		}
		if missing > 0 {
			msg += fmt.Sprintf("; %d not stored", missing)
		}
		return obs, errors.New(msg)
	}
	return obs, nil
}

// status: a station's status.
//
//   - kind: status
//     station: st-7
//     status: offline   # online, offline or unknown
type status struct {
	Station string `yaml:"station"`
	Status  string `yaml:"status"`
}

func decodeStatus(c *Context, node *yaml.Node) (Expectation, error) {
	var x status
	if err := DecodeStrict(node, &x); err != nil {
		return nil, err
	}
	w := where{Station: x.Station}
	if err := w.resolve(c, false); err != nil {
		return nil, err
	}
	switch x.Status {
	case "online", "offline", "unknown":
	default:
		return nil, fmt.Errorf("status %q is not online, offline or unknown", x.Status)
	}
	return &x, nil
}

func (x *status) String() string { return fmt.Sprintf("status: %s is %s", x.Station, x.Status) }

func (x *status) Check(ctx context.Context, env *Env) (string, error) {
	st, err := env.API.Latest(ctx, x.Station)
	if err != nil {
		return "", err
	}
	if st.Status != x.Status {
		return st.Status, fmt.Errorf("%s is %s", x.Station, st.Status)
	}
	return st.Status, nil
}

// aqi: an air quality index level. envmon's API does not serve AQI yet,
// so it cannot be checked; it is here so scenarios can say what they
// expect, and fails saying so.
//
//   - kind: aqi
//     station: st-3
//     from: "11:00"
//     to: "13:00"
//     level: 5        # HJ 633 level 1-6
type aqi struct {
	where `yaml:",inline"`
	Level int    `yaml:"level"`
	Index int    `yaml:"index"`
	Std   string `yaml:"standard"`
}

func decodeAQI(c *Context, node *yaml.Node) (Expectation, error) {
	var x aqi
	if err := DecodeStrict(node, &x); err != nil {
		return nil, err
	}
	if err := x.resolve(c, false); err != nil {
		return nil, err
	}
	return &x, nil
}

func (x *aqi) String() string {
	return fmt.Sprintf("aqi: %s AQI level %d %s", x.Station, x.Level, x.window())
}

func (x *aqi) Check(context.Context, *Env) (string, error) {
	return "", fmt.Errorf("%w: the API does not serve AQI yet", errUncheckable)
}
