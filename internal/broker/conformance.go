package broker

import (
	"bytes"
	"fmt"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"
)

// conformanceHook corrects what mochi-mqtt v2.7.9 gets wrong about MQTT 5
// on the wire. It rewrites packets just before they are encoded, so it
// covers mochi's own acknowledgements and those written by envmon's hooks
// through Client.WritePacket alike.
//
//   - PUBACK and PUBREC: mochi acknowledges a QoS 1 PUBLISH with the
//     reason code of a granted QoS (0x01), which is no PUBACK reason code,
//     and copies the PUBLISH's properties (user properties, content type,
//     ...) into the acknowledgement (mochi-mqtt/server#474). Strict
//     clients take the publish as failed. A success code becomes 0x00, a
//     code that is not a PUBACK code becomes 0x80, and the properties are
//     dropped. Only a reason string survives, and only on an error code (0x80 or
//     above), where mochi and envmon set it on purpose; a success carries
//     nothing, so nothing a client sent can come back. PUBREL and PUBCOMP,
//     which mochi builds the same way, lose their copied properties too.
//   - CONNACK: mochi enforces Capabilities.MaximumPacketSize but does not
//     tell clients; a successful CONNACK carries it here.
//   - PUBLISH to a topic mochi refuses (a $SYS topic, a topic name with a
//     wildcard): mochi drops it without any acknowledgement, and the
//     client waits for ever. An MQTT 5 client gets a PUBACK (QoS 1) or
//     PUBREC (QoS 2) with reason 0x90, topic name invalid; an MQTT 3.1.1
//     client, which has no way to hear a refusal, is disconnected.
type conformanceHook struct {
	mqtt.HookBase
	srv           *mqtt.Server
	maxPacketSize uint32
}

func (h *conformanceHook) ID() string { return "envmon-conformance" }

func (h *conformanceHook) Provides(b byte) bool {
	return bytes.Contains([]byte{mqtt.OnPacketEncode, mqtt.OnPacketRead}, []byte{b})
}

// OnPacketEncode corrects outgoing acknowledgements and CONNACKs.
func (h *conformanceHook) OnPacketEncode(_ *mqtt.Client, pk packets.Packet) packets.Packet {
	return fixOutgoing(pk, h.maxPacketSize)
}

// fixOutgoing returns pk as MQTT 5 wants it on the wire; see
// conformanceHook.
func fixOutgoing(pk packets.Packet, maxPacketSize uint32) packets.Packet {
	switch pk.FixedHeader.Type {
	case packets.Puback, packets.Pubrec:
		pk.ReasonCode = pubackCode(pk.ReasonCode)
		pk.Properties = ackProperties(pk)
	case packets.Pubrel, packets.Pubcomp:
		if pk.ReasonCode < packets.ErrUnspecifiedError.Code {
			pk.ReasonCode = packets.CodeSuccess.Code
		}
		pk.Properties = ackProperties(pk)
	case packets.Connack:
		if pk.ReasonCode < packets.ErrUnspecifiedError.Code && maxPacketSize > 0 {
			pk.Properties.MaximumPacketSize = maxPacketSize
		}
	}
	return pk
}

// pubackCode maps a reason code to one that MQTT 5 allows in a PUBACK or
// PUBREC (section 3.4.2.1).
func pubackCode(code byte) byte {
	switch code {
	case 0x00, 0x10, 0x80, 0x83, 0x87, 0x90, 0x91, 0x97, 0x99:
		return code
	}
	if code < packets.ErrUnspecifiedError.Code {
		return packets.CodeSuccess.Code // mochi's 0x01 and 0x02, "granted QoS"
	}
	return packets.ErrUnspecifiedError.Code
}

// ackProperties keeps of an acknowledgement's properties only the reason
// string of an error.
func ackProperties(pk packets.Packet) packets.Properties {
	if pk.ReasonCode >= packets.ErrUnspecifiedError.Code {
		return packets.Properties{ReasonString: pk.Properties.ReasonString}
	}
	return packets.Properties{}
}

// errTopicRefused ends an MQTT 3.1.1 client's connection after it
// published to a topic the broker refuses. It wraps
// packets.ErrRejectPacket, the one error from OnPacketRead that mochi acts
// on: it stops reading and closes the connection.
var errTopicRefused = fmt.Errorf("%w: publish to a refused topic name", packets.ErrRejectPacket)

// OnPacketRead answers a QoS 1 or 2 PUBLISH that mochi would drop
// unacknowledged because of its topic; see conformanceHook.
func (h *conformanceHook) OnPacketRead(cl *mqtt.Client, pk packets.Packet) (packets.Packet, error) {
	if pk.FixedHeader.Type != packets.Publish || pk.FixedHeader.Qos == 0 || cl.Net.Inline ||
		mqtt.IsValidFilter(pk.TopicName, true) {
		return pk, nil
	}
	// A packet that is invalid in other ways (packet id 0, a bad topic
	// alias) is mochi's to refuse: it disconnects the client.
	if pk.PublishValidate(h.srv.Options.Capabilities.TopicAliasMaximum) != packets.CodeSuccess {
		return pk, nil
	}
	if cl.Properties.ProtocolVersion < 5 {
		return pk, errTopicRefused
	}
	ackType := packets.Puback
	if pk.FixedHeader.Qos == 2 {
		ackType = packets.Pubrec
	}
	// mochi's processPublish then drops the packet without a word.
	err := cl.WritePacket(packets.Packet{
		FixedHeader: packets.FixedHeader{Type: ackType},
		PacketID:    pk.PacketID,
		ReasonCode:  packets.ErrTopicNameInvalid.Code,
		Properties:  packets.Properties{ReasonString: packets.ErrTopicNameInvalid.Reason},
	})
	if err != nil {
		return pk, fmt.Errorf("%w: %w", packets.ErrRejectPacket, err)
	}
	return pk, nil
}
