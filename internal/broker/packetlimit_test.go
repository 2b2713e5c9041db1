package broker

import (
	"bytes"
	"errors"
	"io"
	"net"
	"runtime"
	"testing"
	"time"

	"github.com/mochi-mqtt/server/v2/packets"
)

// heapInUse is the live heap after a collection.
func heapInUse() uint64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// allocated is the count of heap bytes ever allocated.
func allocated() uint64 {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.TotalAlloc
}

// TestHugePacketClosedBeforeRead sends a header announcing a 100 MB
// PUBLISH (or CONNECT) and streams its body. The broker must close the
// connection at the header, before it reads or allocates the body: mochi
// alone would allocate 100 MB at once, twice.
func TestHugePacketClosedBeforeRead(t *testing.T) {
	const announced = 100 << 20
	for _, tc := range []struct {
		name    string
		connect bool // connect first, then publish
		first   byte
	}{
		{"publish after connect", true, 0x30},
		{"connect", false, 0x10},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := startBroker(t, Config{})
			c := dialRaw(t, b)
			if tc.connect {
				c.connect(5, "huge")
			}
			base := heapInUse()
			baseTotal := allocated()
			c.write(appendVarint([]byte{tc.first}, announced))
			chunk := make([]byte, 64<<10)
			sent, peak := 0, uint64(0)
			var werr error
			for sent < announced {
				_ = c.c.SetWriteDeadline(time.Now().Add(5 * time.Second))
				var n int
				n, werr = c.c.Write(chunk)
				sent += n
				if werr != nil {
					break
				}
				if sent%(4<<20) == 0 {
					peak = max(peak, heapInUse())
				}
			}
			peak = max(peak, heapInUse())
			if grew := int64(peak) - int64(base); grew > 8<<20 {
				t.Errorf("heap grew by %d MB while %d MB were streamed", grew>>20, sent>>20)
			}
			// Even an allocation freed at once would show here.
			if total := allocated() - baseTotal; total > 8<<20 {
				t.Errorf("%d MB allocated while %d MB were streamed", total>>20, sent>>20)
			}
			if werr == nil {
				t.Fatalf("broker read all %d bytes of a %d-byte packet", sent, announced)
			}
			var ne net.Error
			if errors.As(werr, &ne) && ne.Timeout() {
				t.Fatalf("write timed out after %d bytes: the broker stopped reading but kept the connection", sent)
			}
			t.Logf("connection closed after %d KB streamed", sent>>10)
		})
	}
}

// TestPacketSizeLimit: a packet of exactly the limit is accepted; one byte
// more ends the connection, for MQTT 5 with a DISCONNECT 0x95 (packet too
// large), for MQTT 3.1.1, which has no such packet, without a word.
func TestPacketSizeLimit(t *testing.T) {
	const limit = 1000
	// publishOf returns a QoS 1 PUBLISH of exactly size bytes.
	publishOf := func(level byte, size int) []byte {
		for pad := size; pad >= 0; pad-- {
			p := publishPacket(1, 3, "envmon/big", propsFor(level), bytes.Repeat([]byte("x"), pad))
			if len(p) == size {
				return p
			}
		}
		t.Fatalf("no PUBLISH of %d bytes", size)
		return nil
	}
	for _, tc := range []struct {
		name       string
		level      byte
		size       int
		accepted   bool
		disconnect bool
	}{
		{"v5 at the limit", 5, limit, true, false},
		{"v5 one byte over", 5, limit + 1, false, true},
		{"v3.1.1 at the limit", 4, limit, true, false},
		{"v3.1.1 one byte over", 4, limit + 1, false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := startBroker(t, Config{MaxPacketSize: limit})
			c := dialRaw(t, b)
			c.connect(tc.level, "limit")
			// A small publish first, in the same write as the big one: it
			// must be handled before the connection ends.
			c.write(append(publishPacket(1, 2, "envmon/small", propsFor(tc.level), []byte("x")),
				publishOf(tc.level, tc.size)...))
			if a, err := parseAck(c.mustRead(packets.Puback)); err != nil || a.id != 2 {
				t.Fatalf("small publish: ack %+v, %v", a, err)
			}
			if tc.accepted {
				if a, err := parseAck(c.mustRead(packets.Puback)); err != nil || a.id != 3 || a.reason != 0 {
					t.Fatalf("publish of %d bytes: ack %+v, %v", tc.size, a, err)
				}
				return
			}
			ended, got := c.closed()
			if !ended {
				t.Fatal("connection still open after a packet over the limit")
			}
			want := []byte(nil)
			if tc.disconnect {
				want = []byte{packets.Disconnect << 4, packets.ErrPacketTooLarge.Code}
			}
			if !bytes.Equal(got, want) {
				t.Errorf("before the close the broker sent % x, want % x", got, want)
			}
		})
	}
}

