package influx

import "github.com/envmon/envmon/internal/secret"

// Secret is a token that prints as <secret> under every fmt verb, in JSON
// and in log/slog (see package secret), so that it does not leak into logs,
// errors or a dumped config. Reveal returns the token where a client needs
// it.
type Secret = secret.String
