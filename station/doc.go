// Package station keeps the station registry: which stations exist, where
// they are in the supervision grid, whether they are online, and the latest
// value of each of their metrics.
//
// With a registry file only the stations it lists are admitted; without one,
// any well-formed station is registered the first time it reports.
//
// The registry file also holds the embedded MQTT broker's accounts: each
// station's bcrypt password hash and the read-only users (Lookup).
// Stations registered on first sight are bounded in number
// (MaxUnregistered).
//
// station imports only reading, its YAML parser and bcrypt.
package station
