package broker

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/mochi-mqtt/server/v2/packets"

	"github.com/envmon/envmon/internal/testenv"
)

// syncBuffer is a log sink that the broker's goroutines and the test may
// use at once.
// syncBuffer is a buffer safe for a writer and a reader goroutine.
type syncBuffer = testenv.SyncBuffer

// secretForms are the ways a handler may print the password: as text, as
// Go prints a []byte, as JSON encodes one.
func secretForms(secret string) []string {
	dec := fmt.Sprint([]byte(secret[:7]))
	return []string{
		secret[:7],
		strings.Trim(dec, "[]"),
		base64.StdEncoding.EncodeToString([]byte(secret))[:8],
	}
}

// TestBrokerLogHasNoSecrets sends the broker packets it refuses, each
// carrying a station's password or a payload, with the broker logging at
// DEBUG through a text and a JSON handler. mochi logs the whole packet at
// WARN ("error processing packet"); the log must show its type, never its
// contents.
func TestBrokerLogHasNoSecrets(t *testing.T) {
	const secret = "hunter2-secret"
	// A CONNECT whose password's length promises more than the packet holds.
	malformed := connectPacket(4, "bad", secret)
	malformed[len(malformed)-len(secret)-1] += 10
	for _, tc := range []struct {
		name    string
		send    func(c *rawConn)
		logged  string // a line the broker must have logged
		summary string // what it must show of the packet
	}{
		{"second connect", func(c *rawConn) {
			c.write(connectPacket(5, "st-1", secret))
			c.mustRead(packets.Connack)
			c.write(connectPacket(5, "st-1", secret))
		}, "error processing packet", "Connect"},
		{"second connect v3.1.1", func(c *rawConn) {
			c.write(connectPacket(4, "st-1", secret))
			c.mustRead(packets.Connack)
			c.write(connectPacket(4, "st-1", secret))
		}, "error processing packet", "Connect"},
		{"publish without packet id", func(c *rawConn) {
			c.connect(5, "st-2")
			c.write(publishPacket(1, 0, "envmon/air/st-2", []byte{}, []byte(secret)))
		}, "error processing packet", "Publish"},
		{"malformed connect", func(c *rawConn) {
			c.write(malformed)
		}, "mqtt client ended", ""},
	} {
		for _, format := range []string{"text", "json"} {
			t.Run(tc.name+" "+format, func(t *testing.T) {
				var sink syncBuffer
				opts := &slog.HandlerOptions{Level: slog.LevelDebug}
				var h slog.Handler = slog.NewTextHandler(&sink, opts)
				if format == "json" {
					h = slog.NewJSONHandler(&sink, opts)
				}
				b := startBroker(t, Config{Logger: slog.New(h)})
				c := dialRaw(t, b)
				tc.send(c)
				if ended, _ := c.closed(); !ended {
					t.Fatal("the broker kept the connection")
				}
				// mochi logs after it closed the connection.
				deadline := time.Now().Add(5 * time.Second)
				for !strings.Contains(sink.String(), tc.logged) && time.Now().Before(deadline) {
					time.Sleep(10 * time.Millisecond)
				}
				log := sink.String()
				if !strings.Contains(log, tc.logged) {
					t.Fatalf("log has no %q:\n%s", tc.logged, log)
				}
				if !strings.Contains(log, tc.summary) {
					t.Errorf("log does not name the packet type %q:\n%s", tc.summary, log)
				}
				for _, form := range secretForms(secret) {
					if strings.Contains(log, form) {
						t.Errorf("log shows the secret as %q:\n%s", form, log)
					}
				}
			})
		}
	}
}

type valuer struct{ v slog.Value }

func (v valuer) LogValue() slog.Value { return v.v }

