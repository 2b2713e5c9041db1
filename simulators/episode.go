package simulators

import (
	"errors"
	"fmt"
	"time"

	"github.com/envmon/envmon/reading"
)

// EpisodeKind names what an episode does. Some change what a station
// measures (the physics); the others are faults that change what it sends.
type EpisodeKind string

// Episodes that change what a station measures.
const (
	// Level moves Metrics to Value, ramping in and out over Ramp (default
	// 30 min): a local source, a discharge. The model's own noise stays.
	Level EpisodeKind = "level"
	// Stagnation (air) multiplies the primary pollutants by Value (default
	// 3) as the air stops mixing; it builds up and clears over Ramp
	// (default 4 h) and calms the wind.
	Stagnation EpisodeKind = "stagnation"
	// Fog (air) drives relative humidity to 97-99 %, where optical PM
	// sensors over-read.
	Fog EpisodeKind = "fog"
	// Rain (water) washes runoff into the water body: turbidity and
	// nutrients rise within the hour and recede over about six hours; DO and
	// conductivity fall. Value is the intensity (default 1).
	Rain EpisodeKind = "rain"
	// Construction (noise) adds a site of Value dB(A) at the station
	// (default 75), with impacts that raise Lmax.
	Construction EpisodeKind = "construction"
)

// Faults: episodes that change what a station sends.
const (
	// Dropout drops the station's connection without a DISCONNECT, so the
	// broker publishes its last will (offline); it reconnects when the
	// episode ends. With Buffer, readings taken while offline are sent
	// after reconnecting (store and forward); otherwise they are lost.
	Dropout EpisodeKind = "dropout"
	// Stuck repeats the last value of Metrics exactly.
	Stuck EpisodeKind = "stuck"
	// Drift adds Value per hour to Metrics, from the episode's start.
	Drift EpisodeKind = "drift"
	// Spike adds Value to Metrics (default: ten times the value).
	Spike EpisodeKind = "spike"
	// Sentinel sends Value for Metrics (default -999, "no data").
	Sentinel EpisodeKind = "sentinel"
	// ClockSkew shifts the payload timestamp by Skew.
	ClockSkew EpisodeKind = "clock_skew"
	// Duplicate sends a message twice; with Conflict, the second copy
	// carries different values for the same timestamp.
	Duplicate EpisodeKind = "duplicate"
	// OutOfOrder holds a message back and sends it after the next one.
	OutOfOrder EpisodeKind = "out_of_order"
	// Malformed sends a payload that is not valid (truncated JSON, a
	// string value, an unknown field), in turn.
	Malformed EpisodeKind = "malformed"
	// ReconnectStorm drops and re-establishes the connection Count times in
	// quick succession (default 5), as after a network blip.
	ReconnectStorm EpisodeKind = "reconnect_storm"
)

// episodeKinds lists every kind, physics first.
var episodeKinds = []EpisodeKind{Level, Stagnation, Fog, Rain, Construction,
	Dropout, Stuck, Drift, Spike, Sentinel, ClockSkew, Duplicate, OutOfOrder, Malformed, ReconnectStorm}

// EpisodeKinds returns every episode kind, physics first, then faults.
func EpisodeKinds() []EpisodeKind { return append([]EpisodeKind(nil), episodeKinds...) }

// Fault reports whether k is a fault (changes what is sent) rather than
// physics (changes what is measured).
func (k EpisodeKind) Fault() bool {
	switch k {
	case Level, Stagnation, Fog, Rain, Construction:
		return false
	}
	return true
}

// once reports whether an episode of kind k without an end touches only
// the first reading at or after its start.
func (k EpisodeKind) once() bool {
	switch k {
	case Spike, Duplicate, OutOfOrder, Malformed, ReconnectStorm:
		return true
	}
	return false
}

// perMetric reports whether k changes chosen metrics' values.
func (k EpisodeKind) perMetric() bool {
	switch k {
	case Level, Stuck, Drift, Spike, Sentinel:
		return true
	}
	return false
}

