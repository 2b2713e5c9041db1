// Package station keeps the station registry: the service points, the
// stations at them and the enforcement teams that cover the supervision
// grid, read from one YAML file format (docs/REGISTRY.md) that serve, demo,
// the simulators and the scenarios all read; and each station's live
// state: whether it is online, when it last reported, and the latest value
// of each of its metrics.
//
// Static metadata (Point, Station, Team) and live state (Live) are kept
// apart, under separate locks; View joins them for readers. None of these
// types is a public JSON type: the api package maps them to its own, so
// that teams and their contacts (Personal data) never reach public routes.
//
// With a registry file only the stations it lists are admitted; without one,
// any well-formed station is registered the first time it reports, marked
// unregistered, with the defaults: the deployment's time zone and its
// point's grid cell if the point is known.
//
// The registry file also holds the embedded MQTT broker's accounts: each
// station's bcrypt password hash and the read-only users (Lookup).
// Stations registered on first sight are bounded in number
// (MaxUnregistered).
//
// station imports only reading, quality, its YAML parser and bcrypt.
package station
