// Package reading defines the measurement record that flows from a station
// through ingest into a store and out through the API.
//
// It is a leaf package: it imports only the standard library, so every other
// package may import it.
package reading
