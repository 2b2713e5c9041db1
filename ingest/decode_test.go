package ingest

import (
	"math"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/envmon/envmon/quality"
	"github.com/envmon/envmon/reading"
)

var now = time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)

func TestDecode(t *testing.T) {
	t.Parallel()
	air := Topic{Point: "p1", Station: "st-1", Medium: reading.Air}
	water := Topic{Point: "p1", Station: "w-1", Medium: reading.Water}
	ms := now.Add(-time.Minute).UnixMilli()
	secs := float64(now.Add(-time.Minute).Unix())
	tests := []struct {
		name    string
		topic   Topic
		payload string
		want    map[string]float64 // metric → value of the (first) reading
		n       int                // readings, if not 1
		reason  string
	}{
		{"native ms", air, `{"ts":` + itoa(ms) + `,"values":{"pm25":35.2,"pm10":61}}`, map[string]float64{"pm25": 35.2, "pm10": 61}, 0, ""},
		{"native rfc3339", air, `{"ts":"2026-11-22T17:59:00+08:00","values":{"co":0.8}}`, map[string]float64{"co": 0.8}, 0, ""},
		{"native ppb converted", air, `{"ts":` + itoa(ms) + `,"values":{"so2":10,"no2":20},"units":{"so2":"ppb","no2":"ppb"}}`, map[string]float64{"so2": 26.18, "no2": 37.61}, 0, ""},
		{"native co ppm to mg/m3", air, `{"ts":` + itoa(ms) + `,"values":{"co":1},"units":{"co":"ppm"}}`, map[string]float64{"co": 1.145}, 0, ""},
		{"native position", water, `{"ts":` + itoa(ms) + `,"values":{"ph":7.2},"lat":30.5,"lon":104.1}`, map[string]float64{"ph": 7.2, "lat": 30.5, "lon": 104.1}, 0, ""},
		{"native station agrees", air, `{"ts":` + itoa(ms) + `,"station":"st-1","values":{"pm25":1}}`, map[string]float64{"pm25": 1}, 0, ""},
		{"native station disagrees", air, `{"ts":` + itoa(ms) + `,"station":"st-2","values":{"pm25":1}}`, nil, 0, ReasonMismatch},
		{"native unknown field", air, `{"ts":` + itoa(ms) + `,"values":{"pm25":1},"extra":1}`, nil, 0, ReasonMalformed},
		{"native trailing data", air, `{"ts":` + itoa(ms) + `,"values":{"pm25":1}} {}`, nil, 0, ReasonMalformed},
		{"native string value", air, `{"ts":` + itoa(ms) + `,"values":{"pm25":"35"}}`, nil, 0, ReasonBadValue},
		{"native null value", air, `{"ts":` + itoa(ms) + `,"values":{"pm25":null}}`, nil, 0, ReasonBadValue},
		{"native huge value", air, `{"ts":` + itoa(ms) + `,"values":{"pm25":1e999}}`, nil, 0, ReasonBadValue},
		{"native wrong medium metric", water, `{"ts":` + itoa(ms) + `,"values":{"pm25":1}}`, nil, 0, ReasonUnknownMetric},
		{"native bad unit", air, `{"ts":` + itoa(ms) + `,"values":{"pm25":1},"units":{"pm25":"ppb"}}`, nil, 0, ReasonBadUnit},
		{"native lat too large", water, `{"ts":` + itoa(ms) + `,"values":{"ph":7.2},"lat":1e308,"lon":104.1}`, nil, 0, ReasonBadValue},
		{"native lat just over", water, `{"ts":` + itoa(ms) + `,"values":{"ph":7.2},"lat":-90.000001,"lon":104.1}`, nil, 0, ReasonBadValue},
		{"native lon too large", water, `{"ts":` + itoa(ms) + `,"values":{"ph":7.2},"lat":30,"lon":180.5}`, nil, 0, ReasonBadValue},
		{"native lat overflows", water, `{"ts":` + itoa(ms) + `,"values":{"ph":7.2},"lat":1e999,"lon":1}`, nil, 0, ReasonBadValue},
		{"native poles and antimeridian", water, `{"ts":` + itoa(ms) + `,"values":{"ph":7.2},"lat":-90,"lon":180}`, map[string]float64{"ph": 7.2, "lat": -90, "lon": 180}, 0, ""},
		{"native lat as value", water, `{"ts":` + itoa(ms) + `,"values":{"ph":7.2,"lat":91}}`, nil, 0, ReasonBadValue},
		{"native units key twice", air, `{"ts":` + itoa(ms) + `,"values":{"so2":1},"units":{"so2":"ppb","so2":"ug/m3"}}`, nil, 0, ReasonMalformed},
		{"native units key twice same unit", air, `{"ts":` + itoa(ms) + `,"values":{"so2":1},"units":{"so2":"ppb","so2":"ppb"}}`, nil, 0, ReasonMalformed},
		{"native lat without lon", air, `{"ts":` + itoa(ms) + `,"values":{"pm25":1},"lat":1}`, nil, 0, ReasonMalformed},
		{"native no ts", air, `{"values":{"pm25":1}}`, nil, 0, ReasonBadTimestamp},
		{"native far future", air, `{"ts":"2026-11-24T10:00:00Z","values":{"pm25":1}}`, nil, 0, ReasonBadTimestamp},
		{"native field twice", air, `{"ts":` + itoa(ms) + `,"values":{"pm25":1},"ts":` + itoa(ms) + `}`, nil, 0, ReasonMalformed},
		{"native metric twice", air, `{"ts":` + itoa(ms) + `,"values":{"pm25":1,"pm25":2}}`, nil, 0, ReasonMalformed},
		{"native null members", air, `{"ts":` + itoa(ms) + `,"values":{"pm25":1},"units":null,"seq":null,"station":null}`, map[string]float64{"pm25": 1}, 0, ""},
		{"native seq", air, `{"ts":` + itoa(ms) + `,"values":{"pm25":1},"seq":42}`, map[string]float64{"pm25": 1}, 0, ""},
		{"native seq not integer", air, `{"ts":` + itoa(ms) + `,"values":{"pm25":1},"seq":"x"}`, nil, 0, ReasonMalformed},
		{"native values not object", air, `{"ts":` + itoa(ms) + `,"values":[1]}`, nil, 0, ReasonMalformed},
		{"native unit not string", air, `{"ts":` + itoa(ms) + `,"values":{"so2":1},"units":{"so2":1}}`, nil, 0, ReasonMalformed},
		{"native NaN literal", air, `{"ts":` + itoa(ms) + `,"values":{"pm25":NaN}}`, nil, 0, ReasonMalformed},
		{"native leading zero", air, `{"ts":` + itoa(ms) + `,"values":{"pm25":01}}`, nil, 0, ReasonMalformed},
		{"native exponent value", air, `{"ts":` + itoa(ms) + `,"values":{"pm25":3.52e1}}`, map[string]float64{"pm25": 35.2}, 0, ""},
		{"native escaped name", air, `{"ts":` + itoa(ms) + `,"values":{"pm\u0032\u0035":7}}`, map[string]float64{"pm25": 7}, 0, ""},
		{"native float ms", air, `{"ts":` + itoa(ms) + `.5,"values":{"pm25":1}}`, map[string]float64{"pm25": 1}, 0, ""},
		{"native ts bool", air, `{"ts":true,"values":{"pm25":1}}`, nil, 0, ReasonBadTimestamp},
		{"not json", air, `pm25=35`, nil, 0, ReasonMalformed},
		{"empty", air, ``, nil, 0, ReasonMalformed},
		{"oversized", air, `{"ts":1,"values":{"pm25":1},"x":"` + strings.Repeat("a", 70<<10) + `"}`, nil, 0, ReasonTooLarge},
		{"long name", air, `{"ts":` + itoa(ms) + `,"values":{"` + strings.Repeat("x", 100) + `":1}}`, nil, 0, ReasonTooLarge},

		{"senml base fields", air, `[{"bn":"urn:dev:envmon:st-1:","bt":` + ftoa(secs) + `,"bu":"ug/m3","n":"pm25","v":35.2},{"n":"pm10","v":61},{"n":"co","u":"mg/m3","v":0.8}]`,
			map[string]float64{"pm25": 35.2, "pm10": 61, "co": 0.8}, 0, ""},
		{"senml ppb", air, `[{"bt":` + ftoa(secs) + `,"n":"so2","u":"ppb","v":10}]`, map[string]float64{"so2": 26.18}, 0, ""},
		{"senml two times", air, `[{"bn":"st-1/","bt":` + ftoa(secs) + `,"n":"pm25","v":30},{"n":"pm25","t":60,"v":31}]`, map[string]float64{"pm25": 30}, 2, ""},
		{"senml noise dB", Topic{Point: "p", Station: "n-1", Medium: reading.Noise}, `[{"bt":` + ftoa(secs) + `,"n":"laeq","u":"dB","v":55.1}]`, map[string]float64{"laeq": 55.1}, 0, ""},
		{"senml water Cel", water, `[{"bt":` + ftoa(secs) + `,"n":"water_temp","u":"Cel","v":18.5},{"n":"conductivity","u":"uS/cm","v":420}]`, map[string]float64{"water_temp": 18.5, "conductivity": 420}, 0, ""},
		{"senml other station", air, `[{"bn":"urn:dev:envmon:st-9:","bt":` + ftoa(secs) + `,"n":"pm25","v":1}]`, nil, 0, ReasonMismatch},
		{"senml string value", air, `[{"bt":` + ftoa(secs) + `,"n":"pm25","vs":"high"}]`, nil, 0, ReasonBadValue},
		{"senml no value", air, `[{"bt":` + ftoa(secs) + `,"n":"pm25"}]`, nil, 0, ReasonBadValue},
		{"senml empty", air, `[]`, nil, 0, ReasonNoValues},
		{"senml bad unit", air, `[{"bt":` + ftoa(secs) + `,"n":"pm25","u":"dB","v":1}]`, nil, 0, ReasonBadUnit},
		{"senml unknown metric", air, `[{"bt":` + ftoa(secs) + `,"n":"radon","v":1}]`, nil, 0, ReasonUnknownMetric},
		{"senml duplicate metric", air, `[{"bt":` + ftoa(secs) + `,"n":"pm25","v":1},{"n":"pm25","v":2}]`, nil, 0, ReasonMalformed},
		{"senml position", water, `[{"bn":"urn:dev:envmon:w-1:","bt":` + ftoa(secs) + `,"n":"ph","v":7.1},{"n":"lat","u":"lat","v":30.5},{"n":"lon","u":"lon","v":104.1}]`, map[string]float64{"ph": 7.1, "lat": 30.5, "lon": 104.1}, 0, ""},
		{"senml lat out of range", water, `[{"bt":` + ftoa(secs) + `,"n":"ph","v":7.1},{"n":"lat","u":"lat","v":-91},{"n":"lon","u":"lon","v":104.1}]`, nil, 0, ReasonBadValue},
		{"senml lon out of range", water, `[{"bt":` + ftoa(secs) + `,"n":"ph","v":7.1},{"n":"lat","v":30},{"n":"lon","v":1e308}]`, nil, 0, ReasonBadValue},
		{"senml unknown field", air, `[{"bt":` + ftoa(secs) + `,"n":"pm25","v":1,"x":2}]`, nil, 0, ReasonMalformed},
		{"senml field twice", air, `[{"bt":` + ftoa(secs) + `,"n":"pm25","v":1,"v":2}]`, nil, 0, ReasonMalformed},
		{"senml value not number", air, `[{"bt":` + ftoa(secs) + `,"n":"pm25","v":"1"}]`, nil, 0, ReasonMalformed},
		{"senml name not string", air, `[{"bt":` + ftoa(secs) + `,"n":25,"v":1}]`, nil, 0, ReasonMalformed},
		{"senml record not object", air, `[1]`, nil, 0, ReasonMalformed},
		{"senml base value", air, `[{"bt":` + ftoa(secs) + `,"bv":30,"n":"pm25","v":5}]`, map[string]float64{"pm25": 35}, 0, ""},
		{"senml trailing data", air, `[{"bt":` + ftoa(secs) + `,"n":"pm25","v":5}]]`, nil, 0, ReasonMalformed},
		{"senml relative time", air, `[{"n":"pm25","t":-60,"v":1}]`, map[string]float64{"pm25": 1}, 0, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rs, rj := Decode(tt.topic, []byte(tt.payload), Limits{}, now)
			if tt.reason != "" {
				if rj == nil || rj.Reason != tt.reason {
					t.Fatalf("Decode = %v, %v; want rejection %s", rs, rj, tt.reason)
				}
				return
			}
			if rj != nil {
				t.Fatalf("Decode rejected: %v", rj)
			}
			n := tt.n
			if n == 0 {
				n = 1
			}
			if len(rs) != n {
				t.Fatalf("got %d readings, want %d", len(rs), n)
			}
			r := rs[0]
			if r.Station != tt.topic.Station || r.Point != tt.topic.Point || r.Medium != tt.topic.Medium {
				t.Errorf("reading identity %+v", r)
			}
			if len(r.Values) != len(tt.want) {
				t.Fatalf("values %+v, want %v", r.Values, tt.want)
			}
			for _, v := range r.Values {
				if w, ok := tt.want[v.Metric]; !ok || math.Abs(v.Value-w) > 1e-9*math.Max(1, w) {
					t.Errorf("%s = %v, want %v", v.Metric, v.Value, w)
				}
			}
		})
	}
}

