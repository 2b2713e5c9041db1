package ingest

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	"github.com/envmon/envmon/internal/testenv"
	"github.com/envmon/envmon/station"
	"github.com/envmon/envmon/store/mem"
)

// TestBrokerRestart: the collector reconnects to a restarted Mosquitto,
// resumes its persistent session, and stores what is published before,
// during (queued for its session) and after the restart.
func TestBrokerRestart(t *testing.T) {
	broker := testenv.Mosquitto(t)
	store := newCountingStore()
	c := runCollector(t, Config{Broker: broker.URL, ClientID: "restart-test", Store: store,
		Stations: station.New(nil, false, quietLogger()), Spool: openSpool(t, t.TempDir()), Logger: quietLogger()})
	waitFor(t, "connected", c.Connected)
	base := time.Now().Add(-time.Hour)
	send := func(from, to int) {
		pub := publisher(t, broker.URL)
		for i := from; i < to; i++ {
			publish(t, pub, "envmon/p1/st-1/noise", fmt.Sprintf(`{"ts":%d,"values":{"laeq":%d}}`, base.Add(time.Duration(i)*time.Second).UnixMilli(), 40+i%20))
		}
		pub.Disconnect(100)
	}
	send(0, 50)
	waitFor(t, "first half stored", func() bool { return count(t, store, "st-1", "laeq") == 50 })

	broker.Stop(t)
	waitFor(t, "disconnect noticed", func() bool { return !c.Connected() })
	broker.Start(t)
	send(50, 100) // the collector may not be back yet: its session queues these
	waitFor(t, "reconnected", c.Connected)
	waitFor(t, "everything stored", func() bool { return count(t, store, "st-1", "laeq") == 100 })
}

// TestQueuedMessagesOnResume: a broker sends a resumed session's queued
// messages right after CONNACK, before the collector has subscribed again.
// Each must still be handled and acknowledged: paho leaves a message that
// matches no route unacknowledged, and an MQTT 3.1.1 broker sends it again
// only at the next reconnect.
func TestQueuedMessagesOnResume(t *testing.T) {
	broker := testenv.Mosquitto(t)
	store := newCountingStore()
	start := func() (*Collector, func()) {
		c, err := New(Config{Broker: broker.URL, ClientID: "resume-test", Store: store, Spool: openSpool(t, t.TempDir()),
			Stations: station.New(nil, false, quietLogger()), Logger: quietLogger()})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { defer close(done); c.Run(ctx) }()
		return c, func() { cancel(); <-done }
	}
	c, stop := start()
	waitFor(t, "session created", c.Connected)
	stop()
	const n = 1000
	base := time.Now().Add(-time.Hour)
	for round := range 3 {
		pub := publisher(t, broker.URL)
		var last paho.Token
		for i := round * n; i < (round+1)*n; i++ {
			last = pub.Publish("envmon/p1/st-q/noise", 1, false, fmt.Sprintf(`{"ts":%d,"values":{"laeq":%d}}`, base.Add(time.Duration(i)*time.Second).UnixMilli(), 40+i%20))
		}
		if !last.WaitTimeout(10*time.Second) || last.Error() != nil {
			t.Fatalf("publish: %v", last.Error())
		}
		pub.Disconnect(100)
		c, stop = start() // the broker has these queued for its session
		waitFor(t, fmt.Sprintf("round %d: queued messages stored", round), func() bool { return count(t, store, "st-q", "laeq") == (round+1)*n })
		t.Logf("round %d: %d stored", round, count(t, store, "st-q", "laeq"))
		stop()
	}
}

func TestRouteKey(t *testing.T) {
	for _, tc := range []struct{ filter, want string }{
		{"envmon/+/+/+", "envmon/+/+/+"},
		{"$share/envmon/envmon/+/+/+", "envmon/+/+/+"},
		{"$share/g/#", "#"},
		{"$SYS/broker/uptime", "$SYS/broker/uptime"},
	} {
		if got := routeKey(tc.filter); got != tc.want {
			t.Errorf("routeKey(%q) = %q, want %q", tc.filter, got, tc.want)
		}
	}
}

// refusals is a slog handler that counts the messages the collector
// reports it left unacknowledged because the spool refused them.
type refusals struct {
	slog.Handler
	messages *atomic.Int64
}

func (h refusals) Enabled(context.Context, slog.Level) bool { return true }

func (h refusals) Handle(ctx context.Context, r slog.Record) error {
	if r.Level >= slog.LevelError && strings.Contains(r.Message, "unacknowledged for redelivery") {
		r.Attrs(func(a slog.Attr) bool {
			if a.Key == "messages" {
				h.messages.Add(a.Value.Int64())
			}
			return true
		})
	}
	return nil
}

func (h refusals) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h refusals) WithGroup(string) slog.Handler      { return h }

// TestUnackedMessagesAreRedelivered: when the spool cannot take messages,
// nothing is acknowledged, and the broker delivers them again to the next
// collector with the same client id. The test waits until the first
// collector has received messages and refused them (it logs how many), so
// it cannot pass by the messages merely waiting in the session, and the
// first store must stay empty.
func TestUnackedMessagesAreRedelivered(t *testing.T) {
	b := startBroker(t)
	stations := station.New(nil, false, quietLogger())
	first := &flakyStore{Store: mem.New()}
	var refused atomic.Int64
	sp := openSpool(t, t.TempDir())
	c1, err := New(Config{
		Broker: b.URL(), ClientID: "redeliver-test", BatchSize: 50, Store: first, Stations: stations,
		Logger: slog.New(refusals{messages: &refused}), Spool: sp, DrainTimeout: 100 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); c1.Run(ctx) }()
	defer func() { cancel(); <-done }()
	waitFor(t, "first collector connected", c1.Connected)
	sp.Close() // every Append now fails

	pub := publisher(t, b.URL())
	now := time.Now()
	const n = 10
	for i := range n {
		publish(t, pub, "envmon/p1/st-4/air", fmt.Sprintf(`{"ts":%d,"values":{"pm25":%d}}`, now.Add(time.Duration(i)*time.Second).UnixMilli(), i))
	}
	waitFor(t, "the first collector refusing what it received", func() bool { return refused.Load() > 0 })
	cancel()
	<-done
	if got := count(t, first, "st-4", "pm25"); got != 0 {
		t.Fatalf("%d readings stored through a closed spool", got)
	}

	healthy := mem.New()
	runCollector(t, Config{
		Broker: b.URL(), ClientID: "redeliver-test", BatchSize: 50,
		Store: healthy, Stations: stations, Logger: quietLogger(), Spool: openSpool(t, t.TempDir()),
	})
	waitFor(t, "redelivered readings stored", func() bool { return count(t, healthy, "st-4", "pm25") == n })
	t.Logf("the first collector refused %d of %d messages; all were delivered again", refused.Load(), n)
}
