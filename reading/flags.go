package reading

import (
	"fmt"
	"math/bits"
	"strings"
)

// Flags are the quality-control flags of one value; zero means it passed
// every check. A flagged value is stored and shown, but indices and alerts
// leave it out.
type Flags uint16

// The quality-control flags. Their names are part of the API and of the
// InfluxDB layout (docs/MQTT.md): never renumber or rename them.
const (
	FlagRange     Flags = 1 << iota // outside the metric's physical range
	FlagSentinel                    // a sensor's "no data" code such as -999
	FlagStuck                       // the same value for too long
	FlagSpike                       // changed faster than physically possible
	FlagFuture                      // timestamped too far ahead of its arrival
	FlagPast                        // timestamped too far behind its arrival
	FlagDuplicate                   // the same station, medium and time again
	FlagHumidity                    // optical PM reading in fog or high humidity
)

var flagNames = [...]string{"range", "sentinel", "stuck", "spike", "future", "past", "duplicate", "humidity"}

// FlagNames lists every flag's name, in bit order.
func FlagNames() []string { return flagNames[:] }

// Names returns the names of the flags set in f, in bit order; an empty,
// non-nil slice when f is zero, so JSON shows [].
func (f Flags) Names() []string {
	out := make([]string, 0, bits.OnesCount16(uint16(f)))
	for i, n := range flagNames {
		if f&(1<<i) != 0 {
			out = append(out, n)
		}
	}
	return out
}

// String returns the flags' names joined by commas, or "ok".
func (f Flags) String() string {
	if f == 0 {
		return "ok"
	}
	return strings.Join(f.Names(), ",")
}

// ParseFlag returns the flag called name.
func ParseFlag(name string) (Flags, error) {
	for i, n := range flagNames {
		if n == name {
			return 1 << i, nil
		}
	}
	return 0, fmt.Errorf("unknown quality-control flag %q (want one of %s)", name, strings.Join(flagNames[:], ", "))
}
