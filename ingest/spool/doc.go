// Package spool is a durable, bounded, append-only FIFO log of opaque
// records, kept in segment files under one directory. The ingest collector
// spools readings there when the store is down or slow, acknowledges them to
// the broker once Append returns, and replays them in order when the store
// recovers.
//
// # Use
//
// One or more goroutines call [Spool.Append]; one consumer calls
// [Spool.Read], delivers what it got, then calls [Spool.Commit] with the
// [Position] that Read returned. Delivery is at least once: records read but
// not committed before a crash or a Close are read again after the next
// Open, so whatever consumes them must be idempotent. Records are never
// skipped, except where the files themselves are damaged (see Corruption
// below).
//
// # On-disk format
//
// The directory holds segment files, a commit file and a lock file:
//
//	00000000000000000000.seg   records 0 .. 4711
//	00000000000000004712.seg   records 4712 ..
//	commit                     the commit point
//	lock                       flock(2)'d while a Spool has the directory open
//
// A segment is named by the sequence number of its first record, in 20
// decimal digits. It starts with a 24-byte header: the magic "envspool", a
// little-endian uint32 version (1), four zero bytes and the uint64 sequence
// number of its first record. Records follow, each framed as
//
//	+-----------+-----------+----------------+
//	| len  u32  | crc  u32  | payload (len)  |
//	+-----------+-----------+----------------+
//
// in little endian. The low 31 bits of len are the payload's length; the top
// bit is set on the last record of each Append's batch. crc is the CRC-32C
// (Castagnoli) of the four len bytes followed by the payload. A batch never
// spans two segments; a new segment starts once the current one has reached
// Options.SegmentBytes, so a segment may overrun it by one batch.
//
// The commit file is 36 bytes: the magic "envspcmt", the commit point as
// three little-endian uint64s (segment, byte offset in it, sequence number of
// the next record) and the CRC-32C of those 32 bytes. It is replaced
// atomically: write a temporary file and rename it. A commit that lets
// segments be deleted is made durable first (fsync the file before the
// rename and the directory after it), so a segment is never gone while the
// commit point still lies before it. Other commits skip the two fsyncs: a
// crash may then lose the latest commit points, and records read since the
// last durable one are read again, which at-least-once delivery allows.
//
// # Recovery
//
// Open deletes segments wholly before the commit point and scans the last
// segment. The scan stops at the first frame that is incomplete or fails its
// CRC, and then backs up to the end of the last complete batch: a batch is
// durable as a whole or not at all. What lies beyond is a torn tail from a
// crash during a write; Open truncates it and logs how many bytes it
// dropped. Those bytes belonged to Appends that had not returned (under
// SyncAlways) and so were never acknowledged. Reading then starts at the
// first record after the commit point.
//
// # Durability
//
// Append returns once its batch is durable under the sync policy:
//
//   - SyncAlways (the default): the batch is written and fsync'd before
//     Append returns; concurrent Appends share one write and one fsync (group
//     commit). A returned Append survives both a process crash and a power
//     failure (given a disk that honours fsync).
//   - SyncInterval: Append returns once the batch has been written to the
//     kernel with write(2); the spool fsyncs every Options.Interval, when a
//     segment is sealed and on Close. A returned Append survives a process
//     crash (SIGKILL included), because the data is already in the kernel's
//     page cache, but a power failure or kernel crash loses the Appends of
//     up to the last Interval (plus the fsync's own duration). Open recovers
//     what is left as after a crash; if the commit point lies beyond it, the
//     lost records were delivered and Read resumes after what is left.
//   - SyncNever: like SyncInterval without the fsyncs; for tests and
//     benchmarks only.
//
// Records are visible to Read only once their Append would return.
//
// # Corruption
//
// A frame in the middle of the log that fails its CRC, or a segment with a
// bad header, cannot be repaired, and stopping the consumer there would stop
// delivery of everything behind it, fill the spool and stall ingest: a far
// larger loss. So Read skips it: it logs an error naming the segment, the
// offset and the bytes lost, counts them in
// envmon_spool_corrupt_bytes_total, and carries on at the next segment (a
// frame's length cannot be trusted once its CRC fails, so the rest of that
// segment is lost with it). With SyncAlways and an honest disk this only
// happens when the disk or someone else damages the files. Damage inside
// the last segment cannot be told from a torn tail at Open, so it is
// truncated there, with the same log line as a torn tail. A last segment
// whose header is damaged makes Open fail, naming the file: appending after
// it would mean guessing how many records it held.
//
// # Space
//
// Options.MaxBytes bounds the framed records held on disk, delivered or
// not, until their segment is deleted (the 24-byte segment headers are not
// counted). An Append that would exceed it blocks until Commit frees space
// or its context ends; a batch larger than MaxBytes fails with ErrTooLarge.
// Space comes back a segment at a time, when everything in a sealed segment
// is committed, or when everything in the spool is committed and an Append
// is waiting.
package spool
