package influx

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Flux queries and their parameters.
//
// influxdb-client-go's QueryWithParams sends a query's parameters beside its
// text, for the program to read as params.name. InfluxDB 1.8.10, whose Flux
// is v0.65.1, does not support that: such a query fails with `undefined
// identifier "params"`. Nor does declaring a params record at the top of the
// program do: filters that read it are no longer pushed down to storage (a
// filter on one station of 500 took 50 ms instead of 4 ms). So every query
// here is a constant template that refers to params.name as it would with
// QueryWithParams, and fluxQuery writes each value into it as a Flux
// literal made by fluxLiteral, the one place where outside text enters a
// query. Once 1.8 is no longer supported, the templates can be sent with
// QueryWithParams as they are.

// fluxQuery returns tmpl with each params.name in it replaced by
// fluxLiteral(params[name]). It fails if a name has no value, if a value
// has no use, or if a value has no literal. The values are never read as
// template text, so they cannot add a params.name of their own.
func fluxQuery(tmpl string, params map[string]any) (string, error) {
	const prefix = "params."
	var b strings.Builder
	used := make(map[string]bool, len(params))
	for {
		i := strings.Index(tmpl, prefix)
		if i < 0 {
			break
		}
		b.WriteString(tmpl[:i])
		tmpl = tmpl[i+len(prefix):]
		n := 0
		for n < len(tmpl) && (tmpl[n] == '_' || 'a' <= tmpl[n] && tmpl[n] <= 'z' || 'A' <= tmpl[n] && tmpl[n] <= 'Z' || n > 0 && '0' <= tmpl[n] && tmpl[n] <= '9') {
			n++
		}
		name := tmpl[:n]
		v, ok := params[name]
		if !ok {
			return "", fmt.Errorf("flux query: no value for params.%s", name)
		}
		lit, err := fluxLiteral(v)
		if err != nil {
			return "", fmt.Errorf("flux query: params.%s: %w", name, err)
		}
		b.WriteString(lit)
		used[name] = true
		tmpl = tmpl[n:]
	}
	b.WriteString(tmpl)
	for name := range params {
		if !used[name] {
			return "", fmt.Errorf("flux query: params.%s is not used", name)
		}
	}
	return b.String(), nil
}

// fluxLiteral returns v as a Flux literal: a string (valid UTF-8), a
// time.Time (within the times InfluxDB stores), a time.Duration, an int or
// a bool. A string literal escapes its quotes and backslashes, the "${" of
// an interpolation, and every control character (as \n, \r, \t or \xNN),
// so that it is always one line that ends at its closing quote.
func fluxLiteral(v any) (string, error) {
	switch v := v.(type) {
	case string:
		if !utf8.ValidString(v) {
			return "", fmt.Errorf("string %q is not valid UTF-8", v)
		}
		var b strings.Builder
		b.Grow(len(v) + 2)
		b.WriteByte('"')
		for i := 0; i < len(v); i++ {
			switch c := v[i]; {
			case c == '"' || c == '\\':
				b.WriteByte('\\')
				b.WriteByte(c)
			case c == '$' && i+1 < len(v) && v[i+1] == '{':
				b.WriteString(`\$`)
			case c == '\n':
				b.WriteString(`\n`)
			case c == '\r':
				b.WriteString(`\r`)
			case c == '\t':
				b.WriteString(`\t`)
			case c < 0x20 || c == 0x7f:
				fmt.Fprintf(&b, `\x%02x`, c)
			default:
				b.WriteByte(c) // UTF-8 sequences too; their bytes are all >= 0x80
			}
		}
		b.WriteByte('"')
		return b.String(), nil
	case time.Time:
		if v.Before(minTime) || v.After(maxTime) {
			return "", fmt.Errorf("time %v is outside what InfluxDB stores", v)
		}
		return v.UTC().Format(time.RFC3339Nano), nil
	case time.Duration:
		if v == math.MinInt64 {
			return "", errors.New("duration is too small")
		}
		return strconv.FormatInt(int64(v), 10) + "ns", nil
	case int:
		if v == math.MinInt {
			return "", errors.New("integer is too small")
		}
		return strconv.Itoa(v), nil
	case bool:
		return strconv.FormatBool(v), nil
	}
	return "", fmt.Errorf("no Flux literal for a %T", v)
}

// The times InfluxDB can store: Unix nanoseconds but for the two lowest
// and the highest int64, which it reserves.
var (
	minTime = time.Unix(0, math.MinInt64+2).UTC()
	maxTime = time.Unix(0, math.MaxInt64-1).UTC()
)

// clampTime returns t clamped to the times InfluxDB can store; the zero
// Time becomes zero.
func clampTime(t, zero time.Time) time.Time {
	switch {
	case t.IsZero():
		return zero
	case t.Before(minTime):
		return minTime
	case t.After(maxTime):
		return maxTime
	}
	return t
}
