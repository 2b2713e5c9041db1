package ingest

import (
	"testing"
	"time"

	"github.com/envmon/envmon/reading"
)

// BenchmarkDecode decodes one six-value message, without the formatting
// and checks of BenchmarkDecodeAndCheck, received at the payloads' own time
// so that it does not depend on the day it runs; and parses a topic.
func BenchmarkDecode(b *testing.B) {
	topic := Topic{Point: "p1", Station: "st-1", Medium: reading.Air}
	ts := time.UnixMilli(1763800000000)
	for _, c := range []struct{ name, payload string }{
		{"json", `{"ts":1763800000000,"values":{"pm25":35.5,"pm10":61.2,"o3":80.1,"no2":40.3,"so2":8.2,"co":0.71},"seq":12345}`},
		{"senml", `[{"bn":"urn:dev:envmon:st-1:","bt":1763800000.123,"bu":"ug/m3","n":"pm25","v":35.5},{"n":"pm10","v":61.2},{"n":"o3","v":80.1},{"n":"no2","v":40.3},{"n":"so2","v":8.2},{"n":"co","u":"mg/m3","v":0.71}]`},
	} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			data := []byte(c.payload)
			for b.Loop() {
				if _, rj := Decode(topic, data, Limits{}, ts); rj != nil {
					b.Fatal(rj)
				}
			}
		})
	}
	b.Run("topic", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, rj := ParseTopic("envmon/p1/st-0042/air"); rj != nil {
				b.Fatal(rj)
			}
		}
	})
}

// BenchmarkDecodeRecord decodes a spool record of six values, with the
// names of a sink's loop and without.
func BenchmarkDecodeRecord(b *testing.B) {
	a := Accepted{Reading: reading.Reading{Point: "p1", Station: "st-0042", Medium: reading.Air, Time: time.Unix(1763800000, 0).UTC()}, Arrived: time.Unix(1763800001, 0).UTC(), Owned: true}
	for i, m := range []string{"co", "no2", "o3", "pm10", "pm25", "so2"} {
		a.Values = append(a.Values, reading.Value{Metric: m, Value: float64(i) + 0.5})
	}
	rec := appendRecord(nil, &a)
	b.Run("names", func(b *testing.B) {
		b.ReportAllocs()
		var ns names
		for b.Loop() {
			if _, err := decodeRecordWith(rec, &ns); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("nil", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := decodeRecord(rec); err != nil {
				b.Fatal(err)
			}
		}
	})
}
