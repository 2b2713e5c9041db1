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
//	version (1 byte, = 1)
//	len(point) point len(station) station len(medium) medium
//	unix nanoseconds (varint)
//	count, then per value: len(metric) metric, float64 bits (8 bytes LE), flags
//
// It is private to ingest: a record is written and read by the same binary,
// but the version byte lets a future format coexist with a spool left by an
// older one.
const recordVersion = 1

// appendRecord appends r's encoding to b.
func appendRecord(b []byte, r *reading.Reading) []byte {
	b = append(b, recordVersion)
	b = appendString(b, r.Point)
	b = appendString(b, r.Station)
	b = appendString(b, string(r.Medium))
	b = binary.AppendVarint(b, r.Time.UnixNano())
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
func decodeRecord(b []byte) (reading.Reading, error) {
	return decodeRecordWith(b, nil)
}

// decodeRecordWith decodes one record, taking its names from names where
// it can instead of allocating them anew; names may be nil.
func decodeRecordWith(b []byte, names *names) (reading.Reading, error) {
	d := recordDecoder{b: b, names: names}
	if v := d.byte(); v != recordVersion {
		return reading.Reading{}, fmt.Errorf("%w: version %d", errRecord, v)
	}
	r := reading.Reading{Point: d.string(), Station: d.string(), Medium: reading.Medium(d.string())}
	r.Time = time.Unix(0, d.varint()).UTC()
	n := d.uvarint()
	if d.err == nil && n > uint64(len(d.b)) {
		d.err = errRecord
	}
	if d.err != nil {
		return reading.Reading{}, d.err
	}
	r.Values = make([]reading.Value, 0, n)
	for range n {
		v := reading.Value{Metric: d.string(), Value: d.float()}
		v.QC = reading.Flags(d.uvarint())
		r.Values = append(r.Values, v)
	}
	if d.err == nil && len(d.b) != 0 {
		d.err = fmt.Errorf("%w: %d trailing bytes", errRecord, len(d.b))
	}
	return r, d.err
}

type recordDecoder struct {
	b     []byte
	err   error
	names *names
}

// names interns the names records repeat (points, stations, media,
// metrics), so that decoding a record of known names allocates only its
// values. It holds at most maxNames; later names are allocated each time.
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
	d.b = nil
}

func (d *recordDecoder) byte() byte {
	if len(d.b) < 1 {
		d.fail()
		return 0
	}
	c := d.b[0]
	d.b = d.b[1:]
	return c
}

func (d *recordDecoder) uvarint() uint64 {
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.fail()
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *recordDecoder) varint() int64 {
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.fail()
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *recordDecoder) string() string {
	n := d.uvarint()
	if n > uint64(len(d.b)) {
		d.fail()
		return ""
	}
	var s string
	if d.names != nil {
		s = d.names.intern(d.b[:n])
	} else {
		s = string(d.b[:n])
	}
	d.b = d.b[n:]
	return s
}

func (d *recordDecoder) float() float64 {
	if len(d.b) < 8 {
		d.fail()
		return 0
	}
	v := math.Float64frombits(binary.LittleEndian.Uint64(d.b))
	d.b = d.b[8:]
	return v
}
