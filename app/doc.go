// Package app starts and stops the whole envmon service in one process:
// the embedded or an external MQTT broker, the readings store, the station
// registry, the ingest collector and the HTTP server. Tests embed it
// in-process; cmd/envmon only parses configuration and calls it.
//
// app may import every package of the service; none may import app.
package app
