package ingest

import (
	"reflect"
	"testing"
	"time"
	"unsafe"

	"github.com/envmon/envmon/reading"
)

func TestRecordRoundTrip(t *testing.T) {
	t.Parallel()
	tests := []reading.Reading{
		{Point: "p1", Station: "st-1", Medium: reading.Air, Time: time.Unix(1763800000, 123456789).UTC(),
			Values: []reading.Value{{Metric: "pm10", Value: 61}, {Metric: "pm25", Value: -999, QC: reading.FlagSentinel | reading.FlagSpike}}},
		{Point: "点", Station: "站-1", Medium: reading.Water, Time: time.Unix(0, 0).UTC(), Values: []reading.Value{}},
		{Point: "p", Station: "s", Medium: reading.Noise, Time: time.Date(1999, 1, 1, 0, 0, 0, 0, time.UTC), Values: []reading.Value{{Metric: "laeq", Value: 1e300}}},
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

func FuzzDecodeRecord(f *testing.F) {
	r := reading.Reading{Point: "p1", Station: "st-1", Medium: reading.Air, Time: time.Unix(1763800000, 0), Values: []reading.Value{{Metric: "pm25", Value: 35}}}
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
