package ingest

import (
	"sync"
	"time"
	"unicode/utf8"

	"github.com/envmon/envmon/internal/logx"
)

// Rejected is a message the collector turned away, kept for inspection.
type Rejected struct {
	Time time.Time `json:"time"`
	// Topic and Detail are bounded (maxDeadTopic, maxDeadDetail bytes) and
	// have control bytes shown compactly, as logx.Bound renders them; a cut
	// one ends in "…(N bytes)".
	Topic   string `json:"topic"`
	Reason  string `json:"reason"`
	Detail  string `json:"detail"`
	Payload string `json:"payload"`
	// Truncated says the payload shown is cut to its first bytes.
	Truncated bool `json:"truncated,omitempty"`
	// Binary says Payload is not UTF-8 and is shown with invalid bytes
	// replaced.
	Binary bool `json:"binary,omitempty"`
}

// DeadLetters keeps the most recent rejected messages in a ring of fixed
// size, so a flood of bad input cannot grow memory. Counts by reason are in
// the envmon_ingest_rejected_total metric, which never forgets.
type DeadLetters struct {
	mu    sync.Mutex
	ring  []Rejected
	next  int
	full  bool
	total int64
}

// How much of a rejected message is kept, in bytes: a dead letter holds at
// most about 3 × maxDeadPayload (invalid bytes become U+FFFD) plus
// maxDeadTopic and maxDeadDetail, whatever the message.
const (
	maxDeadPayload = 2 << 10
	maxDeadTopic   = 256
	maxDeadDetail  = 512
)

// NewDeadLetters returns a ring that keeps the last n rejected messages.
func NewDeadLetters(n int) *DeadLetters {
	if n <= 0 {
		n = DefaultDeadLetters
	}
	return &DeadLetters{ring: make([]Rejected, n)}
}

// add keeps a rejected message, bounded, and returns what it kept, for the
// log line.
func (d *DeadLetters) add(at time.Time, topic string, payload []byte, rj *Rejection) Rejected {
	r := Rejected{Time: at, Topic: logx.Bound(topic, maxDeadTopic), Reason: rj.Reason, Detail: logx.Bound(rj.Detail, maxDeadDetail)}
	if len(payload) > maxDeadPayload {
		payload, r.Truncated = payload[:maxDeadPayload], true
	}
	if !utf8.Valid(payload) {
		r.Binary = true
	}
	r.Payload = string([]rune(string(payload))) // replaces invalid bytes with U+FFFD
	d.mu.Lock()
	defer d.mu.Unlock()
	d.ring[d.next] = r
	d.next = (d.next + 1) % len(d.ring)
	d.full = d.full || d.next == 0
	d.total++
	return r
}

// List returns the kept messages, newest first, optionally only those of
// one reason, at most limit of them (0: all kept), and how many were
// rejected in all since start.
func (d *DeadLetters) List(reason string, limit int) ([]Rejected, int64) {
	d.mu.Lock()
	defer d.mu.Unlock()
	n := d.next
	if d.full {
		n = len(d.ring)
	}
	out := make([]Rejected, 0, n)
	for i := 1; i <= n; i++ {
		r := d.ring[(d.next-i+len(d.ring))%len(d.ring)]
		if reason != "" && r.Reason != reason {
			continue
		}
		out = append(out, r)
		if limit > 0 && len(out) == limit {
			break
		}
	}
	return out, d.total
}
