// Package rules parses envmon's alert rules: a YAML file of thresholds,
// AQI levels, water classes, noise limits, station-offline and sensor-fault
// rules, each with its timing, severity, labels and zh/en annotations, and
// the embedded defaults for the national standards. Errors name the file,
// line and reason. rules may import reading and quality only.
package rules
