package spool

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

// syncBuffer is a bytes.Buffer that a logger may write from any goroutine.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// loggedOptions returns o with a logger that writes to the test's output
// and to the returned buffer.
func loggedOptions(t testing.TB, o Options) (Options, *syncBuffer) {
	logs := new(syncBuffer)
	o.Logger = slog.New(slog.NewTextHandler(io.MultiWriter(logs, t.Output()), nil))
	return o, logs
}

// frameOffsets returns the offset of every frame in segment file name, in
// order, by walking the length words; the file must be intact.
func frameOffsets(t testing.TB, name string) []int64 {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	var offs []int64
	for off := int64(segHeaderLen); off < int64(len(b)); {
		offs = append(offs, off)
		off += frameHeaderLen + int64(binary.LittleEndian.Uint32(b[off+4:])&^lastInBatch)
	}
	return offs
}

// xorByte xors the byte at off in name with mask.
func xorByte(t testing.TB, name string, off int64, mask byte) {
	t.Helper()
	f, err := os.OpenFile(name, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	b := make([]byte, 1)
	if _, err := f.ReadAt(b, off); err != nil {
		t.Fatal(err)
	}
	b[0] ^= mask
	if _, err := f.WriteAt(b, off); err != nil {
		t.Fatal(err)
	}
}

// readUntil reads records until it has read one equal to last, and returns
// them all. The records must all be in the spool already: a Read that
// blocks means that last was lost.
func readUntil(t testing.TB, s *Spool, last []byte, limit int) [][]byte {
	t.Helper()
	var got [][]byte
	for len(got) == 0 || !bytes.Equal(got[len(got)-1], last) {
		if len(got) > limit {
			t.Fatalf("read %d records without meeting %q", len(got), last)
		}
		rs, _, err := readWatched(t, s, 100)
		if err != nil {
			t.Fatalf("Read after %d records, last %.40q: %v (was %q lost?)", len(got), got[max(len(got)-1, 0):], err, last)
		}
		got = append(got, rs...)
	}
	return got
}

// TestMidSegmentDamage damages records in the middle of a segment holding
// 5,000 acknowledged records and checks that exactly the damaged records
// are lost, counted as corruption, not as a torn tail, and logged at ERROR
// with the segment and the offset; the rest are read back in order. It
// does so through recovery (damage found by Open's scan, then by Read) and
// on a spool left open (damage found by Read alone).
func TestMidSegmentDamage(t *testing.T) {
	t.Parallel()
	const total = 5000
	tests := []struct {
		name string
		// damage lists, for each damaged record, its number and the
		// offset within its frame of the byte to flip.
		damage [][2]int
	}{
		{name: "marker", damage: [][2]int{{2500, 0}}},
		{name: "length, low byte", damage: [][2]int{{2500, 4}}},
		{name: "length, high byte", damage: [][2]int{{2500, 7}}},
		{name: "index", damage: [][2]int{{2500, 8}}},
		{name: "checksum", damage: [][2]int{{2500, 13}}},
		{name: "payload", damage: [][2]int{{2500, frameHeaderLen + 3}}},
		{name: "first record", damage: [][2]int{{0, 5}}},
		{name: "end of a batch", damage: [][2]int{{2503, 6}}},
		{name: "last record but one", damage: [][2]int{{total - 2, 9}}},
		{name: "two neighbours", damage: [][2]int{{1000, 4}, {1001, frameHeaderLen}}},
		{name: "three apart", damage: [][2]int{{10, 0}, {2000, 12}, {4000, 7}}},
	}
	for _, tt := range tests {
		for _, reopen := range []bool{true, false} {
			name := tt.name + map[bool]string{true: ", reopened", false: ", left open"}[reopen]
			t.Run(name, func(t *testing.T) {
				t.Parallel()
				dir := t.TempDir()
				// SyncNever for speed: the format, and so the damage, is
				// the same under every policy.
				opts, logs := loggedOptions(t, Options{Sync: SyncNever})
				s := open(t, dir, opts)
				for i := 0; i < total; i += 4 {
					appendAll(t, s, recs(i, i+4)...)
				}
				seg := lastSegment(t, dir)
				if n := len(segFiles(t, dir)); n != 1 {
					t.Fatalf("%d segments, want 1", n)
				}
				offs := frameOffsets(t, seg)
				if len(offs) != total {
					t.Fatalf("%d frames, want %d", len(offs), total)
				}
				lost := map[int]bool{}
				for _, d := range tt.damage {
					xorByte(t, seg, offs[d[0]]+int64(d[1]), 0x10)
					lost[d[0]] = true
				}
				if reopen {
					closeSpool(t, s)
					s = open(t, dir, opts)
				}
				appendAll(t, s, []byte("end"))

				got := readUntil(t, s, []byte("end"), total+1)
				var want [][]byte
				for i := range total {
					if !lost[i] {
						want = append(want, rec(i))
					}
				}
				equalRecords(t, got, append(want, []byte("end")))

				if c := testutil.ToFloat64(s.m.corruptRecords); c != float64(len(lost)) {
					t.Errorf("corrupt records = %v, want %d", c, len(lost))
				}
				if c, want := testutil.ToFloat64(s.m.corruptBytes), float64(len(lost)*len(frame(0, 0, rec(0), false))); c != want {
					t.Errorf("corrupt bytes = %v, want %v", c, want)
				}
				if c := testutil.ToFloat64(s.m.tornBytes); c != 0 {
					t.Errorf("torn bytes = %v, want 0", c)
				}
				log := logs.String()
				if strings.Contains(log, "torn") {
					t.Errorf("damage logged as a torn tail:\n%s", log)
				}
				// One line for each run of neighbouring damaged records.
				for _, d := range tt.damage {
					if lost[d[0]-1] {
						continue
					}
					run := 1
					for lost[d[0]+run] {
						run++
					}
					const want = `level=ERROR msg="skipped damaged records in the spool: they are lost" `
					want2 := fmt.Sprintf(` segment=%s offset=%d bytes_lost=%d records_lost=%d `,
						filepath.Base(seg), offs[d[0]], run*len(frame(0, 0, rec(0), false)), run)
					if !slices.ContainsFunc(strings.Split(log, "\n"), func(l string) bool {
						return strings.Contains(l, want) && strings.Contains(l, want2)
					}) {
						t.Errorf("no log line with %q and %q in:\n%s", want, want2, log)
					}
				}
			})
		}
	}
}

// TestRandomFlips flips one random bit pattern in one random byte of the
// records in a spool of several segments, over and over, and checks what is
// lost. The guarantee, exactly:
//
//   - A flip in any frame but the last one of the last segment loses that
//     record and no other, and counts it as corrupt: every byte of a frame
//     is covered by its marker check or its CRC, and the next frame's
//     marker, index and CRC are intact, so Read resumes there.
//   - A flip in the last frame of the last segment cannot be told from a
//     torn tail: Open cuts that frame's whole batch, counted as torn.
//
// Segment headers are not flipped: damage there loses the whole segment
// (see TestCorruption), or makes Open fail for the last one.
func TestRandomFlips(t *testing.T) {
	t.Parallel()
	seed := uint64(0x5eed)
	rng := rand.New(rand.NewPCG(seed, seed))
	trials := 200
	if testing.Short() {
		trials = 40
	}
	for trial := range trials {
		dir := t.TempDir()
		opts, _ := loggedOptions(t, Options{Sync: SyncNever, SegmentBytes: 2 << 10})
		opts.Logger = slog.New(slog.DiscardHandler)
		s := open(t, dir, opts)

		// Records of 0 to 80 random bytes (the marker included, now and
		// then), in batches of 1 to 4.
		var (
			all     [][]byte
			batchOf []int // the first record of each record's batch
		)
		for len(all) < 300 {
			n := 1 + rng.IntN(4)
			first := len(all)
			var batch [][]byte
			for range n {
				r := make([]byte, rng.IntN(81))
				for i := range r {
					r[i] = byte(rng.UintN(256))
				}
				if len(r) > 8 && rng.IntN(10) == 0 {
					copy(r[rng.IntN(len(r)-4):], frameMarker)
				}
				batch = append(batch, r)
				batchOf = append(batchOf, first)
			}
			appendAll(t, s, batch...)
			all = append(all, batch...)
		}
		closeSpool(t, s)

		// Pick a segment, a frame in it and a byte in the frame.
		files := segFiles(t, dir)
		fi := rng.IntN(len(files))
		offs := frameOffsets(t, files[fi])
		k := rng.IntN(len(offs))
		if rng.IntN(10) == 0 { // the torn-tail case, which chance alone rarely picks
			fi = len(files) - 1
			offs = frameOffsets(t, files[fi])
			k = len(offs) - 1
		}
		base, _ := parseSegName(filepath.Base(files[fi]))
		size := int64(frameHeaderLen + len(all[int(base)+k]))
		at := offs[k] + rng.Int64N(size)
		mask := byte(1 + rng.UintN(255))
		xorByte(t, files[fi], at, mask)
		touched := int(base) + k
		desc := fmt.Sprintf("trial %d (seed %#x): xor %#02x at offset %d of %s, in record %d of %d",
			trial, seed, mask, at, filepath.Base(files[fi]), touched, len(all))

		s = open(t, dir, opts)
		appendAll(t, s, []byte("end"))
		got := readUntil(t, s, []byte("end"), len(all)+1)
		torn := fi == len(files)-1 && k == len(offs)-1
		lost := map[int]bool{touched: true}
		if torn {
			for i := batchOf[touched]; i <= touched; i++ {
				lost[i] = true
			}
		}
		var want [][]byte
		for i, r := range all {
			if !lost[i] {
				want = append(want, r)
			}
		}
		want = append(want, []byte("end"))
		if len(got) != len(want) || !slices.EqualFunc(got, want, bytes.Equal) {
			t.Fatalf("%s: read %d records, want %d (lost %v)", desc, len(got), len(want), lost)
		}
		wantCorrupt, wantTorn := 1.0, 0.0
		if torn {
			wantCorrupt, wantTorn = 0, float64(frameBytes(all[batchOf[touched]:touched+1]))
		}
		if c := testutil.ToFloat64(s.m.corruptRecords); c != wantCorrupt {
			t.Errorf("%s: corrupt records = %v, want %v", desc, c, wantCorrupt)
		}
		if c := testutil.ToFloat64(s.m.tornBytes); c != wantTorn {
			t.Errorf("%s: torn bytes = %v, want %v", desc, c, wantTorn)
		}
		closeSpool(t, s)
	}
}

// writeV1Segment writes a version 1 segment holding records from base on,
// in batches of batch records.
func writeV1Segment(t testing.TB, dir string, base uint64, records [][]byte, batch int) string {
	t.Helper()
	b := segHeader(base)
	binary.LittleEndian.PutUint32(b[8:], segVersion1)
	for i, r := range records {
		word := uint32(len(r))
		if (i+1)%batch == 0 || i == len(records)-1 {
			word |= lastInBatch
		}
		var h [frameHeaderLen1]byte
		binary.LittleEndian.PutUint32(h[0:], word)
		binary.LittleEndian.PutUint32(h[4:], frameCRC1(h[:4], r))
		b = append(append(b, h[:]...), r...)
	}
	name := filepath.Join(dir, segName(base))
	if err := os.WriteFile(name, b, 0o640); err != nil {
		t.Fatal(err)
	}
	return name
}

// TestVersion1Segments checks that segments written before frames had a
// marker and an index are still read, that Appends go to a new segment of
// the current version, and that damage in one is handled as it was before
// version 2: Read loses the rest of a sealed segment, and Open cuts the
// last segment at the batch before the damage, as a torn tail.
func TestVersion1Segments(t *testing.T) {
	t.Parallel()
	const frame1 = frameHeaderLen1 + 13
	tests := []struct {
		name    string
		segment int   // the version 1 segment to damage: 0 or 1
		damage  int64 // offset to flip in it, or 0
		want    []int
		corrupt float64 // records counted as corrupt
		torn    float64 // bytes cut as a torn tail
	}{
		{name: "intact", want: seq(0, 30)},
		{
			name: "sealed segment damaged", segment: 0, damage: segHeaderLen + 3*frame1 + 2,
			want: slices.Concat(seq(0, 3), seq(10, 30)), corrupt: 7,
		},
		{
			name: "last segment damaged", segment: 1, damage: segHeaderLen + 7*frame1 + 2,
			want: slices.Concat(seq(0, 15), seq(20, 30)), torn: 5 * frame1,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			v1 := []string{
				writeV1Segment(t, dir, 0, recs(0, 10), 5),
				writeV1Segment(t, dir, 10, recs(10, 20), 5),
			}
			if tt.damage != 0 {
				flipByte(t, v1[tt.segment], tt.damage)
			}
			s := open(t, dir, Options{})
			appendAll(t, s, recs(20, 30)...)
			files := segFiles(t, dir)
			if len(files) != 3 {
				t.Fatalf("segments %v, want a new one after the two of version 1", files)
			}
			b, err := os.ReadFile(files[2])
			if err != nil {
				t.Fatal(err)
			}
			base, _ := parseSegName(filepath.Base(files[2]))
			if v, err := checkSegHeader(b, base); err != nil || v != segVersion {
				t.Errorf("new segment has version %d (err %v), want %d", v, err, segVersion)
			}
			got := readUntil(t, s, rec(29), 30)
			var want [][]byte
			for _, i := range tt.want {
				want = append(want, rec(i))
			}
			equalRecords(t, got, want)
			if c := testutil.ToFloat64(s.m.corruptRecords); c != tt.corrupt {
				t.Errorf("corrupt records = %v, want %v", c, tt.corrupt)
			}
			if c := testutil.ToFloat64(s.m.tornBytes); c != tt.torn {
				t.Errorf("torn bytes = %v, want %v", c, tt.torn)
			}
		})
	}
}

