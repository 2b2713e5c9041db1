package ingest

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/envmon/envmon/internal/logx"
)

// TestDeadLettersBounded sends 300 messages with a 60 KB topic of control
// bytes, and payloads of 60 KB, through the rejection path — ParseTopic or
// Decode, the dead-letter ring, and the log line the collector writes —
// and checks that the ring's memory and the log stay small (issue 8: 252 MB
// of log and 300 MB of RSS before).
func TestDeadLettersBounded(t *testing.T) {
	t.Parallel()
	const n = 300
	badTopic := "envmon/" + strings.Repeat("\x00\x01\x1b\x7f", 15<<10) + "/st-1/air"
	longLevel := "envmon/p1/" + strings.Repeat("\"\\", 30<<10) + "/air"
	badKey := `{"ts":1,"values":{"` + strings.Repeat(`\u0000`, 10<<10) + `":1},"units":{"` + strings.Repeat(`\u0001`, 10<<10) + `":"ppb"}}`
	tests := []struct {
		name, topic string
		payload     []byte
	}{
		{"control-byte topic", badTopic, bytes.Repeat([]byte{0xff, 0x00}, 30<<10)},
		{"level of quotes", longLevel, []byte(`{}`)},
		{"control-byte key", "envmon/p1/st-1/air", []byte(badKey)},
		{"many levels", "envmon/" + strings.Repeat("\x00/", 30<<10), nil},
		{"unknown medium", "envmon/p1/st-1/" + strings.Repeat("\x02", 60<<10), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dead := NewDeadLetters(1000)
			var raw, bounded bytes.Buffer
			rawLog := slog.New(slog.NewTextHandler(&raw, nil))                      // as a test's logger
			boundedLog := slog.New(logx.New(slog.NewJSONHandler(&bounded, nil), 0)) // as envmon serve's
			for range n {
				tp, rj := ParseTopic(tt.topic)
				if rj == nil {
					_, rj = Decode(tp, tt.payload, Limits{}, now)
				}
				if rj == nil {
					t.Fatal("message accepted")
				}
				if len(rj.Detail) > 1024 {
					t.Fatalf("rejection detail of %d bytes: %.200q", len(rj.Detail), rj.Detail)
				}
				kept := dead.add(now, tt.topic, tt.payload, rj)
				// The collector logs what the dead letter kept.
				rawLog.Warn("rejected message", "topic", kept.Topic, "reason", rj.Reason, "detail", kept.Detail)
				boundedLog.Warn("rejected message", "topic", tt.topic, "reason", rj.Reason, "detail", rj.Detail)
			}
			list, total := dead.List("", 0)
			if total != n || len(list) != n {
				t.Fatalf("kept %d of %d", len(list), total)
			}
			held := 0
			for _, r := range list {
				if len(r.Topic) > maxDeadTopic+32 || len(r.Detail) > maxDeadDetail+32 || len(r.Payload) > 3*maxDeadPayload {
					t.Fatalf("dead letter of topic %d, detail %d, payload %d bytes", len(r.Topic), len(r.Detail), len(r.Payload))
				}
				held += len(r.Topic) + len(r.Detail) + len(r.Payload)
			}
			// 300 letters of at most ~7 KB each; the messages were 18 MB.
			if held > n*(maxDeadTopic+maxDeadDetail+3*maxDeadPayload+64) {
				t.Errorf("dead letters hold %d bytes", held)
			}
			// A line holds a few attributes of at most ~512 bytes, which JSON or
			// text quoting may double; unbounded, one was 840 KB.
			for name, b := range map[string]*bytes.Buffer{"collector's": &raw, "bounded": &bounded} {
				if perLine := b.Len() / n; perLine > 4096 {
					t.Errorf("%s log: %d bytes for %d lines (%d a line)", name, b.Len(), n, perLine)
				}
			}
		})
	}
}

func TestDeadLettersRing(t *testing.T) {
	t.Parallel()
	dead := NewDeadLetters(3)
	for i := range 5 {
		dead.add(now.Add(time.Duration(i)*time.Second), "envmon/p/s/air", []byte{byte('a' + i)}, &Rejection{Reason: ReasonMalformed, Detail: "x"})
	}
	list, total := dead.List("", 0)
	if total != 5 || len(list) != 3 || list[0].Payload != "e" || list[2].Payload != "c" {
		t.Errorf("List = %+v, %d; want e, d, c of 5", list, total)
	}
	if l, _ := dead.List(ReasonBadTopic, 0); len(l) != 0 {
		t.Errorf("List(bad_topic) = %v", l)
	}
}