// TestLogFilter checks what becomes of each kind of attribute.
func TestLogFilter(t *testing.T) {
	long := strings.Repeat("é", 200) // 400 bytes
	pk := packets.Packet{
		FixedHeader: packets.FixedHeader{Type: packets.Connect},
		PacketID:    0,
		Connect:     packets.ConnectParams{Password: []byte("hunter2"), Username: []byte("hunter2")},
		Payload:     []byte("hunter2"),
	}
	pub := packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Publish, Qos: 1}, PacketID: 42, TopicName: "hunter2", Payload: []byte("hunter2")}
	for _, tc := range []struct {
		name string
		attr slog.Attr
		want string // the text handler's rendering, without time and level
	}{
		{"short string", slog.String("k", "abc"), `k=abc`},
		{"long string", slog.String("k", long), `k="` + strings.Repeat("é", 128) + `…(400 bytes)"`},
		{"long key", slog.Int(long, 1), `"` + strings.Repeat("é", 128) + `…(400 bytes)"=1`},
		{"packet", slog.Any("pk", pk), `pk.type=Connect pk.id=0`},
		{"packet pointer", slog.Any("packet", &pub), `packet.type=Publish packet.id=42`},
		{"nil packet pointer", slog.Any("packet", (*packets.Packet)(nil)), `packet=<nil>`},
		{"packet under another key", slog.Any("x", pub), `x.type=Publish x.id=42`},
		{"packets in a slice", slog.Any("x", []packets.Packet{pub}), `x=[]packets.Packet`},
		{"connect params", slog.Any("x", pk.Connect), `x=packets.ConnectParams`},
		{"properties pointer", slog.Any("x", &pk.Properties), `x=*packets.Properties`},
		{"unknown value under packet key", slog.Any("packet", struct{ P string }{"hunter2"}), `packet="struct { P string }"`},
		{"bytes", slog.Any("payload", []byte("hunter2")), `payload="<7 bytes>"`},
		{"error", slog.Any("error", errors.New(long)), `error="` + strings.Repeat("é", 128) + `…(400 bytes)"`},
		{"mochi code", slog.Any("error", packets.ErrPacketTooLarge), `error="packet too large"`},
		{"stringer", slog.Any("ip", net.IPv4(127, 0, 0, 1)), `ip=127.0.0.1`},
		{"other value", slog.Any("v", []string{long}), `v="[` + strings.Repeat("é", 127) + `…(402 bytes)"`},
		{"number", slog.Int("n", 7), `n=7`},
		{"group", slog.Group("g", slog.Any("pk", pub), slog.String("s", long[:300])), `g.pk.type=Publish g.pk.id=42 g.s="` + strings.Repeat("é", 128) + `…(300 bytes)"`},
		{"log valuer", slog.Any("v", valuer{slog.AnyValue(pub)}), `v.type=Publish v.id=42`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			h := slog.NewTextHandler(&buf, &slog.HandlerOptions{ReplaceAttr: func(g []string, a slog.Attr) slog.Attr {
				if len(g) == 0 && (a.Key == slog.TimeKey || a.Key == slog.LevelKey || a.Key == slog.MessageKey) {
					return slog.Attr{}
				}
				return a
			}})
			slog.New(newLogFilter(h)).LogAttrs(t.Context(), slog.LevelWarn, "m", tc.attr)
			// The same attribute given to With must come out the same.
			slog.New(newLogFilter(h)).With(tc.attr).Warn("m")
			lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
			if len(lines) != 2 {
				t.Fatalf("got %d lines: %q", len(lines), lines)
			}
			for _, line := range lines {
				if line != tc.want {
					t.Errorf("got  %s\nwant %s", line, tc.want)
				}
			}
		})
	}
}

// TestLogFilterBoundsMessageAndGroup: the message and group names are
// bounded too, and WithGroup keeps filtering.
func TestLogFilterBoundsMessageAndGroup(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(newLogFilter(slog.NewJSONHandler(&buf, nil)))
	log.WithGroup(strings.Repeat("g", 1000)).Warn(strings.Repeat("m", 1000), "pk", packets.Packet{Payload: []byte("hunter2")})
	out := buf.String()
	if len(out) > 1000 {
		t.Errorf("a line of %d bytes: %s", len(out), out)
	}
	if strings.Contains(out, "hunter2") || strings.Contains(out, base64.StdEncoding.EncodeToString([]byte("hunter2"))) {
		t.Errorf("payload in log: %s", out)
	}
	if !strings.Contains(out, `"pk":{"type":"Reserved","id":0}`) {
		t.Errorf("no packet summary in: %s", out)
	}
}
