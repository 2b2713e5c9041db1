package broker

import (
	"bytes"
	"encoding/binary"
	"testing"

	"github.com/mochi-mqtt/server/v2/packets"
)

// TestPubackIsValidMQTT5 publishes QoS 1 with user properties, a content
// type and a correlation datum in raw bytes and decodes the PUBACK. mochi
// itself answers with reason 0x01 and the PUBLISH's properties copied in
// (mochi-mqtt/server#474); a valid PUBACK has reason 0x00 and nothing
// of the PUBLISH in it.
func TestPubackIsValidMQTT5(t *testing.T) {
	b := startBroker(t, Config{})
	c := dialRaw(t, b)
	c.connect(5, "strict-v5")
	props := userProperties("station", "st-1", "firmware", "2.1")
	props = append(props, 0x03)
	props = appendString(props, "application/json") // content type
	props = append(props, 0x09)
	props = appendString(props, "corr-17") // correlation data
	c.write(publishPacket(1, 7, "envmon/air/st-1/reading", props, []byte(`{"pm25":3}`)))

	body := c.mustRead(4)
	a, err := parseAck(body)
	if err != nil {
		t.Fatalf("PUBACK % x: %v", body, err)
	}
	if a.id != 7 {
		t.Errorf("PUBACK for packet %d, want 7", a.id)
	}
	if a.reason != 0x00 {
		t.Errorf("PUBACK reason %#02x, want 0x00 (success)", a.reason)
	}
	if len(a.props) != 0 {
		t.Errorf("PUBACK carries properties %q, want none", a.props)
	}
	if bytes.Contains(body, []byte("st-1")) || bytes.Contains(body, []byte("corr-17")) {
		t.Errorf("PUBACK % x echoes the PUBLISH", body)
	}
}

// TestConnackAdvertisesMaximumPacketSize: an MQTT 5 CONNACK carries the
// broker's maximum packet size (property 0x27).
func TestConnackAdvertisesMaximumPacketSize(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  uint32
		want uint32
	}{
		{"default", 0, DefaultMaxPacketSize},
		{"configured", 100_000, 100_000},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := startBroker(t, Config{MaxPacketSize: tc.cfg})
			props := dialRaw(t, b).connect(5, "mps")
			v := props[0x27]
			if len(v) != 1 || len(v[0]) != 4 {
				t.Fatalf("CONNACK properties %q: no maximum packet size", props)
			}
			if got := binary.BigEndian.Uint32(v[0]); got != tc.want {
				t.Errorf("maximum packet size %d, want %d", got, tc.want)
			}
		})
	}
}

// TestPublishToRefusedTopic: mochi drops a PUBLISH to $SYS without
// acknowledging it. Every QoS 1 and 2 publish must get an answer: MQTT 5
// a PUBACK or PUBREC with 0x90 (topic name invalid), MQTT 3.1.1, which has
// no refusal, a closed connection. A wildcard in a topic name is a
// protocol error that mochi itself answers with a DISCONNECT.
func TestPublishToRefusedTopic(t *testing.T) {
	const (
		closed     = 0
		puback     = packets.Puback
		pubrec     = packets.Pubrec
		disconnect = packets.Disconnect
	)
	for _, tc := range []struct {
		name   string
		level  byte
		qos    byte
		topic  string
		answer byte // packet type; closed: the connection just ends
		reason byte
	}{
		{"v5 qos1 $SYS", 5, 1, "$SYS/broker/uptime", puback, 0x90},
		{"v5 qos1 lower-case $sys", 5, 1, "$sys/x", puback, 0x90},
		{"v5 qos2 $SYS", 5, 2, "$SYS/x", pubrec, 0x90},
		{"v5 qos1 share prefix", 5, 1, "$share/g", puback, 0x90},
		{"v5 qos1 plus wildcard", 5, 1, "envmon/+/st-1", disconnect, 0x82},
		{"v5 qos1 hash wildcard", 5, 1, "envmon/#", disconnect, 0x82},
		{"v3.1.1 qos1 $SYS", 4, 1, "$SYS/x", closed, 0},
		{"v3.1.1 qos2 $SYS", 4, 2, "$SYS/x", closed, 0},
		{"v3.1.1 qos1 wildcard", 4, 1, "a/#", closed, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := startBroker(t, Config{})
			c := dialRaw(t, b)
			c.connect(tc.level, "refused")
			var props []byte
			if tc.level == 5 {
				props = userProperties("k", "v")
			}
			c.write(publishPacket(tc.qos, 9, tc.topic, props, []byte("x")))
			switch tc.answer {
			case closed:
				if ended, got := c.closed(); !ended || len(got) != 0 {
					t.Fatalf("closed %v after packets % x; want closed with nothing sent", ended, got)
				}
				return
			case disconnect:
				body := c.mustRead(disconnect)
				if len(body) == 0 || body[0] != tc.reason {
					t.Errorf("DISCONNECT % x, want reason %#02x", body, tc.reason)
				}
				if ended, _ := c.closed(); !ended {
					t.Error("connection still open after DISCONNECT")
				}
				return
			}
			a, err := parseAck(c.mustRead(tc.answer))
			if err != nil {
				t.Fatal(err)
			}
			if a.id != 9 || a.reason != tc.reason {
				t.Errorf("ack id %d reason %#02x, want id 9 reason %#02x", a.id, a.reason, tc.reason)
			}
			if _, echoed := a.props[0x26]; echoed {
				t.Errorf("ack echoes user properties: %q", a.props)
			}
			// The connection goes on: a valid publish is acknowledged.
			c.write(publishPacket(1, 10, "envmon/ok", props, []byte("x")))
			if a, err := parseAck(c.mustRead(puback)); err != nil || a.id != 10 || a.reason != 0 {
				t.Errorf("next publish: ack %+v, %v", a, err)
			}
		})
	}
}

