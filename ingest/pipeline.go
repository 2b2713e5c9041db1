package ingest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/envmon/envmon/ingest/spool"
	"github.com/envmon/envmon/reading"
	"github.com/envmon/envmon/station"
)

// acceptLoop takes decoded messages off the queue in groups, appends their
// readings to the spool in one durable append, and then acknowledges the
// group's messages in the order they arrived. Rejected and status messages
// carry no readings and are acknowledged in their turn.
func (c *Collector) acceptLoop(ctx context.Context) {
	group := make([]item, 0, c.cfg.BatchSize)
	records := make([][]byte, 0, c.cfg.BatchSize)
	var buf []byte
	linger := time.NewTimer(time.Hour)
	linger.Stop()
	for {
		group, records, buf = group[:0], records[:0], buf[:0]
		select {
		case it := <-c.queue:
			group = append(group, it)
		case <-c.stopping:
			c.acceptRest(group, records, buf)
			return
		}
		// Gather more for up to AckLinger, and take whatever else is
		// already waiting, up to a batch: one append and one fsync cover
		// the group.
		if c.cfg.AckLinger > 0 {
			linger.Reset(c.cfg.AckLinger)
		}
	more:
		for len(group) < c.cfg.BatchSize {
			select {
			case it := <-c.queue:
				group = append(group, it)
				continue
			default:
			}
			if c.cfg.AckLinger <= 0 {
				break
			}
			select {
			case it := <-c.queue:
				group = append(group, it)
			case <-linger.C:
				break more
			case <-c.stopping:
				break more
			}
		}
		linger.Stop()
		if !c.accept(ctx, group, records, buf) {
			return
		}
	}
}

// acceptRest spools and acknowledges what was queued when stopping began.
func (c *Collector) acceptRest(group []item, records [][]byte, buf []byte) {
	for {
		select {
		case it := <-c.queue:
			group = append(group, it)
			continue
		default:
		}
		break
	}
	if len(group) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c.accept(ctx, group, records, buf)
}

// accept spools one group and acknowledges it; false means the spool
// refused it (closed, or ctx ended while it was full), in which case nothing
// was acknowledged and the broker will deliver the messages again.
func (c *Collector) accept(ctx context.Context, group []item, records [][]byte, buf []byte) bool {
	for _, it := range group {
		for i := range it.readings {
			a := Accepted{Reading: it.readings[i], Arrived: it.arrived, Owned: c.owns(it.readings[i].Station)}
			start := len(buf)
			buf = appendRecord(buf, &a)
			records = append(records, buf[start:len(buf):len(buf)])
		}
	}
	for backoff := 100 * time.Millisecond; len(records) > 0; backoff = min(2*backoff, 5*time.Second) {
		err := c.cfg.Spool.Append(ctx, records...)
		if err == nil {
			break
		}
		if ctx.Err() != nil || errors.Is(err, spool.ErrClosed) {
			c.log.Error("spool append failed; messages stay unacknowledged for redelivery", "messages", len(group), "err", err)
			c.m.queued.Sub(float64(len(group)))
			return false
		}
		// A disk error: keep the group (and, behind it, the broker's
		// messages) waiting rather than lose or skip anything.
		c.log.Error("spool append failed; retrying", "messages", len(group), "retry_in", backoff, "err", err)
		select {
		case <-ctx.Done():
		case <-time.After(backoff):
		}
	}
	if !c.saveStatuses(ctx, group) || !c.forward(ctx, group) {
		c.m.queued.Sub(float64(len(group)))
		return false
	}
	var accepted [len(reading.Media)]int
	for _, it := range group {
		if it.forward == nil && len(it.readings) > 0 {
			accepted[mediumIndex(it.readings[0].Medium)]++
		}
		if r, ok := it.msg.(rejecter); ok && it.code != 0 {
			r.Reject(it.code)
		} else {
			it.msg.Ack()
		}
	}
	for i, n := range accepted {
		if n > 0 {
			c.m.messages.WithLabelValues(string(reading.Media[i]), "accepted").Add(float64(n))
		}
	}
	c.m.queued.Sub(float64(len(group)))
	return true
}

// owns reports whether this replica owns station: alone, it owns all.
func (c *Collector) owns(station string) bool {
	return c.cluster == nil || c.cluster.owner(station) == c.cluster.self
}

