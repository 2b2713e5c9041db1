// Package store declares what a readings store must do. Its subpackages
// implement it: sqlite (the embedded default), influx (InfluxDB 2.x, or 1.8+
// through its v2-compatible API) and mem (in memory, for tests). Beside
// Store, each also implements two small interfaces: Scanner, the bulk scan
// that rebuilds the hourly windows, and Aggregator, the downsampled queries.
//
// store and its subpackages may import reading and their own drivers; they
// never import ingest, api or alerts.
package store
