package mqtt_test

import (
	"context"
	"encoding/json"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/envmon/envmon/alerts/notify"
	"github.com/envmon/envmon/alerts/notify/mqtt"
	"github.com/envmon/envmon/alerts/notify/notifytest"
	"github.com/envmon/envmon/internal/broker"
)

// TestNotifyThroughTheEmbeddedBroker publishes a firing notification
// through the embedded broker's own client, as envmon does, and a
// subscriber on envmon/alerts/# receives it on the station's topic at
// QoS 1, as JSON with its status and idempotency key.
func TestNotifyThroughTheEmbeddedBroker(t *testing.T) {
	b, err := broker.Start(broker.Config{Addr: "127.0.0.1:0", AllowAll: true})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	got := make(chan paho.Message, 1)
	sub := paho.NewClient(paho.NewClientOptions().AddBroker(b.URL()).SetClientID("alerts-sub"))
	if tok := sub.Connect(); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatalf("connect: %v", tok.Error())
	}
	defer sub.Disconnect(0)
	if tok := sub.Subscribe("envmon/alerts/#", 1, func(_ paho.Client, m paho.Message) { got <- m }); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatalf("subscribe: %v", tok.Error())
	}

	n, err := mqtt.New(mqtt.Config{Name: "mqtt"}, mqtt.PublisherFunc(func(_ context.Context, topic string, qos byte, retained bool, payload []byte) error {
		return b.Publish(topic, payload, retained, qos)
	}))
	if err != nil {
		t.Fatal(err)
	}
	note := &notify.Notification{Key: "al-1/firing/1", Kind: notify.Firing,
		Episode: notify.Episode{ID: "al-1", Rule: "pm25_1h_high", Station: "st-1", Point: "p-civic"}}
	if retry, err := n.Notify(context.Background(), note); err != nil {
		t.Fatalf("Notify: %v (retry %v)", err, retry)
	}
	select {
	case m := <-got:
		if m.Topic() != "envmon/alerts/p-civic/st-1" || m.Qos() != 1 || m.Retained() {
			t.Errorf("topic %s, QoS %d, retained %v; want envmon/alerts/p-civic/st-1, 1, false", m.Topic(), m.Qos(), m.Retained())
		}
		var body struct {
			Status, Key string
			Episode     struct{ ID string }
		}
		if err := json.Unmarshal(m.Payload(), &body); err != nil || body.Status != "firing" || body.Key != note.Key || body.Episode.ID != "al-1" {
			t.Errorf("payload %s (%v)", m.Payload(), err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no notification arrived")
	}
}

// TestNotifyFailureIsRetried: a publish that fails is reported as worth
// retrying, so the outbox tries again.
func TestNotifyFailureIsRetried(t *testing.T) {
	n, _ := mqtt.New(mqtt.Config{Name: "mqtt"}, mqtt.PublisherFunc(func(context.Context, string, byte, bool, []byte) error {
		return errors.New("not connected")
	}))
	retry, err := n.Notify(context.Background(), &notify.Notification{Kind: notify.Resolved, Episode: notify.Episode{Station: "a/b+#"}})
	if err == nil || !retry {
		t.Fatalf("Notify = %v, %v; want a failure to retry", retry, err)
	}
	if got := n.Topic("", "a/b+#"); got != "envmon/alerts/_/a_b__" {
		t.Errorf("Topic = %q: reserved characters must not reach the topic", got)
	}
}

// TestKit runs the notifier kit through the embedded broker, with a
// subscriber on envmon/alerts/# as the receiver; while it is down the
// publisher answers as a client that lost its broker does.
func TestKit(t *testing.T) {
	notifytest.Run(t, func(t *testing.T) notifytest.Receiver {
		b, err := broker.Start(broker.Config{Addr: "127.0.0.1:0", AllowAll: true})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { b.Close() })
		arrived := make(chan notifytest.Arrival, 16)
		sub := paho.NewClient(paho.NewClientOptions().AddBroker(b.URL()).SetClientID("kit-sub").SetOrderMatters(true))
		if tok := sub.Connect(); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
			t.Fatalf("connect: %v", tok.Error())
		}
		t.Cleanup(func() { sub.Disconnect(0) })
		if tok := sub.Subscribe("envmon/alerts/#", 1, func(_ paho.Client, m paho.Message) {
			var body struct{ Status, Key string }
			if err := json.Unmarshal(m.Payload(), &body); err != nil {
				t.Errorf("payload %s: %v", m.Payload(), err)
			}
			arrived <- notifytest.Arrival{Key: body.Key, Status: body.Status}
		}); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
			t.Fatalf("subscribe: %v", tok.Error())
		}
		var down atomic.Bool
		n, err := mqtt.New(mqtt.Config{Name: "mqtt"}, mqtt.PublisherFunc(func(_ context.Context, topic string, qos byte, retained bool, payload []byte) error {
			if down.Load() {
				return errors.New("not connected")
			}
			return b.Publish(topic, payload, retained, qos)
		}))
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
