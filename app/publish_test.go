package app

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
)

// stream is a load of QoS 1 readings from several connections, each
// keeping up to inflight messages unacknowledged, as a station with a
// backlog does. A publisher whose connection fails reconnects and sends
// again every message it has no PUBACK for: what MQTT asks of a client,
// and the only way a message can be lost is for a PUBACK to lie.
type stream struct {
	conns, perConn, inflight int
	base                     time.Time
	// broker returns the URL to connect to now; it may change between
	// connections (a restarted envmon on another port).
	broker func() string

	acked     atomic.Int64 // messages with a PUBACK
	sends     atomic.Int64 // PUBLISH packets sent, resends included
	reconnect atomic.Int64
}

// topic and payload of connection c's message i: station st-c, one reading
// a second from base.
func (s *stream) message(c, i int) (string, string) {
	ts := s.base.Add(time.Duration(i) * time.Second).UnixMilli()
	return fmt.Sprintf("envmon/p%d/st-%d/air", c%3, c), fmt.Sprintf(`{"ts":%d,"values":{"pm25":%d.5}}`, ts, i%300)
}

// run publishes everything and returns once every message is acknowledged,
// or ctx ends.
func (s *stream) run(ctx context.Context, t *testing.T) error {
	var wg sync.WaitGroup
	errs := make(chan error, s.conns)
	for c := range s.conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := s.publishConn(ctx, c); err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	return <-errs
}

func (s *stream) publishConn(ctx context.Context, c int) error {
	pending := make([]int, s.perConn)
	for i := range pending {
		pending[i] = i
	}
	for attempt := 0; len(pending) > 0; attempt++ {
		if ctx.Err() != nil {
			return fmt.Errorf("connection %d: %d messages never acknowledged: %w", c, len(pending), ctx.Err())
		}
		if attempt > 0 {
			s.reconnect.Add(1)
			select {
			case <-ctx.Done():
			case <-time.After(100 * time.Millisecond):
			}
		}
		pending = s.publishOnce(ctx, c, pending)
	}
	return nil
}

// publishOnce connects and publishes pending with up to inflight
// unacknowledged, and returns the messages that got no PUBACK.
func (s *stream) publishOnce(ctx context.Context, c int, pending []int) []int {
	opts := paho.NewClientOptions().AddBroker(s.broker()).
		SetClientID(fmt.Sprintf("stream-%d", c)).
		SetCleanSession(true).
		SetAutoReconnect(false).
		SetConnectRetry(false).
		SetConnectTimeout(5 * time.Second).
		SetWriteTimeout(10 * time.Second).
		SetMaxResumePubInFlight(s.inflight)
	cl := paho.NewClient(opts)
	if tok := cl.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		return pending
	}
	defer cl.Disconnect(0)
	var (
		mu     sync.Mutex
		failed []int
		wg     sync.WaitGroup
	)
	sem := make(chan struct{}, s.inflight)
	for n, i := range pending {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			mu.Lock()
			failed = append(failed, pending[n:]...)
			mu.Unlock()
			wg.Wait()
			return failed
		}
		topic, body := s.message(c, i)
		tok := cl.Publish(topic, 1, false, body)
		s.sends.Add(1)
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			// A lost connection fails the token (clean session, no
			// auto-reconnect); the timeout only guards the test.
			if !tok.WaitTimeout(60*time.Second) || tok.Error() != nil {
				mu.Lock()
				failed = append(failed, i)
				mu.Unlock()
				return
			}
			s.acked.Add(1)
		}()
	}
	wg.Wait()
	return failed
}