// saveStatuses saves the group's status changes before they are
// acknowledged, retrying a failed save until stopping.
func (c *Collector) saveStatuses(ctx context.Context, group []item) bool {
	if c.cfg.Statuses == nil {
		return true
	}
	var recs []station.StatusRecord
	for _, it := range group {
		if it.status != nil {
			recs = append(recs, *it.status)
		}
	}
	for backoff := 100 * time.Millisecond; len(recs) > 0; backoff = min(2*backoff, 5*time.Second) {
		err := c.cfg.Statuses.Append(recs)
		if err == nil {
			return true
		}
		c.log.Error("saving station statuses failed; retrying", "statuses", len(recs), "retry_in", backoff, "err", err)
		select {
		case <-c.stopping:
			return false
		case <-ctx.Done():
			return false
		case <-time.After(backoff):
		}
	}
	return true
}

// forward publishes the group's messages for other replicas' stations to
// their owners and waits until the broker has them all. A failed forward
// is retried with backoff, the group's acknowledgements waiting behind it;
// only stopping gives up, leaving the group unacknowledged for the broker
// to deliver again. A retry may forward a message twice: the owner's
// writes are idempotent.
func (c *Collector) forward(ctx context.Context, group []item) bool {
	var pending []*forwarded
	for _, it := range group {
		if it.forward != nil {
			pending = append(pending, it.forward)
		}
	}
	n := len(pending)
	for backoff := 100 * time.Millisecond; len(pending) > 0; backoff = min(2*backoff, 5*time.Second) {
		toks := make([]paho.Token, len(pending))
		for i, f := range pending {
			toks[i] = c.client.Publish(f.topic, 1, false, f.payload)
		}
		var failed []*forwarded
		var errs []error
		for i, tok := range toks {
			if err := waitToken(ctx, tok); err != nil {
				failed = append(failed, pending[i])
				errs = append(errs, err)
			}
		}
		if len(failed) == 0 {
			break
		}
		c.m.forwardErrors.Add(float64(len(failed)))
		c.log.Error("forwarding to the owning replica failed; retrying", "messages", len(failed), "retry_in", backoff, "err", errors.Join(errs...))
		select {
		case <-c.stopping:
			c.log.Warn("stopping: messages not forwarded stay unacknowledged for redelivery", "messages", len(failed))
			return false
		case <-ctx.Done():
			return false
		case <-time.After(backoff):
		}
		pending = failed
	}
	if n > 0 {
		c.m.forwarded.Add(float64(n))
	}
	return true
}

// waitToken waits for a broker's answer to tok, at most tokenTimeout.
func waitToken(ctx context.Context, tok paho.Token) error {
	t := time.NewTimer(tokenTimeout)
	defer t.Stop()
	select {
	case <-tok.Done():
		return tok.Error()
	case <-t.C:
		return fmt.Errorf("no answer from the broker within %s", tokenTimeout)
	case <-ctx.Done():
		return ctx.Err()
	}
}

// writeLoop moves readings from the spool to the store, in order, retrying
// failed writes with backoff. Up to Writers batches are written at once
// (InfluxDB uses every core for them), but a batch is committed — and may be
// deleted from the spool — only after it and every batch before it are in
// the store.
func (c *Collector) writeLoop(ctx context.Context) {
	type job struct {
		rs   []reading.Reading
		pos  spool.Position
		done chan error
	}
	jobs := make(chan *job)
	inOrder := make(chan *job, c.cfg.Writers)
	var workers sync.WaitGroup
	for range c.cfg.Writers {
		workers.Add(1)
		go func() {
			defer workers.Done()
			for j := range jobs {
				j.done <- c.write(ctx, j.rs)
			}
		}()
	}
	committed := make(chan struct{})
	go func() {
		defer close(committed)
		for j := range inOrder {
			if err := <-j.done; err != nil {
				// ctx ended: this batch and those after it stay spooled,
				// uncommitted, and are written again on the next start.
				for range inOrder {
				}
				return
			}
			c.stored(j.rs)
			c.publishStored(j.rs)
			if err := c.cfg.Spool.Commit(j.pos); err != nil {
				c.log.Error("spool commit failed; the batch may be written again after a restart (idempotent)", "err", err)
			}
		}
	}()
	defer func() {
		close(jobs)
		close(inOrder)
		workers.Wait()
		<-committed
	}()
	var names names // the loop's own: only it decodes with it
	for {
		recs, pos, err := c.readBatch(ctx, c.cfg.Spool, c.cfg.FlushInterval)
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, spool.ErrClosed) {
				return
			}
			c.log.Error("spool read failed; retrying", "err", err)
			select {
			case <-ctx.Done():
				return
			case <-time.After(time.Second):
			}
			continue
		}
		rs := make([]reading.Reading, 0, len(recs))
		for _, b := range recs {
			a, err := decodeRecordWith(b, &names)
			if err != nil {
				// Written by this program after validation: only disk damage
				// gets here. Count it rather than block the spool forever.
				c.m.rejected.WithLabelValues(ReasonCorruptSpool).Inc()
				c.log.Error("skipping damaged spool record", "err", err)
				continue
			}
			rs = append(rs, a.Reading)
		}
		j := &job{rs: rs, pos: pos, done: make(chan error, 1)}
		select {
		case inOrder <- j: // bounds the batches in flight to Writers
		case <-ctx.Done():
			return
		}
		select {
		case jobs <- j:
		case <-ctx.Done():
			j.done <- ctx.Err()
			return
		}
	}
}

