// Package station keeps the station registry: which stations exist, where
// they are in the supervision grid, whether they are online, and the latest
// value of each of their metrics.
//
// With a registry file only the stations it lists are admitted; without one,
// any well-formed station is registered the first time it reports.
//
// station imports only reading and its YAML parser.
package station
