package cases

import "sync"

// Change is a change of a case, as GET /api/v1/cases/stream sends it. It
// holds no personal data.
type Change struct {
	Type   string `json:"type"` // opened, the action's name, escalated, reminder, overdue
	Case   string `json:"case"`
	State  State  `json:"state"`
	Team   string `json:"team"`
	Grid   string `json:"grid"`
	Source string `json:"source"`
}

// hub fans changes out to the stream's subscribers; a slow subscriber
// loses changes rather than holding the service.
type hub struct {
	mu   sync.Mutex
	subs map[chan Change]struct{}
}

func newHub() *hub { return &hub{subs: map[chan Change]struct{}{}} }

func (h *hub) subscribe() (<-chan Change, func()) {
	c := make(chan Change, 64)
	h.mu.Lock()
	h.subs[c] = struct{}{}
	h.mu.Unlock()
	return c, func() {
		h.mu.Lock()
		delete(h.subs, c)
		h.mu.Unlock()
	}
}

func (h *hub) publish(ch Change) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for c := range h.subs {
		select {
		case c <- ch:
		default:
		}
	}
}
