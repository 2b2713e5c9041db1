package ingest

import (
	"bytes"
	"errors"
	"io"
	"net"
	"sync"
	"testing"
	"time"
)

// gatedConn counts its writes; the first one waits for the gate.
type gatedConn struct {
	net.Conn
	gate   chan struct{}
	mu     sync.Mutex
	writes int
}

func (c *gatedConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	c.writes++
	first := c.writes == 1
	c.mu.Unlock()
	if first {
		<-c.gate
	}
	return c.Conn.Write(p)
}

func TestBufferedConnCoalescesWrites(t *testing.T) {
	client, server := net.Pipe()
	defer server.Close()
	gated := &gatedConn{Conn: client, gate: make(chan struct{})}
	c := newBufferedConn(gated)
	received := make(chan []byte)
	go func() {
		b, _ := io.ReadAll(server)
		received <- b
	}()
	var want bytes.Buffer
	for i := range 100 {
		p := []byte{byte(i), byte(i >> 8), 0xAA}
		want.Write(p)
		if _, err := c.Write(p); err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			// Let the flusher take the first write and block in it.
			for gated.count() == 0 {
				time.Sleep(time.Millisecond)
			}
		}
	}
	close(gated.gate)
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if got := <-received; !bytes.Equal(got, want.Bytes()) {
		t.Fatalf("peer got %d bytes, want the %d written, in order", len(got), want.Len())
	}
	// The first write, then the 99 queued behind it in one.
	if n := gated.count(); n != 2 {
		t.Errorf("%d writes to the connection for 100 of paho's, want 2", n)
	}
	if _, err := c.Write([]byte{1}); !errors.Is(err, net.ErrClosed) {
		t.Errorf("Write after Close: %v, want net.ErrClosed", err)
	}
}

func (c *gatedConn) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.writes
}

// TestBufferedConnWriteError: a failed write fails the writes after it,
// and Close does not wait for a peer that does not read.
func TestBufferedConnWriteError(t *testing.T) {
	client, server := net.Pipe()
	defer server.Close()
	c := newBufferedConn(client)
	if _, err := c.Write([]byte("stuck: nobody reads")); err != nil {
		t.Fatal(err)
	}
	closed := make(chan struct{})
	go func() { c.Close(); close(closed) }()
	select {
	case <-closed:
	case <-time.After(30 * time.Second):
		t.Fatal("Close hangs on a peer that does not read")
	}

	client, server = net.Pipe()
	c = newBufferedConn(client)
	server.Close() // writes now fail
	if _, err := c.Write([]byte("lost")); err != nil {
		t.Fatal(err) // queued; the flusher finds the error
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		if _, err := c.Write([]byte("x")); err != nil {
			if !errors.Is(err, io.ErrClosedPipe) {
				t.Errorf("Write after a failed write: %v, want the write's error", err)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("Write still succeeds after the connection failed")
		}
		time.Sleep(time.Millisecond)
	}
	c.Close()
}
