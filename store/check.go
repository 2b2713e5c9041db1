package store

import (
	"fmt"
	"math"
	"time"

	"github.com/envmon/envmon/reading"
)

// The times a Unix nanosecond count can hold.
var (
	minTime = time.Unix(0, math.MinInt64)
	maxTime = time.Unix(0, math.MaxInt64)
)

// CheckReading reports why a store cannot keep r: no station or medium, a
// time outside the nanosecond range, an unnamed metric or a value that is
// not finite. Every implementation rejects a batch holding such a reading.
func CheckReading(r *reading.Reading) error {
	switch {
	case r.Station == "":
		return fmt.Errorf("reading at %v: station is empty", r.Time)
	case r.Medium == "":
		return fmt.Errorf("reading of station %q: medium is empty", r.Station)
	case r.Time.Before(minTime) || r.Time.After(maxTime):
		return fmt.Errorf("reading of station %q: time %v is out of range", r.Station, r.Time)
	}
	for _, v := range r.Values {
		if v.Metric == "" {
			return fmt.Errorf("reading of station %q: metric name is empty", r.Station)
		}
		if math.IsNaN(v.Value) || math.IsInf(v.Value, 0) {
			return fmt.Errorf("reading of station %q: %s is %v", r.Station, v.Metric, v.Value)
		}
	}
	return nil
}

// UnixNanos returns t in Unix nanoseconds, clamped to the range they can
// hold, or zero if t is the zero Time (an open end of a Query).
func UnixNanos(t time.Time, zero int64) int64 {
	switch {
	case t.IsZero():
		return zero
	case t.Before(minTime):
		return math.MinInt64
	case t.After(maxTime):
		return math.MaxInt64
	}
	return t.UnixNano()
}
