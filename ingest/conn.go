package ingest

import (
	"bufio"
	"crypto/tls"
	"fmt"
	"net"
	"net/url"
	"sync"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
)

// paho reads each packet straight from the connection, a byte at a time for
// the length header: two or three read(2) calls a message. At tens of
// thousands of messages a second that was a fifth of the collector's CPU
// (bench/ingest), so the collector gives paho a connection that reads
// through a buffer. Likewise paho writes each PUBACK with its own write(2),
// a tenth of the CPU; the connection coalesces the writes that come within
// flushGap of each other.

// bufferedConn is a net.Conn whose reads go through a bufio.Reader and
// whose writes are coalesced.
type bufferedConn struct {
	net.Conn
	r *bufio.Reader

	mu      sync.Mutex
	cond    sync.Cond // signalled when a write ends
	pending []byte    // written by paho, not yet to the connection
	spare   []byte
	writing bool // the flusher is writing
	closed  bool
	err     error // of the connection's last write; later writes fail with it
	wake    chan struct{}
	stop    chan struct{}
	once    sync.Once
}

// Bounds of bufferedConn's writes.
const (
	// maxPending is how much Write buffers before it waits for the
	// connection.
	maxPending = 256 << 10
	// closeFlushTimeout bounds how long Close waits for buffered writes
	// (a DISCONNECT, say) to reach the connection.
	closeFlushTimeout = 2 * time.Second
	// flushGap is the least time between two writes to the connection.
	flushGap = 500 * time.Microsecond
)

func newBufferedConn(conn net.Conn) *bufferedConn {
	c := &bufferedConn{
		Conn: conn,
		r:    bufio.NewReaderSize(conn, 64<<10),
		wake: make(chan struct{}, 1),
		stop: make(chan struct{}),
	}
	c.cond.L = &c.mu
	go c.flush()
	return c
}

func (c *bufferedConn) Read(p []byte) (int, error) { return c.r.Read(p) }

// Write queues p for the connection and returns. An error of an earlier
// write is returned by the writes after it.
func (c *bufferedConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	for len(c.pending) >= maxPending && c.err == nil {
		c.cond.Wait()
	}
	if c.closed {
		c.mu.Unlock()
		return 0, net.ErrClosed
	}
	if c.err != nil {
		c.mu.Unlock()
		return 0, c.err
	}
	c.pending = append(c.pending, p...)
	c.mu.Unlock()
	select {
	case c.wake <- struct{}{}:
	default:
	}
	return len(p), nil
}

// flush writes what is pending to the connection until Close.
func (c *bufferedConn) flush() {
	for {
		select {
		case <-c.wake:
		case <-c.stop:
			return
		}
		c.mu.Lock()
		b := c.pending
		if len(b) == 0 {
			c.mu.Unlock()
			continue
		}
		// Swap the buffers: Write fills the spare while b is written.
		c.pending, c.spare, c.writing = c.spare[:0], nil, true
		c.mu.Unlock()
		_, err := c.Conn.Write(b)
		c.mu.Lock()
		c.spare, c.writing = b, false
		if err != nil && c.err == nil {
			c.err = err
		}
		c.cond.Broadcast()
		c.mu.Unlock()
		// Let the next writes gather: under load one write(2) then carries
		// tens of PUBACKs, for at most flushGap more latency.
		select {
		case <-time.After(flushGap):
		case <-c.stop:
			return
		}
	}
}

// Close writes what is pending, waiting at most closeFlushTimeout, and
// closes the connection.
func (c *bufferedConn) Close() error {
	c.once.Do(func() {
		c.Conn.SetWriteDeadline(time.Now().Add(closeFlushTimeout)) // a stuck write fails
		c.mu.Lock()
		for (len(c.pending) > 0 || c.writing) && c.err == nil {
			select {
			case c.wake <- struct{}{}:
			default:
			}
			c.cond.Wait()
		}
		c.closed = true
		c.mu.Unlock()
		close(c.stop)
	})
	return c.Conn.Close()
}

// bufferedOpener opens TCP and TLS connections for paho, buffered for reading.
// Other schemes (websockets) are left to paho: bufferedOpener returns nil.
func bufferedOpener(broker string) paho.OpenConnectionFunc {
	u, err := url.Parse(broker)
	if err != nil {
		return nil
	}
	switch u.Scheme {
	case "tcp", "mqtt", "ssl", "tls", "mqtts", "tcps":
	default:
		return nil
	}
	return func(uri *url.URL, o paho.ClientOptions) (net.Conn, error) {
		d := o.Dialer
		if d == nil {
			d = &net.Dialer{Timeout: o.ConnectTimeout}
		}
		var conn net.Conn
		var err error
		switch uri.Scheme {
		case "tcp", "mqtt":
			conn, err = d.Dial("tcp", uri.Host)
		default:
			cfg := o.TLSConfig
			if cfg == nil {
				cfg = &tls.Config{}
			}
			conn, err = tls.DialWithDialer(d, "tcp", uri.Host, cfg)
		}
		if err != nil {
			return nil, fmt.Errorf("connect to %s: %w", uri.Host, err)
		}
		return newBufferedConn(conn), nil
	}
}
