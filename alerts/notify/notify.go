// Package notify declares what an alert notifier is given and must do; each
// channel lives in a subpackage (webhook, mqtt) and passes the shared kit in
// notifytest, and outbox delivers the rows of a transactional outbox to
// them. notify imports only the standard library.
package notify

import (
	"context"
	"encoding/json"
	"time"
)

// Kind says why a notification is sent.
type Kind string

// The kinds of notification.
const (
	Firing   Kind = "firing"   // the episode started firing
	Resolved Kind = "resolved" // the episode resolved
	Repeat   Kind = "repeat"   // the episode is still firing and not acknowledged
)

// Episode is an alert episode as notifiers show it.
type Episode struct {
	ID       string `json:"id"`
	Rule     string `json:"rule"`
	Station  string `json:"station"`
	Point    string `json:"point"`
	Medium   string `json:"medium"`
	Severity string `json:"severity"`
	State    string `json:"state"`
	// Labels and Annotations as Alertmanager has them; annotations hold
	// English texts, and the same keys with _zh the Chinese ones.
	Labels      map[string]string `json:"labels"`
	Annotations map[string]string `json:"annotations"`
	StartsAt    time.Time         `json:"startsAt"`
	// EndsAt is zero while the episode is open.
	EndsAt time.Time `json:"endsAt"`
	// Fingerprint identifies the rule and station: every episode of them
	// has the same one.
	Fingerprint string          `json:"fingerprint"`
	Evidence    json.RawMessage `json:"evidence,omitempty"`
}

// Notification is one delivery to one receiver.
type Notification struct {
	// Key is the idempotency key: the same for every attempt of this
	// delivery, different for every other. Receivers may deduplicate by it.
	Key      string    `json:"key"`
	Receiver string    `json:"receiver"`
	Kind     Kind      `json:"kind"`
	Created  time.Time `json:"created"`
	Episode  Episode   `json:"episode"`
	// URL links to the episode in envmon's API, if known.
	URL string `json:"url,omitempty"`
}

// Status is "firing" or "resolved", as Alertmanager says it.
func (n *Notification) Status() string {
	if n.Kind == Resolved {
		return "resolved"
	}
	return "firing"
}

// Notifier delivers notifications on one channel. It reports whether a
// failure may succeed if tried again: a 4xx refusal should not be retried,
// a timeout should.
type Notifier interface {
	Notify(ctx context.Context, n *Notification) (retry bool, err error)
}

// Func adapts a function to Notifier.
type Func func(ctx context.Context, n *Notification) (bool, error)

// Notify calls f.
func (f Func) Notify(ctx context.Context, n *Notification) (bool, error) { return f(ctx, n) }
