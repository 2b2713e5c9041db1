// Package simulators plays environmental micro-stations over MQTT, in the
// contract of docs/MQTT.md, so engineers can commission, test and load a
// deployment without real stations.
//
// Models generate what air, water and noise stations measure, with daily
// and weekly cycles, physical bounds and episodes such as stagnation, rain
// and night construction; they are deterministic from a seed. A Fleet runs
// stations — fixed or mobile — each with its own connection and last will,
// and injects faults: real dropouts, stuck values, drift, spikes,
// sentinels, clock skew, duplicates, out-of-order delivery, malformed
// payloads and reconnect storms. Run is the continuous simulation of envmon
// demo; Load paces many stations over a pool of connections; Replay sends
// recorded readings. Package scenario scripts fleets from YAML and checks
// their outcomes through envmon's API. docs/SIMULATOR.md is the guide.
//
// simulators may import reading, quality and station (the registry file
// format its stations are described in); it talks to envmon only
// through MQTT (and, for verification, the HTTP API), never by importing
// ingest, store or api.
package simulators
