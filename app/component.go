package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"
)

// Component is one part of the service — the broker, ingest, the store
// writer, the windows, the HTTP server, and later alerts, cases and
// notifiers. Run works until ctx ends and then returns, having finished
// what it took on; an error ends the whole service.
type Component interface {
	Name() string
	Run(ctx context.Context) error
}

// Readier is a component that can say whether it is ready to serve;
// /readyz asks every one.
type Readier interface {
	Ready(ctx context.Context) error
}

// ComponentFunc adapts a function to Component.
type ComponentFunc struct {
	ComponentName string
	RunFunc       func(ctx context.Context) error
}

func (c ComponentFunc) Name() string                  { return c.ComponentName }
func (c ComponentFunc) Run(ctx context.Context) error { return c.RunFunc(ctx) }

// stopTimeout is how long a component may take to stop before the group
// stops waiting for it and logs so.
const stopTimeout = 30 * time.Second

// runGroup runs the components until ctx ends or one of them fails, then
// stops them one at a time in the reverse of their order, each after the
// ones that came after it have returned: a component is started after, and
// stopped before, everything it depends on. It returns the first failure.
func runGroup(ctx context.Context, log *slog.Logger, comps []Component) error {
	failed := make(chan error, len(comps))
	type running struct {
		c      Component
		cancel context.CancelFunc
		done   chan struct{}
	}
	rs := make([]running, 0, len(comps))
	for _, c := range comps {
		cctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
		r := running{c: c, cancel: cancel, done: make(chan struct{})}
		go func() {
			defer close(r.done)
			if err := c.Run(cctx); err != nil && !errors.Is(err, context.Canceled) {
				failed <- fmt.Errorf("%s: %w", c.Name(), err)
			}
		}()
		rs = append(rs, r)
	}
	var first error
	select {
	case <-ctx.Done():
	case first = <-failed:
		log.Error("component failed; stopping", "err", first)
	}
	for i := len(rs) - 1; i >= 0; i-- {
		rs[i].cancel()
		select {
		case <-rs[i].done:
		case <-time.After(stopTimeout):
			log.Error("component did not stop in time; going on", "component", rs[i].c.Name(), "waited", stopTimeout)
		}
	}
	return first
}

// httpComponent serves HTTP until its context ends, then gives requests in
// progress a short grace and closes the connections that remain, whatever
// their clients do.
type httpComponent struct {
	srv   *http.Server
	serve func() error
	log   *slog.Logger
	grace time.Duration
}

func (h httpComponent) Name() string { return "http" }

func (h httpComponent) Run(ctx context.Context) error {
	errc := make(chan error, 1)
	go func() { errc <- h.serve() }()
	select {
	case err := <-errc:
		if !errors.Is(err, http.ErrServerClosed) {
			return err
		}
		return nil
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), h.grace)
	defer cancel()
	if err := h.srv.Shutdown(sctx); err != nil {
		h.log.Warn("http shutdown: closing the connections that remain", "err", err)
		h.srv.Close()
	}
	<-errc
	return nil
}