// TestFixOutgoing checks each rewrite of an outgoing packet, including the
// reason codes envmon's own hooks write, which must pass unchanged.
func TestFixOutgoing(t *testing.T) {
	echoed := packets.Properties{
		User:                   []packets.UserProperty{{Key: "k", Val: "v"}},
		ContentType:            "text/plain",
		PayloadFormat:          1,
		PayloadFormatFlag:      true,
		ReasonString:           "from the client",
		MessageExpiryInterval:  60,
		CorrelationData:        []byte("c"),
		SubscriptionIdentifier: []int{3},
	}
	pk := func(typ, code byte, p packets.Properties) packets.Packet {
		return packets.Packet{FixedHeader: packets.FixedHeader{Type: typ}, PacketID: 5, ReasonCode: code, Properties: p}
	}
	for _, tc := range []struct {
		name string
		in   packets.Packet
		want packets.Packet
	}{
		{"mochi's QoS 1 puback", pk(packets.Puback, 0x01, echoed), pk(packets.Puback, 0x00, packets.Properties{})},
		{"granted QoS 2 code", pk(packets.Puback, 0x02, echoed), pk(packets.Puback, 0x00, packets.Properties{})},
		{"mochi's pubrec", pk(packets.Pubrec, 0x00, echoed), pk(packets.Pubrec, 0x00, packets.Properties{})},
		{"mochi's pubcomp", pk(packets.Pubcomp, 0x00, echoed), pk(packets.Pubcomp, 0x00, packets.Properties{})},
		{"mochi's pubrel", pk(packets.Pubrel, 0x00, echoed), pk(packets.Pubrel, 0x00, packets.Properties{})},
		{"no matching subscribers", pk(packets.Puback, 0x10, echoed), pk(packets.Puback, 0x10, packets.Properties{})},
		{"not authorized keeps reason string", pk(packets.Puback, 0x87, echoed),
			pk(packets.Puback, 0x87, packets.Properties{ReasonString: "from the client"})},
		{"envmon success", pk(packets.Puback, 0x00, packets.Properties{}), pk(packets.Puback, 0x00, packets.Properties{})},
		{"envmon topic name invalid", pk(packets.Puback, 0x90, packets.Properties{}), pk(packets.Puback, 0x90, packets.Properties{})},
		{"envmon quota exceeded", pk(packets.Puback, 0x97, packets.Properties{}), pk(packets.Puback, 0x97, packets.Properties{})},
		{"envmon payload format invalid", pk(packets.Puback, 0x99, packets.Properties{}), pk(packets.Puback, 0x99, packets.Properties{})},
		{"packet id in use", pk(packets.Pubrec, 0x91, packets.Properties{}), pk(packets.Pubrec, 0x91, packets.Properties{})},
		{"no puback code", pk(packets.Puback, 0x95, echoed), pk(packets.Puback, 0x80, packets.Properties{ReasonString: "from the client"})},
		{"pubcomp id not found", pk(packets.Pubcomp, 0x92, packets.Properties{}), pk(packets.Pubcomp, 0x92, packets.Properties{})},
		{"connack gets max size", pk(packets.Connack, 0x00, packets.Properties{ReceiveMaximum: 10}),
			pk(packets.Connack, 0x00, packets.Properties{ReceiveMaximum: 10, MaximumPacketSize: 1000})},
		{"refusing connack unchanged", pk(packets.Connack, 0x86, packets.Properties{ReasonString: "bad"}),
			pk(packets.Connack, 0x86, packets.Properties{ReasonString: "bad"})},
		{"publish unchanged", pk(packets.Publish, 0, echoed), pk(packets.Publish, 0, echoed)},
		{"suback unchanged", pk(packets.Suback, 0, echoed), pk(packets.Suback, 0, echoed)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := fixOutgoing(tc.in, 1000)
			if got.ReasonCode != tc.want.ReasonCode || got.FixedHeader != tc.want.FixedHeader || got.PacketID != tc.want.PacketID {
				t.Errorf("got type %d id %d reason %#02x, want type %d id %d reason %#02x",
					got.FixedHeader.Type, got.PacketID, got.ReasonCode,
					tc.want.FixedHeader.Type, tc.want.PacketID, tc.want.ReasonCode)
			}
			if !propertiesEqual(got.Properties, tc.want.Properties) {
				t.Errorf("got properties %+v, want %+v", got.Properties, tc.want.Properties)
			}
		})
	}
}

// propertiesEqual compares properties by their encoding in every packet
// type that can carry them.
func propertiesEqual(a, b packets.Properties) bool {
	for typ := packets.Connect; typ <= packets.Auth; typ++ {
		var ea, eb bytes.Buffer
		mods := packets.Mods{AllowResponseInfo: true}
		a.Encode(typ, mods, &ea, 0)
		b.Encode(typ, mods, &eb, 0)
		if !bytes.Equal(ea.Bytes(), eb.Bytes()) {
			return false
		}
	}
	return true
}
