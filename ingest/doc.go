// Package ingest collects station readings from MQTT, decodes and validates
// them, and writes them to a store in batches. A message is acknowledged to
// the broker only after its readings are stored (or, if it was rejected,
// after it was counted), so a crash loses nothing that the broker handed over.
//
// ingest may import reading, station and store's contract; it must not
// import api, alerts or a particular store implementation.
package ingest
