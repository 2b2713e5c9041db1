package public

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/envmon/envmon/quality"
)

// streamBuffer is how many events a stream client may fall behind before
// it is dropped (it reconnects, with EventSource, and gets a fresh start).
const streamBuffer = 4096

// heartbeat is how often an idle stream sends a comment, so that proxies
// keep it open.
const heartbeat = 25 * time.Second

type streamSub struct {
	standard quality.Standard
	ch       chan []byte
	dropped  chan struct{}
}

// publish sends the stations whose entry differs between old and snap to
// the stream subscribers of snap's standard.
func (s *Service) publish(old, snap *snapshot) {
	s.streamMu.Lock()
	defer s.streamMu.Unlock()
	if len(s.streams) == 0 {
		return
	}
	var events [][]byte
	for i, raw := range snap.raw {
		id := snap.entries[i].Station.ID
		if old != nil {
			if j, ok := old.byID[id]; ok && bytes.Equal(old.raw[j], raw) {
				continue
			}
		}
		var b bytes.Buffer
		fmt.Fprintf(&b, "id: %d\nevent: aqi\ndata: ", snap.version)
		b.Write(raw)
		b.WriteString("\n\n")
		events = append(events, b.Bytes())
	}
	for sub := range s.streams {
		if sub.standard != snap.standard {
			continue
		}
		for _, ev := range events {
			select {
			case sub.ch <- ev:
			default:
				delete(s.streams, sub)
				close(sub.dropped)
			}
			if _, ok := s.streams[sub]; !ok {
				break
			}
		}
	}
}

// stream serves /api/v1/stream: server-sent events. It sends a "hello"
// event with the snapshot's version, then an "aqi" event, whose data is a
// station's entry of /api/v1/aqi, for every station whose report changes.
func (s *Service) stream(w http.ResponseWriter, r *http.Request) {
	std, ok := s.standardParam(w, r, s.cfg.Now())
	if !ok {
		return
	}
	rc := http.NewResponseController(w)
	sub := &streamSub{standard: std, ch: make(chan []byte, streamBuffer), dropped: make(chan struct{})}
	s.streamMu.Lock()
	s.streams[sub] = struct{}{}
	s.streamMu.Unlock()
	defer func() {
		s.streamMu.Lock()
		if _, ok := s.streams[sub]; ok {
			delete(s.streams, sub)
		}
		s.streamMu.Unlock()
	}()
	snap := s.current(std)
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	hello, _ := json.Marshal(map[string]any{"standard": std.String(), "version": snap.version,
		"generated_at": snap.generated, "next_update_at": snap.next, "count": len(snap.entries)})
	fmt.Fprintf(w, "retry: 5000\nid: %s\nevent: hello\ndata: %s\n\n", strconv.FormatUint(snap.version, 10), hello)
	_ = rc.Flush()
	tick := time.NewTicker(heartbeat)
	defer tick.Stop()
	for {
		select {
		case <-r.Context().Done():
			return
		case <-sub.dropped:
			return
		case ev := <-sub.ch:
			if _, err := w.Write(ev); err != nil {
				return
			}
			_ = rc.Flush()
		case <-tick.C:
			if _, err := w.Write([]byte(": ping\n\n")); err != nil {
				return
			}
			_ = rc.Flush()
		}
	}
}
