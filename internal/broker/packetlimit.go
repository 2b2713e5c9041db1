package broker

import (
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/mochi-mqtt/server/v2/packets"
)

// DefaultMaxPacketSize is the largest MQTT packet the embedded broker
// accepts unless Config.MaxPacketSize says otherwise: four times envmon's
// 64 KiB payload limit, which leaves room for a long topic and properties.
const DefaultMaxPacketSize = 256 << 10

// maxMQTTPacketSize is the largest packet MQTT can express: a type byte,
// four length bytes and 268,435,455 bytes of body.
const maxMQTTPacketSize = 1 + 4 + 268_435_455

// limitListener wraps each accepted connection in a limitConn.
type limitListener struct {
	net.Listener
	max uint32
}

// limitPacketSize returns a listener whose connections end at the header
// of the first packet larger than max bytes, before its body is read; see
// limitConn. A TLS listener must be wrapped, not wrap: the limit reads the
// MQTT bytes, so it goes above the decryption.
func limitPacketSize(ln net.Listener, max uint32) net.Listener {
	return &limitListener{Listener: ln, max: max}
}

// NetConn returns the connection c reads from, so that the broker can
// find a TLS connection's client certificate under it.
func (c *limitConn) NetConn() net.Conn { return c.Conn }

func (l *limitListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &limitConn{Conn: c, max: l.max}, nil
}

// limitConn reads an MQTT byte stream on behalf of mochi and follows its
// packet boundaries: it reads each fixed header and skips the body by
// count. A packet whose size (header included) exceeds max, or whose
// remaining length is malformed, ends the connection at its first byte,
// so mochi never sees its header and never allocates its body. mochi
// makes the body's buffer as soon as it has the header, and a second for
// a copy, so without this a single header announcing 256 MB costs 512 MB.
// (mochi has a check of its own, Capabilities.MaximumPacketSize, set too,
// but it ends the connection without a word.) An MQTT 5 client is told
// why with a DISCONNECT, reason 0x95 (packet too large) or 0x81 (malformed
// packet).
//
// Only mochi's read loop calls Read, so the parser's state needs no lock.
// The DISCONNECT is one Write, and so is each packet mochi writes, and a
// net.Conn does not interleave concurrent Writes.
type limitConn struct {
	net.Conn
	max uint32

	state     int    // what the next byte is: header, length or body
	lenBytes  int    // length bytes read of the current header
	remaining uint32 // body length announced by the current header
	skip      uint32 // body bytes still to pass of the current packet

	packets int    // headers seen
	connect []byte // start of the first packet's body, if it is a CONNECT
	v5      bool   // the CONNECT asked for MQTT 5

	err    error // the error Read returns from now on
	reason byte  // the reason code of the DISCONNECT that tells why
}

const (
	stateType = iota
	stateLength
	stateBody
)

// connectPeek is how much of a CONNECT's body shows its protocol level:
// the name's length, the name ("MQTT", or "MQIsdp" for 3.1) and the level.
const connectPeek = 2 + 6 + 1

func (c *limitConn) Read(p []byte) (int, error) {
	if c.err != nil {
		return 0, c.fail()
	}
	n, err := c.Conn.Read(p)
	if cut, bad := c.scan(p[:n]); bad != nil {
		c.err = bad
		c.reason = packets.ErrPacketTooLarge.Code
		if errors.Is(bad, packets.ErrMalformedVariableByteInteger) {
			c.reason = packets.ErrMalformedPacket.Code
		}
		if cut > 0 {
			// The packets before the bad one are whole: mochi handles
			// them, and its next Read fails.
			return cut, nil
		}
		return 0, c.fail()
	}
	return n, err
}

// fail tells an MQTT 5 client why its connection ends and returns the
// error that ends it. mochi closes the connection when Read fails.
func (c *limitConn) fail() error {
	if c.v5 {
		c.v5 = false // once
		_ = c.Conn.SetWriteDeadline(time.Now().Add(time.Second))
		// DISCONNECT, remaining length 1, the reason; no properties.
		_, _ = c.Conn.Write([]byte{packets.Disconnect << 4, 1, c.reason})
	}
	return c.err
}

// scan follows the packets in b, the next bytes of the stream. If a
// packet is refused it returns the offset in b at which that packet
// starts (0 if its header began in an earlier read) and why.
func (c *limitConn) scan(b []byte) (int, error) {
	start := 0
	for i := 0; i < len(b); {
		switch c.state {
		case stateType:
			start = i
			c.packets++
			if c.packets == 1 && b[i]>>4 == packets.Connect {
				c.connect = make([]byte, 0, connectPeek)
			}
			c.lenBytes, c.remaining = 0, 0
			c.state = stateLength
			i++
		case stateLength:
			eb := b[i]
			i++
			c.remaining |= uint32(eb&0x7f) << (7 * c.lenBytes)
			c.lenBytes++
			if eb&0x80 != 0 {
				if c.lenBytes == 4 {
					return start, fmt.Errorf("mqtt: remaining length longer than 4 bytes: %w", packets.ErrMalformedVariableByteInteger)
				}
				continue
			}
			size := uint64(1+c.lenBytes) + uint64(c.remaining)
			if size > uint64(c.max) {
				return start, fmt.Errorf("mqtt: packet of %d bytes exceeds the limit of %d: %w", size, c.max, packets.ErrPacketTooLarge)
			}
			c.skip = c.remaining
			c.state = stateBody
			if c.skip == 0 {
				c.state = stateType
				c.connect = nil
			}
		case stateBody:
			k := min(c.skip, uint32(len(b)-i))
			if c.connect != nil && len(c.connect) < connectPeek {
				c.peekConnect(b[i : i+int(min(k, uint32(connectPeek-len(c.connect))))])
			}
			i += int(k)
			c.skip -= k
			if c.skip == 0 {
				c.state = stateType
				c.connect = nil
			}
		}
	}
	return 0, nil
}

// peekConnect collects the start of a CONNECT's body and notes whether it
// asks for protocol level 5.
func (c *limitConn) peekConnect(b []byte) {
	c.connect = append(c.connect, b...)
	if len(c.connect) < 2 {
		return
	}
	level := 2 + (int(c.connect[0])<<8 | int(c.connect[1]))
	if level < len(c.connect) {
		c.v5 = c.connect[level] == 5
		c.connect = c.connect[:cap(c.connect)] // seen enough
	}
}
