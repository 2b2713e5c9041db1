// Package notifytest is the test kit every alert notifier passes: Run
// checks, against a real receiver of the channel, that each Notify
// delivers its notification once, in order, with its idempotency key and
// status, and that while the receiver is away Notify fails as worth
// retrying, and the retry delivers with the same key.
//
// notifytest imports only the standard library and alerts/notify.
package notifytest

import (
	"context"
	"testing"
	"time"

	"github.com/envmon/envmon/alerts/notify"
)

// Receiver is a notifier and the receiving end it delivers to.
type Receiver struct {
	Notifier notify.Notifier
	// Arrived carries each notification the receiver took, in the order
	// it took them.
	Arrived <-chan Arrival
	// Down makes the receiver fail as an unreachable or overloaded one
	// does, taking nothing, until Up.
	Down, Up func()
}

// Arrival is a notification as the receiver took it: its idempotency key
// and status ("firing" or "resolved").
type Arrival struct{ Key, Status string }

// arrivalWait is how long the kit waits for a notification to arrive.
const arrivalWait = 10 * time.Second

// next returns the next notification r took; ok is false if none came
// within arrivalWait.
func (r Receiver) next() (a Arrival, ok bool) {
	select {
	case a := <-r.Arrived:
		return a, true
	case <-time.After(arrivalWait):
		return Arrival{}, false
	}
}

// Run runs the kit's tests; newReceiver returns a fresh receiver for each,
// which the test's cleanup stops.
func Run(t *testing.T, newReceiver func(t *testing.T) Receiver) {
	t.Run("delivers each once in order", func(t *testing.T) {
		r := newReceiver(t)
		sent := []*notify.Notification{
			notification("al-1/firing/1", notify.Firing),
			notification("al-1/repeat/2", notify.Repeat),
			notification("al-1/resolved/3", notify.Resolved),
		}
		for _, n := range sent {
			if retry, err := r.Notifier.Notify(context.Background(), n); err != nil {
				t.Fatalf("Notify %s: %v (retry %v)", n.Key, err, retry)
			}
		}
		for _, n := range sent {
			a, ok := r.next()
			if !ok {
				t.Fatalf("%s did not arrive", n.Key)
			}
			if a.Key != n.Key || a.Status != n.Status() {
				t.Errorf("got %s (%s); want %s (%s), in the order sent", a.Key, a.Status, n.Key, n.Status())
			}
		}
	})
	t.Run("failure is retried with the same key", func(t *testing.T) {
		r := newReceiver(t)
		n := notification("al-2/firing/1", notify.Firing)
		r.Down()
		retry, err := r.Notifier.Notify(context.Background(), n)
		if err == nil || !retry {
			t.Fatalf("Notify with the receiver away = %v, %v; want an error worth retrying", retry, err)
		}
		r.Up()
		if retry, err := r.Notifier.Notify(context.Background(), n); err != nil {
			t.Fatalf("retry: %v (retry %v)", err, retry)
		}
		a, ok := r.next()
		if !ok || a.Key != n.Key {
			t.Errorf("after the retry the receiver got %q (%v); want %q, the same key as the failed attempt", a.Key, ok, n.Key)
		}
	})
}

func notification(key string, kind notify.Kind) *notify.Notification {
	return &notify.Notification{Key: key, Receiver: "kit", Kind: kind, Created: time.Date(2026, 12, 1, 8, 0, 0, 0, time.UTC),
		Episode: notify.Episode{ID: key[:4], Rule: "pm25_1h_high", Station: "st-1", Point: "p-civic", Severity: "warning",
			Labels: map[string]string{"alertname": "pm25_1h_high"}, StartsAt: time.Date(2026, 12, 1, 7, 0, 0, 0, time.UTC),
			Fingerprint: "pm25_1h_high/st-1"}}
}
