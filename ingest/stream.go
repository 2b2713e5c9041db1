package ingest

import (
	"context"
	"time"

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
