package broker

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"testing"
	"time"
)

// This file speaks MQTT by hand, byte by byte, so that tests see exactly
// what the broker puts on the wire, with no client library in between to
// tolerate or hide a mistake.

// startBroker starts an embedded broker on a free loopback port for one
// test and closes it when the test ends. The protocol tests that use it
// need no accounts: it lets any client in (AllowAll).
func startBroker(t *testing.T, cfg Config) *Broker {
	t.Helper()
	cfg.AllowAll = true
	if cfg.Addr == "" && cfg.Listener == nil {
		cfg.Addr = "127.0.0.1:0"
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	b, err := Start(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

func appendVarint(b []byte, n int) []byte {
	for {
		eb := byte(n % 128)
		n /= 128
		if n > 0 {
			eb |= 0x80
		}
		b = append(b, eb)
		if n == 0 {
			return b
		}
	}
}

func appendString(b []byte, s string) []byte {
	b = binary.BigEndian.AppendUint16(b, uint16(len(s)))
	return append(b, s...)
}

// packet frames body as an MQTT packet with the given first byte.
func packet(first byte, body []byte) []byte {
	return append(appendVarint([]byte{first}, len(body)), body...)
}

// connectPacket is a CONNECT with clean start for protocol level 4
// (MQTT 3.1.1) or 5. password, if not empty, comes with username "station".
func connectPacket(level byte, clientID, password string) []byte {
	flags := byte(0x02)
	if password != "" {
		flags |= 0xc0
	}
	b := appendString(nil, "MQTT")
	b = append(b, level, flags, 0, 60)
	if level == 5 {
		b = append(b, 0) // no properties
	}
	b = appendString(b, clientID)
	if password != "" {
		b = appendString(b, "station")
		b = appendString(b, password)
	}
	return packet(0x10, b)
}

// userProperties encodes MQTT 5 user properties (0x26), key then value.
func userProperties(kv ...string) []byte {
	var props []byte
	for i := 0; i+1 < len(kv); i += 2 {
		props = append(props, 0x26)
		props = appendString(props, kv[i])
		props = appendString(props, kv[i+1])
	}
	return props
}

// publishPacket is a PUBLISH; props are MQTT 5 properties, nil for 3.1.1.
func publishPacket(qos byte, id uint16, topic string, props []byte, payload []byte) []byte {
	b := appendString(nil, topic)
	if qos > 0 {
		b = binary.BigEndian.AppendUint16(b, id)
	}
	if props != nil {
		b = appendVarint(b, len(props))
		b = append(b, props...)
	}
	b = append(b, payload...)
	return packet(0x30|qos<<1, b)
}

// rawConn is a hand-driven MQTT connection.
type rawConn struct {
	t  *testing.T
	c  net.Conn
	rd *bufio.Reader
}

func dialRaw(t *testing.T, b *Broker) *rawConn {
	t.Helper()
	c, err := net.DialTimeout("tcp", LocalHostPort(b.Addr()), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &rawConn{t: t, c: c, rd: bufio.NewReader(c)}
}

func (r *rawConn) write(b []byte) {
	r.t.Helper()
	if _, err := r.c.Write(b); err != nil {
		r.t.Fatalf("write: %v", err)
	}
}

// read reads one packet and returns its first byte and body.
func (r *rawConn) read() (byte, []byte, error) {
	_ = r.c.SetReadDeadline(time.Now().Add(5 * time.Second))
	first, err := r.rd.ReadByte()
	if err != nil {
		return 0, nil, err
	}
	n, err := binary.ReadUvarint(r.rd) // MQTT's variable byte integer is a uvarint
	if err != nil {
		return 0, nil, err
	}
	body := make([]byte, n)
	_, err = io.ReadFull(r.rd, body)
	return first, body, err
}

// mustRead reads one packet, which must be of type typ.
func (r *rawConn) mustRead(typ byte) []byte {
	r.t.Helper()
	first, body, err := r.read()
	if err != nil {
		r.t.Fatalf("read packet type %d: %v", typ, err)
	}
	if first>>4 != typ {
		r.t.Fatalf("got packet type %d (% x), want %d", first>>4, body, typ)
	}
	return body
}

// connect sends a CONNECT and returns the CONNACK's properties (MQTT 5).
func (r *rawConn) connect(level byte, clientID string) properties {
	r.t.Helper()
	r.write(connectPacket(level, clientID, ""))
	body := r.mustRead(2)
	if len(body) < 2 || body[1] != 0 {
		r.t.Fatalf("CONNACK % x: refused", body)
	}
	if level < 5 {
		return nil
	}
	props, err := parseProperties(body[2:])
	if err != nil {
		r.t.Fatalf("CONNACK % x: %v", body, err)
	}
	return props
}

// closed reports whether the broker closed the connection: the next read
// ends with EOF or a reset rather than a timeout. Any packets before the
// end are returned.
func (r *rawConn) closed() (bool, []byte) {
	var got []byte
	for {
		first, body, err := r.read()
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				return false, got
			}
			return true, got
		}
		got = append(got, first)
		got = append(got, body...)
	}
}

// ack is a decoded PUBACK or PUBREC.
type ack struct {
	id     uint16
	reason byte
	props  properties
}

func parseAck(body []byte) (ack, error) {
	if len(body) < 2 {
		return ack{}, fmt.Errorf("ack of %d bytes", len(body))
	}
	a := ack{id: binary.BigEndian.Uint16(body)}
	if len(body) > 2 {
		a.reason = body[2]
	}
	if len(body) > 3 {
		p, err := parseProperties(body[3:])
		if err != nil {
			return a, err
		}
		a.props = p
	}
	return a, nil
}

// properties are MQTT 5 properties by identifier, each as its raw bytes.
type properties map[byte][][]byte

// propLen is the length of each fixed-size property value; the others
// are strings (2-byte length) or, for 0x26, string pairs.
var propLen = map[byte]int{
	0x01: 1, 0x02: 4, 0x11: 4, 0x13: 2, 0x17: 1, 0x19: 1, 0x21: 2, 0x22: 2,
	0x23: 2, 0x24: 1, 0x25: 1, 0x27: 4, 0x28: 1, 0x29: 1, 0x2a: 1,
}

// parseProperties parses a property length and the properties after it.
func parseProperties(b []byte) (properties, error) {
	rd := bytes.NewReader(b)
	n, err := binary.ReadUvarint(rd)
	if err != nil {
		return nil, fmt.Errorf("property length: %w", err)
	}
	rest := b[len(b)-rd.Len():]
	if uint64(len(rest)) != n {
		return nil, fmt.Errorf("property length %d, %d bytes follow", n, len(rest))
	}
	props := properties{}
	for len(rest) > 0 {
		id := rest[0]
		rest = rest[1:]
		size, fixed := propLen[id]
		if !fixed {
			size = 0
			strs := 1
			if id == 0x26 { // user property: key and value
				strs = 2
			}
			for range strs {
				if len(rest[size:]) < 2 {
					return nil, fmt.Errorf("property %#x truncated", id)
				}
				size += 2 + int(binary.BigEndian.Uint16(rest[size:]))
			}
		}
		if size > len(rest) {
			return nil, fmt.Errorf("property %#x truncated", id)
		}
		props[id] = append(props[id], rest[:size])
		rest = rest[size:]
	}
	return props, nil
}
