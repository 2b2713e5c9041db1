package influx

import (
	"fmt"
	"strconv"
	"strings"
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
