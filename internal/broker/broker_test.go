package broker

import (
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
)

// TestCloseWhileClientsDisconnect closes the broker while a hundred
// clients disconnect at once. The window for mochi-mqtt/server#488 (see
// tcpListener) is narrow: with mochi's own TCP listener this test hung in
// about one run in three under -race, and it hung a CI run for 20 minutes.
func TestCloseWhileClientsDisconnect(t *testing.T) {
	if testing.Short() {
		t.Skip("stress test with 100 clients per round")
	}
	closeWhile(t, 100, "clients disconnected", func(round int) time.Duration { return time.Duration(round%5) * 100 * time.Microsecond },
		func(b *Broker) []func() {
			var fs []func()
			for i := range 100 {
				c := paho.NewClient(paho.NewClientOptions().AddBroker(b.URL()).
					SetClientID(fmt.Sprintf("c-%d", i)).SetCleanSession(true).SetAutoReconnect(false))
				if tok := c.Connect(); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
					t.Fatalf("connect: %v", tok.Error())
				}
				fs = append(fs, func() { c.Disconnect(0) })
			}
			return fs
		})
}

// TestCloseWhileClientsConnect closes the broker while clients are still
// connecting. A connection accepted just before Close is not yet among
// mochi's clients when Close lists them (see tcpListener): with mochi's
// way of closing, the broker waited for such a client for ever, and under
// -race its WaitGroup was reported added to while waited on.
func TestCloseWhileClientsConnect(t *testing.T) {
	if testing.Short() {
		t.Skip("stress test with 20 clients per round")
	}
	closeWhile(t, 50, "clients connected", func(round int) time.Duration { return time.Duration(round%10) * 300 * time.Microsecond },
		func(b *Broker) []func() {
			var fs []func()
			for i := range 20 {
				c := paho.NewClient(paho.NewClientOptions().AddBroker(b.URL()).
					SetClientID(fmt.Sprintf("c-%d", i)).SetAutoReconnect(false).
					SetConnectTimeout(2 * time.Second))
				fs = append(fs, func() {
					if tok := c.Connect(); tok.WaitTimeout(3*time.Second) && tok.Error() == nil {
						c.Publish("x/y", 1, false, "hi").WaitTimeout(time.Second)
						c.Disconnect(0)
					}
				})
			}
			return fs
		})
}

// closeWhile runs rounds rounds: each starts a broker, prepares the
// clients' actions on it, starts them all at once and closes the broker
// delay(round) later, failing if Close does not return.
func closeWhile(t *testing.T, rounds int, doing string, delay func(round int) time.Duration, prepare func(*Broker) []func()) {
	t.Helper()
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	for round := range rounds {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		b, err := Start(Config{Listener: ln, Logger: quiet, AllowAll: true})
		if err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		start := make(chan struct{})
		for _, f := range prepare(b) {
			wg.Add(1)
			go func() { defer wg.Done(); <-start; f() }()
		}
		closed := make(chan struct{})
		go func() {
			<-start
			time.Sleep(delay(round))
			b.Close()
			close(closed)
		}()
		close(start)
		select {
		case <-closed:
		case <-time.After(10 * time.Second):
			t.Fatalf("round %d: Close hung while %s", round, doing)
		}
		wg.Wait()
	}
}

// TestCloseDisconnectsClients: Close disconnects connected clients and
// refuses new connections.
func TestCloseDisconnectsClients(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	b, err := Start(Config{Listener: ln, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), AllowAll: true})
	if err != nil {
		t.Fatal(err)
	}
	lost := make(chan error, 1)
	c := paho.NewClient(paho.NewClientOptions().AddBroker(b.URL()).SetClientID("held").
		SetAutoReconnect(false).SetConnectionLostHandler(func(_ paho.Client, err error) { lost <- err }))
	if tok := c.Connect(); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatalf("connect: %v", tok.Error())
	}
	done := make(chan struct{})
	go func() { b.Close(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Close did not return")
	}
	select {
	case <-lost:
	case <-time.After(5 * time.Second):
		t.Fatal("client still connected after Close")
	}
	if conn, err := net.DialTimeout("tcp", ln.Addr().String(), time.Second); err == nil {
		conn.Close()
		t.Fatal("closed broker still accepts connections")
	}
}