// Episode changes what one station measures or sends for a while, in
// simulated time.
type Episode struct {
	Kind EpisodeKind
	// From and To bound the episode; a zero From is the beginning of time,
	// a zero To the end of the run. A fault that acts once (spike,
	// duplicate, out of order, malformed, reconnect storm) with a zero To
	// touches only the first reading at or after From.
	From, To time.Time
	// Probability, if positive, makes a fault happen at each reading within
	// [From, To) with this probability instead of at every one. A dropout
	// that happens lasts For.
	Probability float64
	For         time.Duration
	// Medium limits the episode to one of the station's media; empty is
	// all of them.
	Medium reading.Medium
	// Metrics are the metrics a level, stuck, drift, spike or sentinel
	// episode changes; empty is every metric of the medium (level needs
	// them named).
	Metrics []string
	// Value is the kind's number: the level, the stagnation factor, the
	// rain intensity, the construction level, the drift per hour, the spike
	// or the sentinel. Zero means the kind's default.
	Value float64
	Ramp  time.Duration
	Skew  time.Duration
	// Buffer makes a dropout store and forward.
	Buffer bool
	// Conflict makes a duplicate carry different values.
	Conflict bool
	// Count is a reconnect storm's number of reconnects.
	Count int
}

// Validate reports what is wrong with e.
func (e Episode) Validate() error {
	known := false
	for _, k := range episodeKinds {
		known = known || k == e.Kind
	}
	switch {
	case !known:
		return fmt.Errorf("episode kind %q is not one of %v", e.Kind, episodeKinds)
	case !e.To.IsZero() && !e.From.IsZero() && !e.To.After(e.From):
		return fmt.Errorf("%s episode ends (%s) before it starts (%s)", e.Kind, e.To.Format(time.RFC3339), e.From.Format(time.RFC3339))
	case e.Probability < 0 || e.Probability > 1:
		return fmt.Errorf("%s episode: probability %v is not between 0 and 1", e.Kind, e.Probability)
	case e.Probability > 0 && !e.Kind.Fault():
		return fmt.Errorf("%s episode: only faults happen by probability", e.Kind)
	case e.Kind == Dropout && e.Probability > 0 && e.For <= 0:
		return errors.New("dropout by probability needs a length (for)")
	case e.Kind == Level && len(e.Metrics) == 0:
		return errors.New("level episode needs the metrics it changes")
	case e.Kind == Stagnation && e.Value != 0 && e.Value < 1:
		return fmt.Errorf("stagnation factor %v is below 1", e.Value)
	case e.Ramp < 0 || e.Skew < -366*24*time.Hour || e.Count < 0 || e.For < 0:
		return fmt.Errorf("%s episode: negative ramp, length or count", e.Kind)
	}
	if e.Medium != "" {
		if _, err := reading.ParseMedium(string(e.Medium)); err != nil {
			return fmt.Errorf("%s episode: %w", e.Kind, err)
		}
	}
	for _, m := range e.Metrics {
		mt, ok := reading.LookupMetric(m)
		if !ok {
			return fmt.Errorf("%s episode: %q is not a metric of docs/MQTT.md", e.Kind, m)
		}
		if e.Medium != "" && mt.Medium != e.Medium {
			return fmt.Errorf("%s episode: %s is not a %s metric", e.Kind, m, e.Medium)
		}
	}
	return nil
}

// within reports whether t is in [From, To).
func (e Episode) within(t time.Time) bool {
	return (e.From.IsZero() || !t.Before(e.From)) && (e.To.IsZero() || t.Before(e.To))
}

// weight is how far a ramped episode is in at t: 0 before, rising to 1
// over Ramp, falling back to 0 over Ramp after To.
func (e Episode) weight(t time.Time, defRamp time.Duration) float64 {
	ramp := e.Ramp
	if ramp <= 0 {
		ramp = defRamp
	}
	if !e.From.IsZero() && t.Before(e.From) {
		return 0
	}
	w := 1.0
	if !e.From.IsZero() {
		w = min(w, float64(t.Sub(e.From))/float64(ramp))
	}
	if !e.To.IsZero() {
		w = min(w, 1-float64(t.Sub(e.To))/float64(ramp))
	}
	return max(0, min(1, w))
}

// touches reports whether e applies to medium m and metric (empty: any).
func (e Episode) touches(m reading.Medium, metric string) bool {
	if e.Medium != "" && e.Medium != m {
		return false
	}
	if metric == "" || len(e.Metrics) == 0 {
		if len(e.Metrics) > 0 {
			for _, x := range e.Metrics {
				if mt, ok := reading.LookupMetric(x); ok && mt.Medium == m {
					return true
				}
			}
			return false
		}
		return true
	}
	for _, x := range e.Metrics {
		if x == metric {
			return true
		}
	}
	return false
}

func (e Episode) valueOr(def float64) float64 {
	if e.Value == 0 {
		return def
	}
	return e.Value
}
