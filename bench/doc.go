// Package bench holds envmon's end-to-end benchmarks, each a program of
// its own with a script that runs it against real servers on this machine:
// bench/ingest (MQTT → envmon → InfluxDB, against a bare subscriber on the
// same broker), bench/embedded (the embedded broker against Mosquitto) and
// bench/api (the public API under wrk). Their results, with the machine,
// are in docs/BENCHMARKS.md.
//
// The benchmark programs may import any package of the module; nothing
// imports them.
package bench
