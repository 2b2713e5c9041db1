package quality

import (
	"math"
	"strconv"
)

// Exact arithmetic.
//
// The standards define indices on decimal concentrations: "PM10 88 µg/m³",
// "O3 0.078 ppm". A float64 holds most such decimals only approximately
// (0.078 is 0.07799999999999999...), and evaluating an index formula in
// floating point can land a hair above or below an integer, which the
// round-up of HJ 633 and the truncation of the EPA then turn into a wrong
// index. So this package never decides a band, a truncation or a rounding on
// a float. Instead:
//
//  1. A concentration is converted once to an integer count of micro-units
//     (millionths of its unit) by rounding v×10⁶ to the nearest integer.
//     That recovers the decimal the caller wrote for any value with at most
//     six decimals; finer digits are below any instrument's resolution.
//     Inputs are limited to maxValue, so the count is below 2^53 and the
//     multiplication is exact enough to round correctly.
//  2. Breakpoints are integers in the same scale.
//  3. The index formula I = Ilo + (Ihi−Ilo)×(C−BPlo)/(BPhi−BPlo) is evaluated
//     as one integer numerator over one integer denominator, and rounded up
//     (HJ 633) or half up (EPA) with integer division. Magnitudes stay below
//     2^63: (Ihi−Ilo) ≤ 200, C ≤ 10⁶ units = 10¹² micro-units.

// micro is the number of micro-units in one unit.
const micro = 1_000_000

// maxValue is the largest concentration converted to micro-units. Every
// table tops out far below it; larger inputs are reported as beyond the
// table without conversion.
const maxValue = 1e6

// micros returns v, which must be finite and in [0, maxValue], as a whole
// number of millionths of its unit.
func micros(v float64) int64 { return int64(math.Round(v * micro)) }

// roundHalfEven rounds m, a non-negative count of micro-units, to a multiple
// of step micro-units, ties to even, as GB/T 8170-2008 ("四舍六入五成双")
// rounds.
func roundHalfEven(m, step int64) int64 {
	q, r := m/step, m%step
	switch {
	case 2*r > step:
		q++
	case 2*r == step && q%2 == 1:
		q++
	}
	return q * step
}

// ceilDiv returns ⌈a/b⌉ for a ≥ 0, b > 0.
func ceilDiv(a, b int64) int64 { return (a + b - 1) / b }

// roundHalfUpDiv returns a/b rounded half up, for a ≥ 0, b > 0.
func roundHalfUpDiv(a, b int64) int64 { return (2*a + b) / (2 * b) }

// formatValue formats a concentration as briefly as it round-trips, for
// error messages.
func formatValue(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }

// formatMicros formats a count of micro-units as a decimal.
func formatMicros(m int64) string {
	return strconv.FormatFloat(float64(m)/micro, 'f', -1, 64)
}
