// Package alerts owns envmon's alert episodes: it evaluates the accepted
// readings and the hourly windows against the rules of alerts/rules, keeps
// episodes (pending, firing, resolved) with their evidence and audit trail
// in the shared database, with one open episode per rule and station kept
// by a unique index, and sends notifications through a transactional
// outbox to the notifiers of alerts/notify. It serves /api/v1/alerts.
//
// The Engine is a sink of the stream of accepted readings (ingest.Sink) on
// the replica that owns the station, and a component whose clock pass
// evaluates what depends on time (offline, repeats). The Dispatcher is the
// component that delivers the outbox, with alerts/notify/outbox. docs/ALERTS.md describes the rules,
// the states and the guarantees.
//
// alerts may import reading, quality, windows (its types), db, auth, sse,
// ingest (for ingest.Accepted) and its own subpackages (rules, notify and
// its channels, notify/outbox); it must not import api, app or station:
// what it needs of the registry it declares as Stations and Teams, and the
// service adapts the registry to them.
package alerts
