// Package secret holds values that must never be printed — passwords and
// tokens — and redacts the userinfo of URLs for logs and public responses.
package secret

import (
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"strings"
)

// Redacted is what a set String prints as.
const Redacted = "<secret>"

// String is a secret text, such as a password or a token. It prints as
// <secret> under every fmt verb (%v, %+v, %#v, %s, %q, %x, ...), in
// encoding/json, YAML and text encodings and in log/slog, and an empty
// String prints as the empty string. Reveal returns the text; call it only
// where the secret is used, such as when a client is constructed.
//
// The text sits behind a pointer, so that even where fmt cannot call
// String's methods — a String inside an unexported struct field — it
// prints an address, not the text. The zero value is an empty secret.
type String struct {
	p *string
}

// New returns s as a String; New("") is the zero String.
func New(s string) String {
	if s == "" {
		return String{}
	}
	return String{p: &s}
}

// Reveal returns the secret text. Use it only at the point of use.
func (s String) Reveal() string {
	if s.p == nil {
		return ""
	}
	return *s.p
}

// IsZero reports whether the secret is empty.
func (s String) IsZero() bool { return s.p == nil || *s.p == "" }

// Equal reports whether s and t hold the same text.
func (s String) Equal(t String) bool { return s.Reveal() == t.Reveal() }

// String returns <secret>, or "" if s is empty.
func (s String) String() string {
	if s.IsZero() {
		return ""
	}
	return Redacted
}

// GoString returns <secret>, for %#v.
func (s String) GoString() string { return s.String() }

// Format prints <secret> (or nothing, if s is empty) for every verb, so
// that neither %q nor %x shows the text.
func (s String) Format(f fmt.State, _ rune) { io.WriteString(f, s.String()) }

// LogValue returns <secret> for log/slog.
func (s String) LogValue() slog.Value { return slog.StringValue(s.String()) }

// MarshalText returns <secret>; encoding/json, encoding/xml and YAML
// encoders use it.
func (s String) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// MarshalJSON returns "<secret>" as a JSON string.
func (s String) MarshalJSON() ([]byte, error) { return []byte(`"` + s.String() + `"`), nil }

// MarshalYAML returns <secret>, for gopkg.in/yaml.v3.
func (s String) MarshalYAML() (any, error) { return s.String(), nil }

// UnmarshalText sets s to text, so that a configuration decoder can read a
// secret in.
func (s *String) UnmarshalText(text []byte) error {
	*s = New(string(text))
	return nil
}

// RedactURL returns raw with the password of its userinfo replaced by
// xxxxx (tcp://user:pw@host becomes tcp://user:xxxxx@host), for logs and
// error messages. A URL without a password is returned as it is; a text
// that does not parse as a URL but holds an '@' has everything before the
// '@' replaced, since it may be userinfo.
func RedactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		if i := strings.LastIndexByte(raw, '@'); i >= 0 {
			return "<redacted>" + raw[i:]
		}
		return raw
	}
	if u.User == nil {
		return raw
	}
	if _, ok := u.User.Password(); !ok {
		return raw
	}
	return u.Redacted()
}
