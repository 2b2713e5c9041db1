// Package auth owns the bearer tokens and roles of envmon's enforcement API:
// tokens are random, shown once, stored as SHA-256 hashes in the shared
// database, and carry a role (viewer, officer, supervisor, admin), an
// optional team, an expiry and a revocation time.
//
// It is the minimal model that alerts uses for acknowledging and silencing,
// and that the case queue extends. auth may import db; it must not import
// alerts, api or app.
package auth
