package simulators

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/envmon/envmon/internal/broker"
)

func TestBackoff(t *testing.T) {
	t.Parallel()
	const lo, hi = 100 * time.Millisecond, 10 * time.Second
	tests := []struct {
		n        int
		r        float64
		min, max time.Duration // want min <= wait < max
	}{
		{0, 0, 50 * time.Millisecond, 50*time.Millisecond + 1},
		{0, 0.999, 50 * time.Millisecond, 100 * time.Millisecond},
		{1, 0.5, 100 * time.Millisecond, 200 * time.Millisecond},
		{3, 0, 400 * time.Millisecond, 400*time.Millisecond + 1},
		{6, 0.999, 3200 * time.Millisecond, 6400 * time.Millisecond},
		{7, 0.999, 5 * time.Second, 10 * time.Second}, // 12.8 s capped
		{40, 0.5, 5 * time.Second, 10 * time.Second},  // no overflow
		{1000, 0, 5 * time.Second, 5*time.Second + 1},
	}
	for _, tt := range tests {
		if got := backoff(tt.n, lo, hi, tt.r); got < tt.min || got >= tt.max {
			t.Errorf("backoff(%d, r=%v) = %v, want in [%v, %v)", tt.n, tt.r, got, tt.min, tt.max)
		}
	}
	// Jitter spreads a fleet: different draws give different waits.
	if backoff(4, lo, hi, 0.1) == backoff(4, lo, hi, 0.9) {
		t.Error("the jitter does not change the wait")
	}
}

// proxy forwards TCP connections to an MQTT broker and can cut them, as a
// broker or a network that drops a station does, swallow what clients send,
// or refuse new connections for a while.
type proxy struct {
	ln      net.Listener
	target  string
	mu      sync.Mutex
	conns   []net.Conn
	swallow atomic.Bool  // discard client bytes instead of forwarding them
	refuse  atomic.Bool  // close new connections at once
	refused atomic.Int64 // connections refused so far
	accepts atomic.Int64 // connections forwarded so far
}

func startProxy(t *testing.T, target string) *proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{ln: ln, target: target}
	t.Cleanup(func() { ln.Close(); p.cut() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			if p.refuse.Load() {
				p.refused.Add(1)
				c.Close()
				continue
			}
			b, err := net.Dial("tcp", target)
			if err != nil {
				c.Close()
				continue
			}
			p.accepts.Add(1)
			p.mu.Lock()
			p.conns = append(p.conns, c, b)
			p.mu.Unlock()
			go func() { io.Copy(c, b); c.Close() }()
			go func() {
				buf := make([]byte, 32<<10)
				for {
					n, err := c.Read(buf)
					if n > 0 && !p.swallow.Load() {
						if _, err := b.Write(buf[:n]); err != nil {
							return
						}
					}
					if err != nil {
						b.Close()
						return
					}
				}
			}()
		}
	}()
	return p
}

func (p *proxy) url() string { return "tcp://" + p.ln.Addr().String() }

// cut closes every forwarded connection without a word to either side.
func (p *proxy) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
}

// TestConnReconnects: a station's connection that the broker loses, or
// whose session another client takes over, comes back by itself, says
// online again, and publishes what was not acknowledged; one dropped on
// purpose stays down.
func TestConnReconnects(t *testing.T) {
	if testing.Short() {
		t.Skip("skipping test with an embedded MQTT broker in -short mode")
	}
	b, err := broker.Start(broker.Config{Addr: "127.0.0.1:0", AllowAll: true, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	sub := subscribe(t, b.URL())
	px := startProxy(t, b.Addr().String())

	const status = "envmon/p1/rc-1/status"
	ctx := context.Background()
	c, err := dial(ctx, Transport{Broker: px.url(), QoS: 1}, "envmon-sim-rc-1", &will{status, "offline"})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.wait = func(int) time.Duration { return 10 * time.Millisecond }
	if err := c.Publish(ctx, status, 1, true, []byte("online")); err != nil {
		t.Fatal(err)
	}
	publish := func(payload string) <-chan error {
		done := make(chan error, 1)
		go func() { done <- c.Publish(ctx, "envmon/p1/rc-1/air", 1, false, []byte(payload)) }()
		return done
	}
	if err := <-publish("m1"); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "m1 received", func() bool { return len(sub.on("envmon/p1/rc-1/air")) == 1 })

	// The broker never gets m2, so it never acknowledges it; then the
	// connection is lost, and refused for a few attempts.
	px.swallow.Store(true)
	m2 := publish("m2")
	select {
	case err := <-m2:
		t.Fatalf("publish returned %v with the broker unreachable", err)
	case <-time.After(200 * time.Millisecond):
	}
	px.refuse.Store(true)
	px.cut()
	waitUntil(t, "three reconnection attempts refused", func() bool { return px.refused.Load() >= 3 })
	if n := c.Reconnects(); n != 0 {
		t.Fatalf("%d reconnections while the broker refuses", n)
	}
	if got := sub.on("envmon/p1/rc-1/air"); len(got) != 1 {
		t.Fatalf("the broker got %v before the reconnection", got)
	}
	px.swallow.Store(false)
	px.refuse.Store(false)
	if err := <-m2; err != nil {
		t.Fatalf("publish across the reconnection: %v", err)
	}
	waitUntil(t, "m2 received after the reconnection", func() bool { return len(sub.on("envmon/p1/rc-1/air")) == 2 })
	if got := sub.on("envmon/p1/rc-1/air"); got[1] != "m2" {
		t.Errorf("received %v, want m1 then m2", got)
	}
	if n := c.Reconnects(); n != 1 {
		t.Errorf("%d reconnections, want 1", n)
	}
	waitUntil(t, "will, then online again", func() bool {
		s := sub.on(status)
		return len(s) >= 3 && s[len(s)-2] == "offline" && s[len(s)-1] == "online"
	})

	// Another client takes the session over.
	intruder := paho.NewClient(paho.NewClientOptions().AddBroker(b.URL()).SetClientID("envmon-sim-rc-1").
		SetCleanSession(true).SetAutoReconnect(false))
	if tok := intruder.Connect(); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatalf("intruder connect: %v", tok.Error())
	}
	waitUntil(t, "reconnected after the takeover", func() bool { return c.Reconnects() == 2 })
	intruder.Disconnect(0)
	if err := <-publish("m3"); err != nil {
		t.Fatalf("publish after the takeover: %v", err)
	}
	waitUntil(t, "m3 received", func() bool { return len(sub.on("envmon/p1/rc-1/air")) == 3 })

	// Dropped on purpose: the will goes out and the station stays away.
	accepts := px.accepts.Load()
	c.Drop()
	waitUntil(t, "will after the drop", func() bool { s := sub.on(status); return s[len(s)-1] == "offline" })
	if err := <-publish("m4"); !errors.Is(err, errClosed) {
		t.Errorf("publish after Drop: %v, want errClosed", err)
	}
	time.Sleep(100 * time.Millisecond) // ten reconnection waits
	if n := px.accepts.Load(); n != accepts {
		t.Errorf("%d connections opened after Drop", n-accepts)
	}
}
