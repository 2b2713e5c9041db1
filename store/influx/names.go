package influx

import (
	"fmt"
	"math"
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

// checkNameFast is checkName, quicker for the usual name: one of printable
// ASCII but the backslash, which checkName passes.
func checkNameFast(kind, s string) error {
	if len(s) == 0 || len(s) > maxName {
		return checkName(kind, s)
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c > 0x7e || c == '\\' {
			return checkName(kind, s)
		}
	}
	return nil
}

// appendMeasurement appends s escaped as a line protocol measurement.
func appendMeasurement(b []byte, s string) []byte {
	return appendEscaped(b, s, &measurementSpecial)
}

// appendKey appends s escaped as a line protocol tag key, tag value or
// field key.
func appendKey(b []byte, s string) []byte {
	return appendEscaped(b, s, &keySpecial)
}

// The bytes line protocol escapes in a measurement, and in a key or tag
// value.
var measurementSpecial, keySpecial = byteSet(", "), byteSet(",= ")

func byteSet(s string) (set [256]bool) {
	for i := 0; i < len(s); i++ {
		set[s[i]] = true
	}
	return set
}

func appendEscaped(b []byte, s string, special *[256]bool) []byte {
	for i := 0; i < len(s); i++ {
		if special[s[i]] {
			b = append(b, s[:i]...)
			for ; i < len(s); i++ {
				if special[s[i]] {
					b = append(b, '\\')
				}
				b = append(b, s[i])
			}
			return b
		}
	}
	return append(b, s...)
}

// appendFloat appends v as a line protocol float field value, as
// strconv.AppendFloat(b, v, 'g', -1, 64) does: the shortest decimal that
// reads back as v, in exponent form for exponents below -4 and from 6 up.
//
// A value below 10⁶ of at most maxDecimals decimals, as a sensor's and a
// unit conversion's are, is formatted here, in a fraction of the time of
// strconv's general algorithm. If such a decimal reads back as v, it is
// the shortest one, and it is m / 10^k for the fewest decimals k where m,
// |v| × 10^k rounded, reads back as |v|. m / 10^k, both below 2^53 and so
// exact, reads back as |v| if their quotient is |v|: IEEE 754 division
// rounds correctly, as strconv.ParseFloat does.
func appendFloat(b []byte, v float64) []byte {
	if a := math.Abs(v); a > 0 && a < 1e6 {
		for k, p := range pow10 {
			// Rounded half up, quicker than math.Round: where a
			// decimal of k places reads back as |v|, |v| × 10^k is
			// within a millionth of it.
			if m := float64(int64(a*p + 0.5)); m/p == a {
				if v < 0 {
					b = append(b, '-')
				}
				return appendDecimal(b, uint64(m), k)
			}
		}
	} else if v == 0 && !math.Signbit(v) {
		return append(b, '0')
	}
	return strconv.AppendFloat(b, v, 'g', -1, 64)
}

// maxDecimals is the most decimals appendFloat formats itself.
const maxDecimals = 4

// pow10 holds 10^k for k up to maxDecimals.
var pow10 = [maxDecimals + 1]float64{1, 1e1, 1e2, 1e3, 1e4}

// appendDecimal appends m / 10^k in decimal: its integer part, 0 if none,
// and for k > 0 a point and k decimals.
func appendDecimal(b []byte, m uint64, k int) []byte {
	var buf [24]byte
	i := len(buf)
	for range k {
		i--
		buf[i] = byte('0' + m%10)
		m /= 10
	}
	if k > 0 {
		i--
		buf[i] = '.'
	}
	for {
		i--
		buf[i] = byte('0' + m%10)
		if m /= 10; m == 0 {
			break
		}
	}
	return append(b, buf[i:]...)
}
