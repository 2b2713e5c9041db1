package sse

import (
	"fmt"
	"net/http"
	"sync"
	"time"
)

// Hub fans events out to its subscribers. A subscriber that does not keep
// up loses events rather than holding the publisher.
type Hub[T any] struct {
	mu   sync.Mutex
	subs map[chan T]struct{}
}

// bufferSize is how many events a subscriber may fall behind by.
const bufferSize = 64

// Subscribe returns a channel of the events published from now on, and a
// function that ends the subscription.
func (h *Hub[T]) Subscribe() (<-chan T, func()) {
	c := make(chan T, bufferSize)
	h.mu.Lock()
	if h.subs == nil {
		h.subs = map[chan T]struct{}{}
	}
	h.subs[c] = struct{}{}
	h.mu.Unlock()
	return c, func() {
		h.mu.Lock()
		delete(h.subs, c)
		h.mu.Unlock()
	}
}

// Publish gives ev to every subscriber that has room for it.
func (h *Hub[T]) Publish(ev T) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for c := range h.subs {
		select {
		case c <- ev:
		default:
		}
	}
}

// Serve streams h's events to the client as server-sent events until the
// request ends: it writes comment as the stream's first line, a keep-alive
// comment every keepAlive so that proxies do not close the connection, and
// each event through write, which may leave one out by writing nothing.
func Serve[T any](w http.ResponseWriter, r *http.Request, h *Hub[T], comment string, keepAlive time.Duration, write func(w http.ResponseWriter, ev T)) {
	fl, ok := w.(http.Flusher)
	if !ok {
		http.Error(w, "streaming unsupported", http.StatusInternalServerError)
		return
	}
	events, cancel := h.Subscribe()
	defer cancel()
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusOK)
	fmt.Fprintf(w, ": %s\n\n", comment)
	fl.Flush()
	keep := time.NewTicker(keepAlive)
	defer keep.Stop()
	for {
		select {
		case <-r.Context().Done():
			return
		case <-keep.C:
			fmt.Fprint(w, ": keep-alive\n\n")
		case ev := <-events:
			write(w, ev)
		}
		fl.Flush()
	}
}
