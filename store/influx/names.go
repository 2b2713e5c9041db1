package influx

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// maxName is the longest station, point, medium or metric name kept.
const maxName = 256

// checkName rejects a name that line protocol cannot carry as it is: one
// with a control character (a newline would end the line) or a backslash
// (line protocol has no escape for a backslash before a comma, space or
// equals sign, or at the end of a tag value).
func checkName(kind, s string) error {
	switch {
	case s == "":
		return fmt.Errorf("%s is empty", kind)
	case len(s) > maxName:
		return fmt.Errorf("%s %.20q... is longer than %d bytes", kind, s, maxName)
	case !utf8.ValidString(s):
		return fmt.Errorf("%s %q is not valid UTF-8", kind, s)
	case strings.ContainsRune(s, '\\'):
		return fmt.Errorf("%s %q has a backslash", kind, s)
	case strings.ContainsFunc(s, unicode.IsControl):
		return fmt.Errorf("%s %q has a control character", kind, s)
	}
	return nil
}

// fluxString returns s as a Flux string literal. Besides quotes and
// backslashes it escapes "${", which would start an interpolation.
func fluxString(s string) string {
	var b strings.Builder
	b.Grow(len(s) + 2)
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '"', '\\':
			b.WriteByte('\\')
			b.WriteByte(c)
		case '$':
			if i+1 < len(s) && s[i+1] == '{' {
				b.WriteByte('\\')
			}
			b.WriteByte(c)
		case '\n':
			b.WriteString(`\n`)
		case '\r':
			b.WriteString(`\r`)
		case '\t':
			b.WriteString(`\t`)
		default:
			b.WriteByte(c)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// The times InfluxDB can store: Unix nanoseconds but for the two lowest
// and the highest int64, which it reserves.
var (
	minTime = time.Unix(0, math.MinInt64+2).UTC()
	maxTime = time.Unix(0, math.MaxInt64-1).UTC()
)

// fluxTime returns t as a Flux time literal, clamped to the times InfluxDB
// can store; the zero Time becomes zero.
func fluxTime(t, zero time.Time) string {
	switch {
	case t.IsZero():
		t = zero
	case t.Before(minTime):
		t = minTime
	case t.After(maxTime):
		t = maxTime
	}
	return t.UTC().Format(time.RFC3339Nano)
}

// appendMeasurement appends s escaped as a line protocol measurement.
func appendMeasurement(b []byte, s string) []byte {
	return appendEscaped(b, s, ", ")
}

// appendKey appends s escaped as a line protocol tag key, tag value or
// field key.
func appendKey(b []byte, s string) []byte {
	return appendEscaped(b, s, ",= ")
}

func appendEscaped(b []byte, s, special string) []byte {
	if !strings.ContainsAny(s, special) {
		return append(b, s...)
	}
	for i := 0; i < len(s); i++ {
		if strings.IndexByte(special, s[i]) >= 0 {
			b = append(b, '\\')
		}
		b = append(b, s[i])
	}
	return b
}

// appendFloat appends v as a line protocol float field value.
func appendFloat(b []byte, v float64) []byte {
	return strconv.AppendFloat(b, v, 'g', -1, 64)
}
