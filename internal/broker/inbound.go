package broker

import (
	"bytes"
	"strings"
	"sync"
	"sync/atomic"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"
)

// Inbound takes the messages clients publish under a prefix, before the
// broker acknowledges them; ingest.Collector satisfies it.
type Inbound interface {
	// Deliver is called on the publishing client's own goroutine, in the
	// order the client sent its messages, and may block: the client's
	// further packets wait (backpressure). The consumer calls the
	// message's Ack or Reject once the message is taken care of, in the
	// order messages were delivered; a message it never acknowledges is
	// sent again by the client after it reconnects.
	Deliver(m *Message)
}

// Message is a PUBLISH packet a client sent, held unacknowledged until
// the consumer calls Ack or Reject.
type Message struct {
	topic   string
	payload []byte
	qos     byte
	retain  bool
	id      uint16
	client  *mqtt.Client
	srv     *mqtt.Server
	done    atomic.Bool
	// acked, if set, is closed when the message is acknowledged (QoS 2,
	// which the broker's own flow completes).
	acked chan struct{}
}

// Topic is the topic the message was published on.
func (m *Message) Topic() string { return m.topic }

// Payload is the message's payload. The consumer may keep it.
func (m *Message) Payload() []byte { return m.payload }

// ClientID is the id of the client that published the message.
func (m *Message) ClientID() string { return m.client.ID }

// Conn identifies the connection the message came on, as
// Config.OnConnected does.
func (m *Message) Conn() any { return m.client }

// Username is the username the publishing client connected with.
func (m *Message) Username() string { return string(m.client.Properties.Username) }

// Ack acknowledges the message as accepted: a PUBACK with reason 0x00
// (nothing for QoS 0). Subscribers of its topic, if any (read-only users),
// get it now.
func (m *Message) Ack() { m.ack(packets.CodeSuccess.Code, true) }

// Reject acknowledges the message as refused with an MQTT 5 PUBACK reason
// code (0x80 or above). An MQTT 3.1.1 PUBACK carries no code, so there the
// message is acknowledged as any other: the consumer counts and keeps it.
func (m *Message) Reject(code byte) { m.ack(code, false) }

func (m *Message) ack(code byte, accepted bool) {
	if !m.done.CompareAndSwap(false, true) {
		return
	}
	switch m.qos {
	case 1:
		if m.client.Properties.ProtocolVersion < 5 {
			code = packets.CodeSuccess.Code
		}
		// A client that went away meanwhile sends the message again when it
		// returns; the write's error says nothing more.
		_ = m.client.WritePacket(packets.Packet{
			FixedHeader: packets.FixedHeader{Type: packets.Puback},
			PacketID:    m.id,
			ReasonCode:  code,
		})
	case 2:
		close(m.acked) // mochi's own flow acknowledges and forwards it
		return
	}
	if accepted {
		_ = m.srv.Publish(m.topic, m.payload, m.retain, 0)
	}
}

// inboundHook hands PUBLISH packets under prefix to an Inbound before the
// broker acknowledges them. mochi runs OnPublish before it builds the
// PUBACK; returning packets.ErrRejectPacket stops it from acknowledging or
// forwarding, and Message.Ack writes the PUBACK instead, after the
// consumer made the message durable. So a PUBACK from this broker means
// the message was taken care of. QoS 2 waits here for the consumer and
// then lets mochi complete its four-packet flow.
type inboundHook struct {
	mqtt.HookBase
	srv      *mqtt.Server
	prefix   string
	in       Inbound
	stopping atomic.Bool
	quit     chan struct{} // closed by stop
	once     sync.Once
}

// stop makes the hook leave new messages unacknowledged and stop waiting
// for QoS 2 acknowledgements.
func (h *inboundHook) stop() {
	h.once.Do(func() {
		h.stopping.Store(true)
		close(h.quit)
	})
}

func (h *inboundHook) ID() string { return "envmon-inbound" }

func (h *inboundHook) Provides(b byte) bool {
	return bytes.Contains([]byte{mqtt.OnPublish}, []byte{b})
}

func (h *inboundHook) OnPublish(cl *mqtt.Client, pk packets.Packet) (packets.Packet, error) {
	if cl.Net.Inline || !strings.HasPrefix(pk.TopicName, h.prefix) {
		return pk, nil
	}
	if h.stopping.Load() {
		// Not acknowledged: the client sends it again after reconnecting.
		return pk, packets.ErrRejectPacket
	}
	m := &Message{
		topic:   pk.TopicName,
		payload: pk.Payload,
		qos:     pk.FixedHeader.Qos,
		retain:  pk.FixedHeader.Retain,
		id:      pk.PacketID,
		client:  cl,
		srv:     h.srv,
	}
	if m.qos == 2 {
		m.acked = make(chan struct{})
	}
	h.in.Deliver(m)
	if m.qos == 2 {
		select {
		case <-m.acked:
			return pk, nil
		case <-h.quit:
		}
	}
	return pk, packets.ErrRejectPacket
}
