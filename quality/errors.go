package quality

import (
	"errors"
	"fmt"
)

// Errors that index computations wrap in a [*ConcentrationError]; test for
// them with errors.Is.
var (
	// ErrInvalid means a value is not a concentration: negative, NaN or
	// infinite.
	ErrInvalid = errors.New("not a concentration")
	// ErrNoTable means the standard has no breakpoints for the pollutant
	// and averaging period, such as CO 8 h under HJ 633.
	ErrNoTable = errors.New("no breakpoint table")
	// ErrBeyondTable means a concentration is above the top breakpoint of
	// the standard's table. It is never clamped to the top index.
	ErrBeyondTable = errors.New("beyond the top of the table")
	// ErrMissing means the standard takes the index from a value that was
	// not given, such as HJ 633-2012's SO2 24 h mean when the 1 h mean is
	// above 800 µg/m³.
	ErrMissing = errors.New("required value missing")
	// ErrNoData means no value could be indexed at all.
	ErrNoData = errors.New("no value to index")
)

// A ConcentrationError reports a concentration that a standard cannot
// index, and why.
type ConcentrationError struct {
	Standard Standard
	Key      Key
	Value    float64
	// Err is ErrInvalid, ErrNoTable, ErrBeyondTable or ErrMissing.
	Err error
	// Top is the table's top breakpoint, for ErrBeyondTable.
	Top float64
	// Detail explains the rule that applies, for ErrNoTable and
	// ErrMissing; it may be empty.
	Detail string
}

// Error returns a message naming the key, the value and the standard, such
// as "pm25_24h=600 is beyond the top of the HJ 633-2026 table (500)".
func (e *ConcentrationError) Error() string {
	kv := e.Key.String() + "=" + formatValue(e.Value)
	switch e.Err {
	case ErrInvalid:
		return kv + " is not a concentration: want a finite number ≥ 0"
	case ErrBeyondTable:
		return fmt.Sprintf("%s is beyond the top of the %s table (%s)", kv, e.Standard.Title(), formatValue(e.Top))
	case ErrNoTable:
		msg := fmt.Sprintf("%s: %s has no breakpoints for %s %s means", e.Key, e.Standard.Title(), e.Key.Pollutant.Title(), e.Key.Period.prose())
		if e.Detail != "" {
			msg += "; " + e.Detail
		}
		return msg
	}
	msg := kv + ": " + e.Err.Error()
	if e.Detail != "" {
		msg = kv + ": " + e.Detail
	}
	return msg
}

// Unwrap returns e.Err.
func (e *ConcentrationError) Unwrap() error { return e.Err }