// TestResyncSkipsFramesThatCannotFollow damages a record whose payload
// holds a whole, valid-looking frame, and checks that Read does not resume
// at that frame: one with an index that cannot follow the damage (one
// already read, the damaged record's own, or more than the bytes between
// could hold), or one made for another segment, is not taken for the next
// record.
func TestResyncSkipsFramesThatCannotFollow(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		inner []byte // the frame inside record 5's payload
	}{
		{name: "an earlier index", inner: frame(0, 4, []byte("forged"), true)},
		{name: "the damaged record's index", inner: frame(0, 5, []byte("forged"), true)},
		{name: "an index too far ahead", inner: frame(0, 9, []byte("forged"), true)},
		{name: "another segment", inner: frame(1, 6, []byte("forged"), true)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			s := open(t, dir, Options{})
			records := recs(0, 10)
			records[5] = slices.Concat([]byte("pad"), tt.inner, []byte("pad"))
			for _, r := range records {
				appendAll(t, s, r)
			}
			closeSpool(t, s)
			seg := lastSegment(t, dir)
			xorByte(t, seg, frameOffsets(t, seg)[5], 0x01) // record 5's marker

			s = open(t, dir, Options{})
			got := readUntil(t, s, rec(9), 10)
			equalRecords(t, got, slices.Concat(records[:5], records[6:]))
			if c := testutil.ToFloat64(s.m.corruptRecords); c != 1 {
				t.Errorf("corrupt records = %v, want 1", c)
			}
		})
	}
}
