// Package cases owns envmon's complaint queue: cases opened from firing
// alert episodes and from citizens' complaints (Open311 or the service
// desk), their states and audit trail, their service-desk deadlines on the
// working-day calendar (cases/calendar) as timers stored in the shared
// database, escalation up the supervision grid with reminders through the
// alert notifiers, routing from station to point to grid cell to team, the
// complainants' personal data sealed at rest (cases/pii), the enforcement
// API under /api/v1/cases and the anonymous public disclosure under
// /api/v1/disclosure/cases. cases/open311 serves GeoReport v2 on top of
// it. docs/CASES.md describes the rules and the guarantees.
//
// A Service is built with New from a Config of the things it consumes; it
// is a component (Run drives the timers and the outbox). Alert episodes
// reach it as an alerts receiver: Service.AlertReceiver is a
// notify.Notifier that the service lists among alerts.Config.Receivers, so
// that the alerts outbox delivers every firing and resolve to it exactly
// once per idempotency key.
//
// cases may import db, auth, sse, station (its types), alerts/notify and
// alerts/notify/outbox (which delivers its outbox), its own subpackages and
// the standard library; it must not import alerts (beyond notify), api, app
// or ingest.
package cases
