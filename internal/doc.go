// Package internal holds the small packages that wire envmon together and
// that no other module should import: config (file, environment and flags),
// broker (the embedded MQTT broker), calc (the standards calculator
// commands) and testenv (real servers started for integration tests).
//
// Packages under internal may import the public packages of this module
// (reading, station, quality, store, db, ingest for its defaults); those
// must never import internal, except ingest, app and cmd, which wire it.
package internal
