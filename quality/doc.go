// Package quality computes air quality indices and water and noise classes
// exactly as the national standards define them.
//
// It implements:
//
//   - the Chinese air quality index of HJ 633-2026 (in force from
//     2026-03-01) and HJ 633-2012 (before it), chosen by the data's time with
//     [StandardAt] unless the caller names one;
//   - the US EPA AQI of EPA-454/B-24-002 (May 2024), with NowCast for PM2.5
//     and PM10;
//   - the averaging and data-validity rules of GB 3095 that turn raw readings
//     into the 1 h, 8 h and 24 h means the indices need;
//   - conversion of gas concentrations between µg/m³ and ppb/ppm at the
//     reference state (25 °C, 1013.25 hPa);
//   - the surface water classes of GB 3838-2002;
//   - the environmental noise levels and zone limits of GB 3096-2008.
//
// Every number comes from the standards' own tables, transcribed as Go
// literals; the tests check the transcription against the reference CSV files
// in testdata/reference. Each table and rule names the standard it comes from.
//
// # Exact arithmetic
//
// Index bands are decided at exact breakpoints, and HJ 633 rounds every index
// up, so the arithmetic must not drift: PM10 at 88 µg/m³ is exactly IAQI 69
// under HJ 633-2012, and a floating-point evaluation of the formula can give
// 69.00000000000001 and round it up to 70. This package therefore converts a
// concentration to an integer number of millionths of its unit (the decimal
// value the caller wrote, since no instrument resolves finer) and does all
// band arithmetic on integers; see [Standard.AQI].
//
// # Where the reference is silent
//
// These choices are this package's, not the standards' words; review them
// against the official texts:
//
//   - O3 daily maximum 8 h mean: valid with at least 14 valid 8 h means of
//     the 17 (HJ 663-2013), or with fewer if the maximum found already
//     exceeds the grade 2 limit.
//   - O3 daily maximum 1 h (HJ 633-2012 daily report only): valid with at
//     least 20 valid hours; GB 3095 gives no rule.
//   - US EPA SO2: a 1 h value of 305 ppb or more uses the 24 h table; if a
//     24 h mean below 305 is given, SO2 scores 200 (the top of the 1 h
//     table); with no 24 h mean it is an error.
//   - HJ 633-2026's half-to-even rounding of concentrations is applied to
//     daily reports as well as hourly ones.
//   - Noise: Ld, Ln and Lmax are rounded to 0.1 dB(A) before comparing with
//     the GB 3096-2008 limits.
//
// # Users
//
// The package imports only the standard library. The api, alerts, ingest and
// simulators packages use it for every index, class and unit conversion; none
// of them computes an index itself.
package quality
