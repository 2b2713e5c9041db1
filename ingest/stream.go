package ingest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/envmon/envmon/ingest/spool"
	"github.com/envmon/envmon/reading"
)

// Accepted is a reading as the stream of accepted readings carries it to
// its sinks: once it is durably spooled, and in spool order.
type Accepted struct {
	reading.Reading // Time is the event time, the station's own timestamp
	// Arrived is when envmon received the message.
	Arrived time.Time
	// Owned says this replica owns the station (docs/ARCHITECTURE.md,
	// "Several replicas"): only the owner's windows and alerts see it.
	// Alone, a replica owns every station.
	Owned bool
}

// Sink consumes the stream of accepted readings. Each sink has its own
// durable cursor in the spool: a slow or failing sink holds only itself,
// and after a restart it is given again every reading since the last batch
// it took. So Consume must be idempotent: consuming a batch twice leaves
// the same state as consuming it once.
//
// Consume returns nil once the batch is taken care of; the cursor then
// moves past it. An error is retried, with backoff, with the same batch.
type Sink interface {
	Name() string
	Consume(ctx context.Context, batch []Accepted) error
}

// SinkFunc adapts a function to Sink.
type SinkFunc struct {
	SinkName    string
	ConsumeFunc func(ctx context.Context, batch []Accepted) error
}

func (s SinkFunc) Name() string { return s.SinkName }
func (s SinkFunc) Consume(ctx context.Context, batch []Accepted) error {
	return s.ConsumeFunc(ctx, batch)
}

// StreamSink is a sink of the stream and how its cursor starts.
type StreamSink struct {
	Sink Sink
	// InMemory says the sink's state lives in memory and is rebuilt at
	// start from the store: its cursor then starts where the store writer
	// is, so that it is given everything the store does not have yet.
	// Otherwise it resumes at its own commit point.
	InMemory bool
}

// liveSink keeps the station registry's live state (latest values, last
// seen) from the stream, so that it moves while the store is down, and
// feeds Config.Live the same batches: state in memory shares one cursor,
// which starts where the store writer is, and one decoding. Observe keeps
// the newest value of each metric, so a replay changes nothing.
func (c *Collector) liveSink() StreamSink {
	var rs []reading.Reading // reused: one goroutine runs a sink, and Observe keeps no slice
	return StreamSink{InMemory: true, Sink: SinkFunc{SinkName: "live", ConsumeFunc: func(_ context.Context, batch []Accepted) error {
		rs = rs[:0]
		for i := range batch {
			rs = append(rs, batch[i].Reading)
		}
		c.cfg.Stations.Observe(rs)
		clear(rs) // lets go of the batch's values until the next
		for _, f := range c.cfg.Live {
			f(batch)
		}
		return nil
	}}}
}

// openSink is a sink with its cursor opened.
type openSink struct {
	sink Sink
	cur  *spool.Cursor
}

// openSinks opens every sink's cursor. If one cannot be opened, it
// releases those it opened and returns the error.
func (c *Collector) openSinks() ([]openSink, error) {
	sinks := append([]StreamSink{c.liveSink()}, c.cfg.Sinks...)
	opened := make([]openSink, 0, len(sinks))
	for _, s := range sinks {
		cur, err := c.cfg.Spool.Cursor(s.Sink.Name(), spool.CursorOptions{FromDefault: s.InMemory})
		if err != nil {
			for _, o := range opened {
				o.cur.Release()
			}
			return nil, fmt.Errorf("ingest: sink %s: %w", s.Sink.Name(), err)
		}
		opened = append(opened, openSink{sink: s.Sink, cur: cur})
	}
	return opened, nil
}

// startSinks feeds each sink from its cursor until ctx ends; the returned
// channel is closed when every sink has stopped.
func (c *Collector) startSinks(ctx context.Context, sinks []openSink) <-chan struct{} {
	done := make(chan struct{})
	var running sync.WaitGroup
	for _, s := range sinks {
		running.Add(1)
		go func() {
			defer running.Done()
			c.runSink(ctx, s.sink, s.cur)
		}()
	}
	go func() { running.Wait(); close(done) }()
	return done
}

