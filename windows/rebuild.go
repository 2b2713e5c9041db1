package windows

import (
	"context"
	"fmt"
	"time"

	"github.com/envmon/envmon/reading"
)

// Scanner is the bulk scan of a readings store that Rebuild consumes: it
// calls fn with every reading whose time is in [from, to), in any order,
// and stops with fn's error. A reading may hold one value or several.
type Scanner interface {
	Scan(ctx context.Context, from, to time.Time, fn func(reading.Reading) error) error
}

// ScanFunc adapts a function to Scanner.
type ScanFunc func(ctx context.Context, from, to time.Time, fn func(reading.Reading) error) error

// Scan calls f.
func (f ScanFunc) Scan(ctx context.Context, from, to time.Time, fn func(reading.Reading) error) error {
	return f(ctx, from, to, fn)
}

// Rebuild adds every reading that s scans over the retention, with each
// station's zone from Config.Location, as Add would, without notifying
// subscribers. It may run while Add is live: both are idempotent. It stops
// when ctx is done.
func (w *Windows) Rebuild(ctx context.Context, s Scanner) error {
	now := w.cfg.Now()
	from, to := now.Add(-w.cfg.Retention), now.Add(w.cfg.MaxFuture+time.Nanosecond)
	n := 0
	err := s.Scan(ctx, from, to, func(r reading.Reading) error {
		if n++; n%4096 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		w.add(r, nil, false, nil)
		return nil
	})
	if err != nil {
		return fmt.Errorf("windows: rebuild: %w", err)
	}
	w.cfg.Logger.Info("windows: rebuilt from store", "readings", n, "from", from, "to", to)
	return nil
}
