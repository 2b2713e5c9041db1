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
// little-endian uint32 version (2), four zero bytes and the uint64 sequence
// number of its first record. Records follow, each framed as
//
//	+--------------+-----------+-----------+-----------+----------------+
//	| marker [4]   | len  u32  | idx  u32  | crc  u32  | payload (len)  |
//	+--------------+-----------+-----------+-----------+----------------+
//
// in little endian. The marker is the bytes f5 5c 7e a1. The low 31 bits of
// len are the payload's length; the top bit is set on the last record of
// each Append's batch. idx is the record's index in the segment (its
// sequence number less the segment's). crc is the CRC-32C (Castagnoli) of
// the segment's first sequence number as a uint64, then the marker, len and
// idx, then the payload. A batch never spans two segments; a new segment
// starts once the current one has reached Options.SegmentBytes, so a
// segment may overrun it by one batch.
//
// Version 1 segments, whose frames were only len and crc (of len and the
// payload), are still read, and damage in them is handled as it was (see
// Corruption). Open never appends to one: the next Append starts a new
// segment.
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
// segment. The scan skips damaged frames that intact frames follow, as Read
// does (see Corruption), and stops where no intact frame follows; it then
// backs up to the end of the last complete batch: a batch is durable as a
// whole or not at all. What lies beyond is a torn tail from a crash during
// a write; Open truncates it, counts it in envmon_spool_torn_bytes_total
// and logs how many bytes it dropped. Those bytes belonged to Appends that
// had not returned (under SyncAlways) and so were never acknowledged.
// Reading then starts at the first record after the commit point.
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
// A frame that fails its marker, length, CRC or index check cannot be
// repaired. Stopping the consumer there would stop delivery of everything
// behind it, fill the spool and stall ingest, a far larger loss; so Read
// skips it. It looks for the next intact frame: the next offset that holds
// the marker, a length that fits, an index that can follow (greater than
// the damaged record's, by no more than the skipped bytes could hold) and
// a CRC that matches. It resumes there, and logs at ERROR the segment, the
// offset of the damage and the bytes and records lost, and counts them in
// envmon_spool_corrupt_bytes_total and envmon_spool_corrupt_records_total.
// Only the damaged records are lost: a change to any bytes of one frame
// loses that record and no other, since every byte of a frame is covered
// by the marker check or the CRC, and the next frame is intact. If no
// intact frame follows, the rest of the segment is lost. A segment with a
// bad header loses all its records. With SyncAlways and an honest disk
// this only happens when the disk or someone else damages the files.
//
// In the last segment, Open cannot tell damage to the last frame from a
// torn tail: with no intact frame after it, that frame's batch is cut as a
// torn tail (an acknowledged batch, if the damage came after its Append
// returned). Damage that intact frames follow is never taken for a torn
// tail, even after a power failure that wrote a torn Append's pages out of
// order; the intact records of such an Append are then kept, and may be
// delivered although the Append never returned. A last segment whose
// header is damaged makes Open fail, naming the file: appending after it
// would mean guessing how many records it held.
//
// The search for the next frame trusts what validates. A record's payload
// that holds a whole frame for a plausible index of the same segment, with
// a correct CRC, could be taken for the next record if damage strikes just
// before it; the frame's bytes would have to be crafted for that segment.
//
// In a version 1 segment, which has no marker or index to search for, a
// damaged frame loses the rest of the segment, and damage in the last one
// is cut at Open as a torn tail.
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
