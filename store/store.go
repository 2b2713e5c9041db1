package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/envmon/envmon/reading"
)

// Store keeps readings and answers queries over them. Implementations are
// safe for concurrent use; store/storetest checks them against this
// contract.
//
// Writes are idempotent: writing a value with the same station, metric and
// time again replaces it (and its quality-control flags) rather than adding
// a sample, so a replayed batch is never doubled. A station is expected to
// keep its point and medium; InfluxDB keys its series by them too.
type Store interface {
	// Write stores the readings, with their values' quality-control flags,
	// durably before it returns nil: a caller may then acknowledge them.
	// It rejects the whole batch, storing none of it, if a reading has no
	// station or medium, a time that Unix nanoseconds cannot hold, or a
	// value that is not finite. Any other error may leave part of rs
	// stored; writing rs again is safe. Readings without values are
	// skipped.
	Write(ctx context.Context, rs []reading.Reading) error
	// Query returns one metric of one station between From (inclusive) and
	// To (exclusive), oldest first; a zero From or To leaves that end open.
	// When more than q.Limit samples match, it returns the newest q.Limit,
	// still oldest first, since recent history is what is asked for. Errors
	// for invalid queries wrap ErrBadQuery.
	Query(ctx context.Context, q Query) ([]reading.Sample, error)
	// Latest returns the most recent value of every metric of every station,
	// ordered by station and metric. The API rebuilds its in-memory view
	// from it at start. A store may bound how far back it looks: influx
	// looks back Config.LatestWindow (30 days by default).
	Latest(ctx context.Context) ([]reading.Latest, error)
	// Ping reports whether the store is reachable.
	Ping(ctx context.Context) error
	// Close releases the store's resources.
	Close() error
}

// Query selects the samples of one metric of one station.
type Query struct {
	Station string
	Metric  string
	From    time.Time // inclusive; zero means no lower bound
	To      time.Time // exclusive; zero means no upper bound
	// Limit caps the number of samples returned, keeping the newest; zero
	// means DefaultLimit.
	Limit int
}

// DefaultLimit and MaxLimit bound the samples a Query returns.
const (
	DefaultLimit = 10_000
	MaxLimit     = 100_000
)

// ErrBadQuery is wrapped by errors for queries a store cannot answer as asked.
var ErrBadQuery = errors.New("bad query")

// Validate checks q and fills in its default limit.
func (q *Query) Validate() error {
	switch {
	case q.Station == "":
		return fmt.Errorf("%w: station is required", ErrBadQuery)
	case q.Metric == "":
		return fmt.Errorf("%w: metric is required", ErrBadQuery)
	case !q.To.IsZero() && !q.From.IsZero() && !q.From.Before(q.To):
		return fmt.Errorf("%w: from must be before to", ErrBadQuery)
	case q.Limit < 0 || q.Limit > MaxLimit:
		return fmt.Errorf("%w: limit must be between 1 and 100000", ErrBadQuery)
	}
	if q.Limit == 0 {
		q.Limit = DefaultLimit
	}
	return nil
}
