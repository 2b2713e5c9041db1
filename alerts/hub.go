package alerts

import "sync"

// Event is a change of an episode, as GET /api/v1/alerts/stream sends it.
type Event struct {
	Type    string   `json:"type"` // pending, firing, resolved, acknowledged
	Episode *Episode `json:"episode"`
}

// hub fans events out to the stream's subscribers. A subscriber that does
// not keep up loses events rather than holding the engine.
type hub struct {
	mu   sync.Mutex
	subs map[chan Event]struct{}
}

func newHub() *hub { return &hub{subs: map[chan Event]struct{}{}} }

func (h *hub) subscribe() (<-chan Event, func()) {
	c := make(chan Event, 64)
	h.mu.Lock()
	h.subs[c] = struct{}{}
	h.mu.Unlock()
	return c, func() {
		h.mu.Lock()
		delete(h.subs, c)
		h.mu.Unlock()
	}
}

func (h *hub) publish(ev Event) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for c := range h.subs {
		select {
		case c <- ev:
		default:
		}
	}
}
