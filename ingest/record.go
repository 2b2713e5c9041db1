package ingest

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/envmon/envmon/reading"
)

// The spool stores each accepted reading as one record in this compact
// binary form (all integers are uvarints unless noted):
//
//	version (1 byte, = 2)
//	len(point) point len(station) station len(medium) medium
//	event time, unix nanoseconds (varint)
//	arrival time, unix nanoseconds (varint)           (version 2)
//	owned (1 byte: 1 if this replica owns the station) (version 2)
//	count, then per value: len(metric) metric, float64 bits (8 bytes LE), flags
//
// It is private to ingest: a record is written and read by the same binary,
// but the version byte lets a spool left by an older one be read: a
// version 1 record has no arrival time (its event time stands for it) and
// is owned.
const recordVersion = 2

// appendRecord appends a's encoding to b.
func appendRecord(b []byte, a *Accepted) []byte {
	r := &a.Reading
	b = append(b, recordVersion)
	b = appendString(b, r.Point)
	b = appendString(b, r.Station)
	b = appendString(b, string(r.Medium))
	b = binary.AppendVarint(b, r.Time.UnixNano())
	b = binary.AppendVarint(b, a.Arrived.UnixNano())
	owned := byte(0)
	if a.Owned {
		owned = 1
	}
	b = append(b, owned)
	b = binary.AppendUvarint(b, uint64(len(r.Values)))
	for _, v := range r.Values {
		b = appendString(b, v.Metric)
		b = binary.LittleEndian.AppendUint64(b, math.Float64bits(v.Value))
		b = binary.AppendUvarint(b, uint64(v.QC))
	}
	return b
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

var errRecord = errors.New("corrupt spool record")

// decodeRecord decodes one record.
func decodeRecord(b []byte) (Accepted, error) {
	return decodeRecordWith(b, nil)
}

// decodeRecordWith decodes one record, taking its names from names where
// it can instead of allocating them anew; names may be nil.
func decodeRecordWith(b []byte, names *names) (Accepted, error) {
	d := recordDecoder{b: b, names: names}
	v := d.byte()
	if v != 1 && v != recordVersion {
		return Accepted{}, fmt.Errorf("%w: version %d", errRecord, v)
	}
	r := reading.Reading{Point: d.string(), Station: d.string(), Medium: d.medium()}
	r.Time = time.Unix(0, d.varint()).UTC()
	a := Accepted{Arrived: r.Time, Owned: true}
	if v >= 2 {
		a.Arrived = time.Unix(0, d.varint()).UTC()
		a.Owned = d.byte() == 1
	}
	n := d.uvarint()
	if d.err == nil && n > uint64(len(d.rest())) {
		d.err = errRecord
	}
	if d.err != nil {
		return Accepted{}, d.err
	}
	r.Values = make([]reading.Value, 0, n)
	for range n {
		v := reading.Value{Metric: d.metric(), Value: d.float()}
		v.QC = reading.Flags(d.uvarint())
		r.Values = append(r.Values, v)
	}
	if d.err == nil && len(d.rest()) != 0 {
		d.err = fmt.Errorf("%w: %d trailing bytes", errRecord, len(d.rest()))
	}
	a.Reading = r
	return a, d.err
}

// recordDecoder reads a record from its start. It keeps its place in the
// record as an offset, not by slicing: writing no pointer as it reads, it
// needs no write barrier while the garbage collector runs.
type recordDecoder struct {
	b     []byte
	off   int // d.b[off:] is yet to be read
	err   error
	names *names
}

// rest returns what is yet to be read.
func (d *recordDecoder) rest() []byte { return d.b[d.off:] }

// names interns the names records repeat (points and stations, and media
// and metrics other than the known ones, which need no interning), so that
// decoding a record of known names allocates only its values. It holds at most maxNames; later names are allocated each time.
// Not safe for concurrent use.
type names map[string]string

const maxNames = 1 << 16

func (n *names) intern(b []byte) string {
	if *n == nil {
		*n = names{}
	}
	if s, ok := (*n)[string(b)]; ok {
		return s
	}
	s := string(b)
	if len(*n) < maxNames {
		(*n)[s] = s
	}
	return s
}

func (d *recordDecoder) fail() {
	if d.err == nil {
		d.err = errRecord
	}
	d.off = len(d.b)
}

func (d *recordDecoder) byte() byte {
	if d.off >= len(d.b) {
		d.fail()
		return 0
	}
	c := d.b[d.off]
	d.off++
	return c
}

func (d *recordDecoder) uvarint() uint64 {
	v, n := binary.Uvarint(d.rest())
	if n <= 0 {
		d.fail()
		return 0
	}
	d.off += n
	return v
}

func (d *recordDecoder) varint() int64 {
	v, n := binary.Varint(d.rest())
	if n <= 0 {
		d.fail()
		return 0
	}
	d.off += n
	return v
}

func (d *recordDecoder) string() string {
	b, ok := d.bytes()
	if !ok {
		return ""
	}
	return d.intern(b)
}

// medium is string for a medium: a known one is the constant, without
// allocating or looking it up in names.
func (d *recordDecoder) medium() reading.Medium {
	b, ok := d.bytes()
	if !ok {
		return ""
	}
	switch string(b) {
	case string(reading.Air):
		return reading.Air
	case string(reading.Water):
		return reading.Water
	case string(reading.Noise):
		return reading.Noise
	}
	return reading.Medium(d.intern(b))
}

// metric is string for a metric: one of the catalogue is the catalogue's
// name, without allocating or looking it up in names.
func (d *recordDecoder) metric() string {
	b, ok := d.bytes()
	if !ok {
		return ""
	}
	if mt, ok := catalogue.lookup(b); ok {
		return mt.Name
	}
	return d.intern(b)
}

// bytes returns the next length-prefixed string of the record, which
// points into it.
func (d *recordDecoder) bytes() ([]byte, bool) {
	n := d.uvarint()
	if n > uint64(len(d.rest())) {
		d.fail()
		return nil, false
	}
	b := d.rest()[:n]
	d.off += int(n)
	return b, true
}

// intern returns b as a string, from names if the decoder has them.
func (d *recordDecoder) intern(b []byte) string {
	if d.names != nil {
		return d.names.intern(b)
	}
	return string(b)
}

func (d *recordDecoder) float() float64 {
	if len(d.rest()) < 8 {
		d.fail()
		return 0
	}
	v := math.Float64frombits(binary.LittleEndian.Uint64(d.rest()))
	d.off += 8
	return v
}
