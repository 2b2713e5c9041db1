// Package docs holds no code: it owns envmon's documentation —
// ARCHITECTURE.md (the data flow and the packages), GUARANTEES.md (what an
// acknowledgement promises, and the tests that prove it), MQTT.md,
// REGISTRY.md, ALERTS.md, CASES.md, SIMULATOR.md and BENCHMARKS.md. It
// imports nothing.
package docs
