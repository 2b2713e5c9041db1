package ingest

import (
	"reflect"
	"testing"
	"time"

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
	for _, r := range tests {
		got, err := decodeRecord(appendRecord(nil, &r))
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, r) {
			t.Errorf("round trip:\n got %+v\nwant %+v", got, r)
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
