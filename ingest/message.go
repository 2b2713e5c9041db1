package ingest

import (
	"fmt"
	"strings"

	"github.com/envmon/envmon/reading"
	"github.com/envmon/envmon/station"
)

// Reasons a message is rejected. Each is the reason label of the
// envmon_ingest_rejected_total metric, and starts the message's error text.
const (
	ReasonBadTopic       = "bad_topic"
	ReasonMalformed      = "malformed"
	ReasonBadTimestamp   = "bad_timestamp"
	ReasonNoValues       = "no_values"
	ReasonUnknownMetric  = "unknown_metric"
	ReasonBadValue       = "bad_value"
	ReasonUnknownStation = "unknown_station"
	ReasonBadStatus      = "bad_status"
	ReasonTooLarge       = "too_large"
	ReasonBadUnit        = "bad_unit"
	ReasonMismatch       = "station_mismatch"
	// ReasonCorruptSpool counts spool records damaged on disk; it is not a
	// message's fault, but it is data lost, so it is counted with the rest.
	ReasonCorruptSpool = "corrupt_spool"
)

// Reasons lists every rejection reason.
func Reasons() []string {
	return []string{ReasonBadTopic, ReasonMalformed, ReasonBadTimestamp, ReasonNoValues, ReasonUnknownMetric,
		ReasonBadValue, ReasonUnknownStation, ReasonBadStatus, ReasonTooLarge, ReasonBadUnit, ReasonMismatch, ReasonCorruptSpool}
}

// Rejection is why a message was not accepted.
type Rejection struct {
	Reason string
	Detail string
}

func (r *Rejection) Error() string { return r.Reason + ": " + r.Detail }

// MQTT 5 reason codes a rejected message is acknowledged with, where the
// client speaks MQTT 5 (OASIS MQTT 5.0 §3.4.2.1). An MQTT 3.1.1 PUBACK has
// no reason code: there a rejected message is acknowledged like any other,
// and only counted and kept as a dead letter.
const (
	CodeNotAuthorized        byte = 0x87
	CodeTopicNameInvalid     byte = 0x90
	CodeQuotaExceeded        byte = 0x97
	CodePayloadFormatInvalid byte = 0x99
)

// Code is the MQTT 5 reason code the rejection is acknowledged with.
func (r *Rejection) Code() byte {
	switch r.Reason {
	case ReasonBadTopic:
		return CodeTopicNameInvalid
	case ReasonUnknownStation, ReasonMismatch:
		return CodeNotAuthorized
	case ReasonTooLarge:
		return CodeQuotaExceeded
	}
	return CodePayloadFormatInvalid
}

func reject(reason, format string, args ...any) *Rejection {
	return &Rejection{Reason: reason, Detail: fmt.Sprintf(format, args...)}
}

// TopicPrefix is the first level of every envmon topic.
const TopicPrefix = "envmon"

// Topic is a parsed envmon/{point}/{station}/{kind} topic, where kind is a
// medium or "status".
type Topic struct {
	Point, Station string
	Medium         reading.Medium // empty for a status topic
	Status         bool
}

// ParseTopic parses an envmon topic. A rejection quotes at most
// maxQuoted bytes of the topic or of any of its levels.
func ParseTopic(topic string) (Topic, *Rejection) {
	parts, ok := topicLevels(topic)
	if !ok || parts[0] != TopicPrefix {
		return Topic{}, reject(ReasonBadTopic, "topic %q is not envmon/{point}/{station}/{air|water|noise|status}", clip(topic, maxQuoted))
	}
	t := Topic{Point: parts[1], Station: parts[2]}
	if !station.ValidID(t.Point) {
		return Topic{}, reject(ReasonBadTopic, "point %q in topic %q is not a valid id", clip(t.Point, maxQuoted), clip(topic, maxQuoted))
	}
	if !station.ValidID(t.Station) {
		return Topic{}, reject(ReasonBadTopic, "station %q in topic %q is not a valid id", clip(t.Station, maxQuoted), clip(topic, maxQuoted))
	}
	if parts[3] == "status" {
		t.Status = true
		return t, nil
	}
	m, err := reading.ParseMedium(parts[3])
	if err != nil {
		return Topic{}, reject(ReasonBadTopic, "topic %q: unknown medium %q (want air, water, noise or status)", clip(topic, maxQuoted), clip(parts[3], maxQuoted))
	}
	t.Medium = m
	return t, nil
}

// topicLevels splits topic at '/' into exactly four levels, as
// strings.SplitN(topic, "/", 5) would, without allocating; ok is false if
// topic has more or fewer.
func topicLevels(topic string) (levels [4]string, ok bool) {
	rest := topic
	for i := range 3 {
		j := strings.IndexByte(rest, '/')
		if j < 0 {
			return levels, false
		}
		levels[i], rest = rest[:j], rest[j+1:]
	}
	if strings.IndexByte(rest, '/') >= 0 {
		return levels, false
	}
	levels[3] = rest
	return levels, true
}
