// Package calc implements the calculator commands of the envmon binary:
// envmon aqi, envmon water and envmon noise. Each takes its arguments and
// output streams and returns the process exit code, so main only wires
// them up and tests run them in-process. All numbers come from package
// quality.
package calc

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"

	"github.com/envmon/envmon/quality"
)

// Exit codes of the commands.
const (
	exitOK = 0
	// exitData means the input was well formed but the standard cannot
	// index it: beyond its table, or a value it needs is missing.
	exitData = 1
	// exitUsage means bad flags or a malformed, unknown or invalid value.
	exitUsage = 2
)

// usageError is an error in the command line: exit code 2.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

// usagef returns a usage error.
func usagef(format string, args ...any) error { return usageError{fmt.Errorf(format, args...)} }

// parseFlags parses args with fs, letting flags and positional arguments
// mix (flag.Parse stops at the first positional one), and returns the
// positional arguments. Everything after "--" is positional.
func parseFlags(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return pos, nil
		}
		if consumed := len(args) - len(rest); consumed > 0 && args[consumed-1] == "--" {
			return append(pos, rest...), nil
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}

// run parses the command line of a command with fs and calls do with the
// positional arguments, turning the outcome into an exit code: 0 with the
// usage on stdout for --help; 2 with a message on stderr for usage errors;
// 1 for other errors.
func run(name string, fs *flag.FlagSet, usage string, args []string, stdout, stderr io.Writer, do func(pos []string) error) int {
	fs.SetOutput(stderr)
	fs.Usage = func() {} // --help is handled below; errors say where to look
	pos, err := parseFlags(fs, args)
	if errors.Is(err, flag.ErrHelp) {
		fmt.Fprint(stdout, usage)
		fs.SetOutput(stdout)
		fmt.Fprintln(stdout, "\nFlags:")
		fs.PrintDefaults()
		return exitOK
	}
	if err != nil {
		// The flag package has printed the error.
		fmt.Fprintf(stderr, "run 'envmon %s --help' for usage\n", name)
		return exitUsage
	}
	if err := do(pos); err != nil {
		fmt.Fprintf(stderr, "envmon %s: %v\n", name, err)
		var ue usageError
		if errors.As(err, &ue) {
			fmt.Fprintf(stderr, "run 'envmon %s --help' for usage\n", name)
			return exitUsage
		}
		return exitData
	}
	return exitOK
}

// parseNumber parses a plain decimal number, such as "88", "0.078" or
// "1e3". It rejects NaN, infinities, hexadecimal and digit separators.
func parseNumber(s string) (float64, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, errors.New("empty value")
	}
	for _, r := range s {
		if !strings.ContainsRune("0123456789.eE+-", r) {
			return 0, fmt.Errorf("%q is not a number", s)
		}
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
		return 0, fmt.Errorf("%q is not a finite number", s)
	}
	return v, nil
}

// parseValue parses a concentration or level: a finite number ≥ 0.
func parseValue(s string) (float64, error) {
	v, err := parseNumber(s)
	if err != nil {
		return 0, err
	}
	if v < 0 {
		return 0, fmt.Errorf("%s is negative", strings.TrimSpace(s))
	}
	return v, nil
}

// parseAssignment splits a "key=value" argument and parses the value as a
// number; the key is returned as written, lower-cased.
func parseAssignment(arg string) (string, float64, error) {
	k, v, ok := strings.Cut(arg, "=")
	k = strings.ToLower(strings.TrimSpace(k))
	if !ok || k == "" {
		return "", 0, fmt.Errorf("%q: want key=value", arg)
	}
	n, err := parseNumber(v)
	if err != nil {
		return "", 0, fmt.Errorf("%s: %w", k, err)
	}
	return k, n, nil
}

// parseConcentration parses a "<pollutant>_<period>=value" argument of
// envmon aqi.
func parseConcentration(arg string) (quality.Key, float64, error) {
	k, v, err := parseAssignment(arg)
	if err != nil {
		return quality.Key{}, 0, err
	}
	key, err := quality.ParseKey(k)
	if err != nil {
		return quality.Key{}, 0, err
	}
	if v < 0 {
		return quality.Key{}, 0, fmt.Errorf("%s=%s: a concentration cannot be negative", k, formatNumber(v))
	}
	return key, v, nil
}

// parseSeries parses a comma-separated list of values, oldest first; an
// empty entry is a missing value (as in "50,,75"). It fails on an empty
// list or a list of only missing values.
func parseSeries(s string) ([]quality.Mean, error) {
	if strings.TrimSpace(s) == "" {
		return nil, errors.New("empty list of values")
	}
	fields := strings.Split(s, ",")
	out := make([]quality.Mean, len(fields))
	valid := 0
	for i, f := range fields {
		if strings.TrimSpace(f) == "" {
			continue
		}
		v, err := parseValue(f)
		if err != nil {
			return nil, fmt.Errorf("value %d: %w", i+1, err)
		}
		out[i] = quality.Mean{Value: v, Valid: true}
		valid++
	}
	if valid == 0 {
		return nil, errors.New("every value is missing")
	}
	return out, nil
}

// parseList parses a comma-separated list of values with none missing.
func parseList(s string) ([]float64, error) {
	series, err := parseSeries(s)
	if err != nil {
		return nil, err
	}
	out := make([]float64, len(series))
	for i, m := range series {
		if !m.Valid {
			return nil, fmt.Errorf("value %d is missing", i+1)
		}
		out[i] = m.Value
	}
	return out, nil
}

// formatNumber formats a number as briefly as it round-trips.
func formatNumber(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }

// round1 rounds to 0.1, the resolution levels are reported to.
func round1(v float64) float64 { return math.Round(v*10) / 10 }

// writeJSON writes v as indented JSON.
func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}
