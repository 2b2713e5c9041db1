package spool

import (
	"fmt"
	"io"
	"log/slog"
	"testing"
)

// BenchmarkAppend measures Append of 200-byte records. SetBytes counts the
// records' payload, so MB/s is payload throughput; records/s is reported
// beside it. The spool is big enough never to block. The parallel cases
// append from many goroutines at once, which is where group commit helps.
//
// Results depend on the disk's fsync latency above all; run them on the
// file system the service will use (go test -bench . sets the temporary
// directory from TMPDIR).
func BenchmarkAppend(b *testing.B) {
	record := make([]byte, 200)
	for i := range record {
		record[i] = byte('a' + i%26)
	}
	for _, bc := range []struct {
		sync     SyncPolicy
		batch    int
		parallel bool
	}{
		{SyncAlways, 1, false},
		{SyncAlways, 100, false},
		{SyncAlways, 1, true},
		{SyncInterval, 1, false},
		{SyncInterval, 100, false},
		{SyncInterval, 1, true},
		{SyncNever, 100, false},
	} {
		name := fmt.Sprintf("sync=%s/batch=%d", bc.sync, bc.batch)
		if bc.parallel {
			name += "/parallel"
		}
		b.Run(name, func(b *testing.B) {
			s, err := Open(b.TempDir(), Options{
				Sync:     bc.sync,
				MaxBytes: 1 << 40,
				Logger:   slog.New(slog.NewTextHandler(io.Discard, nil)),
			})
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			batch := make([][]byte, bc.batch)
			for i := range batch {
				batch[i] = record
			}
			b.ReportAllocs()
			b.SetBytes(int64(len(record) * bc.batch))
			if bc.parallel {
				b.SetParallelism(16) // 16 × GOMAXPROCS appenders
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						if err := s.Append(b.Context(), batch...); err != nil {
							b.Error(err)
							return
						}
					}
				})
			} else {
				for b.Loop() {
					if err := s.Append(b.Context(), batch...); err != nil {
						b.Fatal(err)
					}
				}
			}
			b.ReportMetric(float64(b.N*bc.batch)/b.Elapsed().Seconds(), "records/s")
		})
	}
}

// BenchmarkRead measures Read and Commit of 200-byte records, 100 at a time,
// from a spool written beforehand.
func BenchmarkRead(b *testing.B) {
	record := make([]byte, 200)
	s, err := Open(b.TempDir(), Options{
		Sync:     SyncNever,
		MaxBytes: 1 << 40,
		Logger:   slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	batch := make([][]byte, 100)
	for i := range batch {
		batch[i] = record
	}
	for range b.N {
		if err := s.Append(b.Context(), batch...); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	b.SetBytes(int64(len(record) * len(batch)))
	b.ResetTimer()
	for range b.N {
		rs, pos, err := s.Read(b.Context(), len(batch))
		if err != nil {
			b.Fatal(err)
		}
		if len(rs) < len(batch) { // at a segment's end
			more, p, err := s.Read(b.Context(), len(batch)-len(rs))
			if err != nil {
				b.Fatal(err)
			}
			rs, pos = append(rs, more...), p
		}
		if err := s.Commit(pos); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*len(batch))/b.Elapsed().Seconds(), "records/s")
}