// readBatch reads the next batch from the spool: it waits for a first
// record, then up to FlushInterval more for the batch to fill. Under a
// steady stream that makes a few large store writes instead of many small
// ones; a store pays for each write as well as for each point.
func (c *Collector) readBatch(ctx context.Context, from Cursor, linger time.Duration) ([][]byte, spool.Position, error) {
	recs, pos, err := from.Read(ctx, c.cfg.BatchSize)
	if err != nil {
		return recs, pos, err
	}
	return c.fillBatch(ctx, from, recs, pos, linger)
}

// fillBatch adds to a batch read from the spool for up to linger, until it
// holds BatchSize records.
func (c *Collector) fillBatch(ctx context.Context, from Cursor, recs [][]byte, pos spool.Position, linger time.Duration) ([][]byte, spool.Position, error) {
	if len(recs) >= c.cfg.BatchSize || linger <= 0 {
		return recs, pos, nil
	}
	lctx, cancel := context.WithTimeout(ctx, linger)
	defer cancel()
	for len(recs) < c.cfg.BatchSize {
		more, p, err := from.Read(lctx, c.cfg.BatchSize-len(recs))
		if err != nil {
			if ctx.Err() != nil {
				// Stopping: these stay uncommitted and are read again
				// at the next start.
				return nil, spool.Position{}, ctx.Err()
			}
			break // the interval is over (or the spool closed: the next Read says so)
		}
		recs, pos = append(recs, more...), p
	}
	return recs, pos, nil
}

// stored records a batch the store took. (The registry's latest values
// come from the stream, its own sink: they move even while the store is
// down.)
func (c *Collector) stored(rs []reading.Reading) {
	now := c.cfg.Now()
	var readings, ok, flagged [len(reading.Media)]int
	var flags map[string]int
	for _, r := range rs {
		m := mediumIndex(r.Medium)
		readings[m]++
		for _, v := range r.Values {
			if v.QC == 0 {
				ok[m]++
				continue
			}
			flagged[m]++
			if flags == nil {
				flags = map[string]int{}
			}
			for _, name := range v.QC.Names() {
				flags[name]++
			}
		}
		c.m.latency.Observe(now.Sub(r.Time).Seconds())
	}
	for i, medium := range reading.Media {
		if readings[i] > 0 {
			c.m.readings.WithLabelValues(string(medium)).Add(float64(readings[i]))
			c.m.values.WithLabelValues(string(medium), "ok").Add(float64(ok[i]))
			c.m.values.WithLabelValues(string(medium), "flagged").Add(float64(flagged[i]))
		}
	}
	for name, n := range flags {
		c.m.flagged.WithLabelValues(name).Add(float64(n))
	}
}

// mediumIndex is m's index in reading.Media; ingest only stores the three.
func mediumIndex(m reading.Medium) int {
	switch m {
	case reading.Water:
		return 1
	case reading.Noise:
		return 2
	}
	return 0
}

// drainSpool waits up to limit for the writer to empty the spool.
func (c *Collector) drainSpool(ctx context.Context, limit time.Duration) {
	deadline := time.Now().Add(limit)
	for c.cfg.Spool.Len() > 0 && time.Now().Before(deadline) && ctx.Err() == nil {
		time.Sleep(10 * time.Millisecond)
	}
	if n := c.cfg.Spool.Len(); n > 0 {
		c.log.Info("readings left in the spool for the next start", "records", n)
	}
}

func (c *Collector) write(ctx context.Context, rs []reading.Reading) error {
	if len(rs) == 0 {
		return nil
	}
	backoff := 100 * time.Millisecond
	for attempt := 1; ; attempt++ {
		start := time.Now()
		err := c.cfg.Store.Write(ctx, rs)
		if err == nil {
			c.m.writeDuration.Observe(time.Since(start).Seconds())
			c.m.batchSize.Observe(float64(len(rs)))
			return nil
		}
		c.m.writeErrors.Inc()
		if attempt == 1 || attempt%10 == 0 {
			c.log.Warn("store write failed; readings stay spooled and are retried", "readings", len(rs), "attempt", attempt, "retry_in", backoff, "err", err)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("write %d readings: %w", len(rs), errors.Join(err, context.Cause(ctx)))
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 5*time.Second)
	}
}