// TestLimitConnScan feeds limitConn byte streams in pieces of every size
// and checks where it cuts them.
func TestLimitConnScan(t *testing.T) {
	connect5 := connectPacket(5, "c", "")
	connect4 := connectPacket(4, "c", "")
	small := publishPacket(0, 0, "t", nil, []byte("hello"))
	for _, tc := range []struct {
		name   string
		stream []byte
		max    uint32
		// pass is where the refused packet starts, or the stream's end.
		// Bytes of its header that came in an earlier read have passed
		// already, but never all of it: less than hdr bytes of it pass.
		pass   int
		hdr    int
		err    error // nil: the whole stream passes
		reason byte  // the DISCONNECT's reason code; 0: none is written
	}{
		{"all within", cat(connect5, small, small), 100, 2*len(small) + len(connect5), 0, nil, 0},
		{"too large after v5 connect", cat(connect5, small, appendVarint([]byte{0x30}, 200)), 100,
			len(connect5) + len(small), 3, packets.ErrPacketTooLarge, 0x95},
		{"too large after v3.1.1 connect", cat(connect4, appendVarint([]byte{0x30}, 200)), 100,
			len(connect4), 3, packets.ErrPacketTooLarge, 0},
		{"too large connect", appendVarint([]byte{0x10}, 1<<20), 100, 0, 4, packets.ErrPacketTooLarge, 0},
		{"zero-length packets", cat(connect5, []byte{0xc0, 0, 0xc0, 0}), 100, len(connect5) + 4, 0, nil, 0},
		{"five length bytes", cat(connect5, []byte{0x30, 0x80, 0x80, 0x80, 0x80, 0x01}), 1 << 30,
			len(connect5), 5, packets.ErrMalformedVariableByteInteger, 0x81},
		{"limit counts the header", cat(connect5, appendVarint([]byte{0x30}, 99)), 100,
			len(connect5), 2, packets.ErrPacketTooLarge, 0x95},
		{"header within limit", cat(connect5, appendVarint([]byte{0x30}, 98), make([]byte, 98)), 100,
			len(connect5) + 2 + 98, 0, nil, 0},
	} {
		for _, piece := range []int{1, 2, 3, 7, 1 << 20} {
			peer, mine := net.Pipe()
			written := make(chan []byte, 1)
			go func() {
				// Collect what limitConn writes back (a DISCONNECT).
				b, _ := io.ReadAll(peer)
				written <- b
			}()
			lc := &limitConn{Conn: &scriptConn{Conn: mine, data: tc.stream, piece: piece}, max: tc.max}
			passed, err := io.ReadAll(lc)
			mine.Close()
			back := <-written
			if tc.err == nil && len(passed) != len(tc.stream) ||
				tc.err != nil && (len(passed) < tc.pass || len(passed) >= tc.pass+tc.hdr) ||
				!bytes.Equal(passed, tc.stream[:len(passed)]) {
				t.Errorf("%s, pieces of %d: passed %d bytes, want %d (+ less than %d)", tc.name, piece, len(passed), tc.pass, tc.hdr)
			}
			if !errors.Is(err, tc.err) {
				t.Errorf("%s, pieces of %d: error %v, want %v", tc.name, piece, err, tc.err)
			}
			wantBack := []byte(nil)
			if tc.reason != 0 {
				wantBack = []byte{0xe0, 1, tc.reason}
			}
			if !bytes.Equal(back, wantBack) {
				t.Errorf("%s, pieces of %d: wrote % x, want % x", tc.name, piece, back, wantBack)
			}
		}
	}
}

// propsFor is an empty property list for MQTT 5, none for 3.1.1.
func propsFor(level byte) []byte {
	if level == 5 {
		return []byte{}
	}
	return nil
}

func cat(bs ...[]byte) []byte { return bytes.Join(bs, nil) }

// scriptConn reads data in pieces of at most piece bytes, then io.EOF;
// writes go to the embedded Conn.
type scriptConn struct {
	net.Conn
	data  []byte
	piece int
}

func (s *scriptConn) Read(p []byte) (int, error) {
	if len(s.data) == 0 {
		return 0, io.EOF
	}
	n := copy(p[:min(len(p), s.piece)], s.data)
	s.data = s.data[n:]
	return n, nil
}
