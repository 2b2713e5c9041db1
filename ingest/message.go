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

// ParseTopic parses an envmon topic.
func ParseTopic(topic string) (Topic, *Rejection) {
	parts := strings.Split(topic, "/")
	if len(parts) != 4 || parts[0] != TopicPrefix {
		return Topic{}, reject(ReasonBadTopic, "topic %q is not envmon/{point}/{station}/{air|water|noise|status}", topic)
	}
	t := Topic{Point: parts[1], Station: parts[2]}
	if !station.ValidID(t.Point) {
		return Topic{}, reject(ReasonBadTopic, "point %q in topic %q is not a valid id", t.Point, topic)
	}
	if !station.ValidID(t.Station) {
		return Topic{}, reject(ReasonBadTopic, "station %q in topic %q is not a valid id", t.Station, topic)
	}
	if parts[3] == "status" {
		t.Status = true
		return t, nil
	}
	m, err := reading.ParseMedium(parts[3])
	if err != nil {
		return Topic{}, reject(ReasonBadTopic, "topic %q: %v", topic, err)
	}
	t.Medium = m
	return t, nil
}
