package store

import (
	"context"
	"time"

	"github.com/envmon/envmon/reading"
)

// Scanner is the bulk scan of a readings store, with which the hourly
// windows are rebuilt at start (windows.Scanner has the same method, so a
// Scanner is one). The sqlite, influx and mem stores implement it;
// store/storetest checks them.
type Scanner interface {
	// Scan calls fn with every stored reading of every station whose time
	// is in [from, to), a zero from or to leaving that end open. It stops
	// at fn's first error and returns that error as it is, or ctx's error
	// once ctx is done.
	//
	// Each reading holds the values, with their quality-control flags,
	// that its station has at that time under one point and medium, in
	// metric order; readings without values are never passed. Readings
	// come one station at a time, never interleaved with another's, and
	// each station's oldest first; stations come in no set order.
	//
	// fn is called from one goroutine at a time; it may keep the reading
	// and call the store's other methods. Scan streams: it holds the
	// readings of one station, or of a few, in memory, never the whole
	// range. Each implementation documents its cost.
	Scan(ctx context.Context, from, to time.Time, fn func(reading.Reading) error) error
}

// ScanFunc adapts a function to Scanner.
type ScanFunc func(ctx context.Context, from, to time.Time, fn func(reading.Reading) error) error

// Scan calls f.
func (f ScanFunc) Scan(ctx context.Context, from, to time.Time, fn func(reading.Reading) error) error {
	return f(ctx, from, to, fn)
}
