package influx

import (
	"fmt"
	"io"
	"log/slog"
)

// Secret is a string that prints as <secret>, so that a token does not leak
// into logs, errors or a dumped config. Convert it with string(s) where the
// value itself is needed.
type Secret string

const redacted = "<secret>"

// String returns <secret>.
func (Secret) String() string { return redacted }

// GoString returns <secret>, for %#v.
func (Secret) GoString() string { return redacted }

// Format prints <secret> for every verb.
func (Secret) Format(f fmt.State, _ rune) { io.WriteString(f, redacted) }

// MarshalText returns <secret>; encoding/json and YAML encoders use it.
func (Secret) MarshalText() ([]byte, error) { return []byte(redacted), nil }

// LogValue returns <secret> for log/slog.
func (Secret) LogValue() slog.Value { return slog.StringValue(redacted) }