// Cursor is a sink's own position in the spool; *spool.Cursor satisfies
// it.
type Cursor interface {
	Read(ctx context.Context, n int) ([][]byte, spool.Position, error)
	Commit(pos spool.Position) error
}

// sinkLinger is how long a sink's batch waits to fill: under a steady
// stream a few large batches cost a sink (and its commits) less than many
// small ones, and it is short beside the store's flush interval.
const sinkLinger = 20 * time.Millisecond

// sinkCommitEvery is how often, at most, a sink's cursor is committed while
// records keep coming: a commit rewrites the cursor's commit file, and
// after a restart a sink is given again at most this much of the stream,
// which it takes idempotently. When no record comes for as long, the sink
// commits what it has taken, and so it does when it stops.
const sinkCommitEvery = 250 * time.Millisecond

// runSink feeds sink from its cursor until ctx ends: read a batch, decode
// it, consume it (retrying with backoff until it succeeds), and commit —
// every sinkCommitEvery (by the collector's clock) while records keep
// coming, and once none has come for sinkCommitEvery. Once ctx ends it
// takes no further batch: the backlog stays spooled for the next start,
// and what was taken is committed. A commit that fails is tried again at
// the next.
func (c *Collector) runSink(ctx context.Context, sink Sink, cur Cursor) {
	log := c.log.With("sink", sink.Name())
	var names names // this loop's own
	var (
		taken      spool.Position // the end of the batches consumed
		dirty      bool           // taken is ahead of the commit point
		lastCommit time.Time
	)
	commit := func() {
		lastCommit = c.cfg.Now()
		if err := cur.Commit(taken); err != nil {
			// Still dirty: tried again at the next commit.
			log.Error("committing the sink's cursor failed; the batch may be given again after a restart", "err", err)
			return
		}
		dirty = false
	}
	defer func() {
		if dirty {
			commit()
		}
	}()
	for ctx.Err() == nil { // a stop does not wait for the backlog
		var recs [][]byte
		var pos spool.Position
		var err error
		if dirty {
			if recs, pos, err = readWithin(ctx, cur, c.cfg.BatchSize, sinkCommitEvery); errors.Is(err, errQuiet) {
				commit()
				continue
			}
			if err == nil {
				recs, pos, err = c.fillBatch(ctx, cur, recs, pos, sinkLinger)
			}
		} else {
			recs, pos, err = c.readBatch(ctx, cur, sinkLinger)
		}
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, spool.ErrClosed) {
				return
			}
			log.Error("spool read failed; retrying", "err", err)
			select {
			case <-ctx.Done():
				return
			case <-time.After(time.Second):
			}
			continue
		}
		batch := make([]Accepted, 0, len(recs))
		for _, b := range recs {
			a, err := decodeRecordWith(b, &names)
			if err != nil {
				log.Error("skipping damaged spool record", "err", err)
				continue
			}
			batch = append(batch, a)
		}
		for backoff := 100 * time.Millisecond; len(batch) > 0; backoff = min(2*backoff, 5*time.Second) {
			err := sink.Consume(ctx, batch)
			if err == nil {
				c.m.sinkRecords.WithLabelValues(sink.Name()).Add(float64(len(batch)))
				break
			}
			c.m.sinkErrors.WithLabelValues(sink.Name()).Inc()
			log.Warn("sink failed; retrying the batch", "readings", len(batch), "retry_in", backoff, "err", err)
			select {
			case <-ctx.Done():
				// Not taken: given again at the next start. The deferred
				// commit covers only the batches before it.
				return
			case <-time.After(backoff):
			}
		}
		taken, dirty = pos, true
		if c.cfg.Now().Sub(lastCommit) >= sinkCommitEvery {
			commit()
		}
	}
}

// errQuiet says no record came.
var errQuiet = errors.New("ingest: no record came")

// readWithin reads up to n records, waiting at most d for the first;
// errQuiet says none came.
func readWithin(ctx context.Context, cur Cursor, n int, d time.Duration) ([][]byte, spool.Position, error) {
	wctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	recs, pos, err := cur.Read(wctx, n)
	if err != nil && ctx.Err() == nil && errors.Is(err, context.DeadlineExceeded) {
		return nil, spool.Position{}, errQuiet
	}
	return recs, pos, err
}
