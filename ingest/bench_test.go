package ingest

import (
	"fmt"
	"testing"
	"time"

	"github.com/envmon/envmon/ingest/qc"
	"github.com/envmon/envmon/reading"
)

// BenchmarkDecodeAndCheck is the collector's per-message work on its router
// goroutine: decode a six-value message and flag it.
func BenchmarkDecodeAndCheck(b *testing.B) {
	for _, format := range []string{"json", "senml"} {
		b.Run(format, func(b *testing.B) {
			topic := Topic{Point: "p1", Station: "st-1", Medium: reading.Air}
			checker := qc.New(qc.Config{})
			start := time.Now().Add(-time.Hour)
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				ts := start.Add(time.Duration(i) * time.Second)
				var payload string
				if format == "json" {
					payload = fmt.Sprintf(`{"ts":%d,"values":{"pm25":%d.5,"pm10":61.2,"o3":80.1,"no2":40.3,"so2":8.2,"co":0.71},"seq":%d}`, ts.UnixMilli(), 30+i%7, i)
				} else {
					payload = fmt.Sprintf(`[{"bn":"urn:dev:envmon:st-1:","bt":%d.%03d,"bu":"ug/m3","n":"pm25","v":%d.5},{"n":"pm10","v":61.2},{"n":"o3","v":80.1},{"n":"no2","v":40.3},{"n":"so2","v":8.2},{"n":"co","u":"mg/m3","v":0.71}]`, ts.Unix(), ts.Nanosecond()/1e6, 30+i%7)
				}
				rs, rj := Decode(topic, []byte(payload), Limits{}, ts)
				if rj != nil {
					b.Fatal(rj)
				}
				checker.Check(&rs[0], ts)
			}
		})
	}
}
