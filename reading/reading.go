package reading

import (
	"fmt"
	"time"
)

// Medium is what a station measures: air, water or noise.
type Medium string

// The media of docs/MQTT.md.
const (
	Air   Medium = "air"
	Water Medium = "water"
	Noise Medium = "noise"
)

// Media lists every known medium in a stable order.
var Media = [...]Medium{Air, Water, Noise}

// ParseMedium returns the medium named s, or an error naming the known ones.
func ParseMedium(s string) (Medium, error) {
	switch m := Medium(s); m {
	case Air, Water, Noise:
		return m, nil
	}
	return "", fmt.Errorf("unknown medium %q (want air, water or noise)", s)
}

// Reading is one message from one station: the values it measured at one
// instant, in the canonical units of docs/MQTT.md.
type Reading struct {
	Point   string
	Station string
	Medium  Medium
	Time    time.Time
	Values  []Value
}

// Value is one metric of a Reading.
type Value struct {
	Metric string
	Value  float64
	QC     Flags
}

// Sample is one value of one metric at one time, as a store returns it.
type Sample struct {
	Time  time.Time
	Value float64
	QC    Flags
}

// Latest is the most recent value of one metric of one station.
type Latest struct {
	Point   string
	Station string
	Medium  Medium
	Metric  string
	Time    time.Time
	Value   float64
	QC      Flags
}
