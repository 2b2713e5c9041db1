package webhook_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/envmon/envmon/alerts/notify/notifytest"
	"github.com/envmon/envmon/alerts/notify/webhook"
	"github.com/envmon/envmon/internal/secret"
)

// TestKit runs the notifier kit against an HTTP receiver that verifies
// every request's signature, as a receiver of envmon's webhooks should,
// and answers 503 while it is down.
func TestKit(t *testing.T) {
	notifytest.Run(t, func(t *testing.T) notifytest.Receiver {
		key := secret.New("kit-secret")
		arrived := make(chan notifytest.Arrival, 16)
		var down atomic.Bool
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if down.Load() {
				http.Error(w, "down", http.StatusServiceUnavailable)
				return
			}
			body, _ := io.ReadAll(r.Body)
			if err := webhook.Verify(key, r.Header.Get(webhook.SignatureHeader), body, time.Now(), time.Minute); err != nil {
				t.Errorf("signature: %v", err)
				http.Error(w, err.Error(), http.StatusUnauthorized)
				return
			}
			var m webhook.Message
			if err := json.Unmarshal(body, &m); err != nil {
				t.Errorf("body: %v", err)
			}
			if h := r.Header.Get(webhook.IdempotencyHeader); h != m.Envmon.IdempotencyKey {
				t.Errorf("%s header %q, body's key %q", webhook.IdempotencyHeader, h, m.Envmon.IdempotencyKey)
			}
			arrived <- notifytest.Arrival{Key: m.Envmon.IdempotencyKey, Status: m.Status}
		}))
		t.Cleanup(srv.Close)
		n, err := webhook.New(webhook.Config{Name: "kit", URL: srv.URL, Secret: key})
		if err != nil {
			t.Fatal(err)
		}
		return notifytest.Receiver{
			Notifier: n,
			Arrived:  arrived,
			Down:     func() { down.Store(true) },
			Up:       func() { down.Store(false) },
		}
	})
}