func molar(p quality.Pollutant) float64 {
	m, _ := quality.MolarMass(p)
	return m
}

func itoa(n int64) string   { return strconv.FormatInt(n, 10) }
func ftoa(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }

// FuzzDecode: no payload, however broken, crashes the decoder, and every
// accepted reading is well formed.
func FuzzDecode(f *testing.F) {
	for _, s := range []string{
		`{"ts":1763800000000,"values":{"pm25":35.2}}`,
		`{"ts":"2026-11-22T10:00:00Z","values":{"so2":3},"units":{"so2":"ppb"},"lat":1,"lon":2}`,
		`[{"bn":"urn:dev:envmon:st-1:","bt":1763800000,"bu":"ug/m3","n":"pm25","v":35.2},{"n":"pm10","v":61}]`,
		`[{"n":"pm25","t":-60,"v":1}]`, `[]`, `{}`, `null`, `[{"vs":"x"}]`, "\xff\xfe",
	} {
		f.Add([]byte(s))
	}
	topic := Topic{Point: "p1", Station: "st-1", Medium: reading.Air}
	f.Fuzz(func(t *testing.T, data []byte) {
		rs, rj := Decode(topic, data, Limits{}, now)
		if rj != nil {
			if rj.Reason == "" || rj.Detail == "" {
				t.Fatalf("rejection without reason: %+v", rj)
			}
			return
		}
		if len(rs) == 0 {
			t.Fatal("accepted with no readings")
		}
		for _, r := range rs {
			if len(r.Values) == 0 || r.Station != "st-1" {
				t.Fatalf("bad reading %+v", r)
			}
			for _, v := range r.Values {
				if math.IsNaN(v.Value) || math.IsInf(v.Value, 0) {
					t.Fatalf("non-finite value %+v", v)
				}
			}
		}
	})
}

func TestSenMLFieldIndex(t *testing.T) {
	for i, name := range senmlFields {
		if got := senmlField([]byte(name)); got != i {
			t.Errorf("senmlField(%q) = %d, want %d", name, got, i)
		}
	}
	if got := senmlField([]byte("x")); got != -1 {
		t.Errorf("senmlField(x) = %d, want -1", got)
	}
}
