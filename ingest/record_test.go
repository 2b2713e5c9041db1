package ingest

import (
	"encoding/binary"
	"math"
	"reflect"
	"testing"
	"time"
	"unsafe"

	"github.com/envmon/envmon/reading"
)

func TestRecordRoundTrip(t *testing.T) {
	t.Parallel()
	tests := []Accepted{
		{Reading: reading.Reading{Point: "p1", Station: "st-1", Medium: reading.Air, Time: time.Unix(1763800000, 123456789).UTC(),
			Values: []reading.Value{{Metric: "pm10", Value: 61}, {Metric: "pm25", Value: -999, QC: reading.FlagSentinel | reading.FlagSpike}}},
			Arrived: time.Unix(1763800002, 5).UTC(), Owned: true},
		{Reading: reading.Reading{Point: "点", Station: "站-1", Medium: reading.Water, Time: time.Unix(0, 0).UTC(), Values: []reading.Value{}},
			Arrived: time.Unix(1, 0).UTC()},
		{Reading: reading.Reading{Point: "p", Station: "s", Medium: reading.Noise, Time: time.Date(1999, 1, 1, 0, 0, 0, 0, time.UTC), Values: []reading.Value{{Metric: "laeq", Value: 1e300}}},
			Arrived: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), Owned: true},
	}
	var ns names
	for _, r := range tests {
		b := appendRecord(nil, &r)
		got, err := decodeRecord(b)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, r) {
			t.Errorf("round trip:\n got %+v\nwant %+v", got, r)
		}
		// With names, twice: the second decoding reuses the first's strings.
		first, err1 := decodeRecordWith(b, &ns)
		second, err2 := decodeRecordWith(b, &ns)
		if err1 != nil || err2 != nil || !reflect.DeepEqual(first, r) || !reflect.DeepEqual(second, r) {
			t.Errorf("round trip with names: %v, %v:\n got %+v\n and %+v\nwant %+v", err1, err2, first, second, r)
		}
		if unsafe.StringData(first.Station) != unsafe.StringData(second.Station) {
			t.Errorf("station %q decoded twice into two strings", r.Station)
		}
	}
}

// TestRecordVersion1 reads a record of a spool an older envmon left: no
// arrival time (the event time stands for it), owned.
func TestRecordVersion1(t *testing.T) {
	b := []byte{1, 2, 'p', '1', 4, 's', 't', '-', '1', 3, 'a', 'i', 'r'}
	ts := time.Unix(1763800000, 0).UTC()
	b = binary.AppendVarint(b, ts.UnixNano())
	b = append(b, 1, 4, 'p', 'm', '2', '5')
	b = binary.LittleEndian.AppendUint64(b, math.Float64bits(35))
	b = append(b, 0)
	got, err := decodeRecord(b)
	want := Accepted{Reading: reading.Reading{Point: "p1", Station: "st-1", Medium: reading.Air, Time: ts, Values: []reading.Value{{Metric: "pm25", Value: 35}}}, Arrived: ts, Owned: true}
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("got %+v, %v; want %+v", got, err, want)
	}
}

func FuzzDecodeRecord(f *testing.F) {
	r := Accepted{Reading: reading.Reading{Point: "p1", Station: "st-1", Medium: reading.Air, Time: time.Unix(1763800000, 0), Values: []reading.Value{{Metric: "pm25", Value: 35}}}, Arrived: time.Unix(1763800001, 0), Owned: true}
	f.Add(appendRecord(nil, &r))
	f.Add([]byte{1, 200, 1})
	f.Fuzz(func(t *testing.T, b []byte) {
		got, err := decodeRecord(b)
		if err != nil {
			return
		}
		again, err := decodeRecord(appendRecord(nil, &got))
		if err != nil || !reflect.DeepEqual(got, again) {
			t.Fatalf("re-encoding a decoded record changed it: %v", err)
		}
	})
}
