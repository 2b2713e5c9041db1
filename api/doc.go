// Package api serves envmon's HTTP interface: the public page, the JSON API
// under /api/v1, health and readiness probes, and Prometheus metrics.
//
// api may import reading, station, quality, store's contract and ingest's
// types (rejection reasons, dead letters); it reaches the live system only
// through the small interfaces it declares (Stations, Readings,
// DeadLetters, Check), never through a collector or a store implementation.
package api
