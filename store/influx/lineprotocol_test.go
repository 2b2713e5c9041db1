package influx

import (
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/envmon/envmon/reading"
)

// BenchmarkLineProtocol encodes a batch of 1000 readings of 6 values each,
// one in ten with a flagged value, as Store.Write does; it needs no server.
func BenchmarkLineProtocol(b *testing.B) {
	rs := benchReadings()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := lineProtocol(rs); err != nil {
			b.Fatal(err)
		}
	}
}

// benchReadings returns the batch of BenchmarkLineProtocol.
func benchReadings() []reading.Reading {
	metrics := []string{"co", "no2", "o3", "pm10", "pm25", "so2"}
	base := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	rs := make([]reading.Reading, 1000)
	for i := range rs {
		r := reading.Reading{Point: "p1", Station: fmt.Sprintf("st-%03d", i%100), Medium: reading.Air, Time: base.Add(time.Duration(i) * time.Second)}
		for j, m := range metrics {
			v := reading.Value{Metric: m, Value: float64(20+(i+j)%17) + 0.1*float64(j)}
			if i%10 == 0 && j == 4 {
				v.QC = reading.FlagSpike
			}
			r.Values = append(r.Values, v)
		}
		rs[i] = r
	}
	return rs
}

// BenchmarkLineProtocolReused is BenchmarkLineProtocol into a buffer
// reused from batch to batch, as Write's from lineBuffers is.
func BenchmarkLineProtocolReused(b *testing.B) {
	rs := benchReadings()
	b.ReportAllocs()
	var buf []byte
	for b.Loop() {
		var err error
		if buf, err = appendLineProtocol(buf[:0], rs); err != nil {
			b.Fatal(err)
		}
	}
}

// TestAppendFloat: appendFloat formats as strconv does.
func TestAppendFloat(t *testing.T) {
	check := func(v float64) {
		t.Helper()
		if got, want := appendFloat(nil, v), strconv.AppendFloat(nil, v, 'g', -1, 64); string(got) != string(want) {
			t.Fatalf("appendFloat(%v) = %s, want %s", v, got, want)
		}
	}
	for _, v := range []float64{0, math.Copysign(0, -1), 1, -1, 0.1, 0.2 + 0.1, 1e-4, 9.9999e-5, 1e-5, 0.00015, 999999, 999999.9999,
		1e6, math.Nextafter(1e6, 0), 1e6 + 0.5, 123456.7891, 1e21, 5e-324, math.MaxFloat64, -math.MaxFloat64,
		math.Inf(1), math.Inf(-1), math.NaN(), 7.855, 26.18, 1013.3, 1.145, 0.71, 35.5, 61.2, 273.15, 20.3, 20 + 0.1*3} {
		check(v)
		check(-v)
		check(math.Nextafter(v, math.Inf(1)))
		check(math.Nextafter(v, math.Inf(-1)))
	}
	// Every decimal of up to maxDecimals+1 places over a range, and a
	// sensor's float noise.
	for k, p := range []float64{1, 1e1, 1e2, 1e3, 1e4, 1e5} {
		n := 200000
		if testing.Short() {
			n = 20000
		}
		for m := -n; m <= n; m++ {
			check(float64(m) / p)
		}
		for m := range 2000 {
			check(float64(m)*1e6/p + 0.5)
			check(float64(m) * 0.1 * float64(k))
			check(float64(20+m%17) + 0.1*float64(k))
		}
	}
	rng := rand.New(rand.NewPCG(3, 4))
	for range 200000 {
		check(math.Float64frombits(rng.Uint64()))
		check(rng.Float64() * 1e6)
		check(math.Round(rng.Float64()*1e9) / 1e3)
	}
}

func FuzzAppendFloat(f *testing.F) {
	for _, v := range []float64{0, 1, 0.1, 35.5, 999999.9999, 1e6, 1e-4, 5e-324} {
		f.Add(v)
	}
	f.Fuzz(func(t *testing.T, v float64) {
		if got, want := appendFloat(nil, v), strconv.AppendFloat(nil, v, 'g', -1, 64); string(got) != string(want) {
			t.Fatalf("appendFloat(%v) = %s, want %s", v, got, want)
		}
	})
}

// TestLineProtocolAsBefore: lineProtocol writes what its first version
// (the legacy functions below) wrote, byte for byte, and fails as it did.
func TestLineProtocolAsBefore(t *testing.T) {
	names := []string{"s1", "pm25", "a b", "x,y=z", "m ,=", `a "b"`, "<&>", "北京-01", "line\u2028 ", " ", "é",
		"tab	", "back\\slash", "", "qc", strings.Repeat("x", maxName), strings.Repeat("y", maxName+1), "ÿ", "del", "{}", `"`}
	rng := rand.New(rand.NewPCG(5, 6))
	pick := func() string { return names[rng.IntN(len(names))] }
	values := []float64{0, 1, -2.5, 35.5, 1e21, 1e-7, math.Copysign(0, -1), math.NaN(), math.Inf(1), 0.30000000000000004}
	for range 20000 {
		rs := make([]reading.Reading, rng.IntN(4))
		for i := range rs {
			r := reading.Reading{Station: pick(), Medium: reading.Medium(pick()), Time: time.Unix(0, rng.Int64())}
			if rng.IntN(4) > 0 {
				r.Station, r.Medium, r.Time = "s1", reading.Air, time.Unix(1700000000, rng.Int64N(1e9))
			}
			if rng.IntN(2) == 0 {
				r.Point = pick()
			}
			for range rng.IntN(5) {
				v := reading.Value{Metric: pick(), Value: values[rng.IntN(len(values))], QC: reading.Flags(rng.IntN(1 << 9))}
				if rng.IntN(3) > 0 {
					v.Metric = []string{"pm25", "pm10", "co"}[rng.IntN(3)]
				}
				if rng.IntN(2) == 0 {
					v.Value = float64(rng.IntN(2000000)) / 1000
				}
				if rng.IntN(2) == 0 {
					v.QC = 0
				}
				r.Values = append(r.Values, v)
			}
			rs[i] = r
		}
		got, gerr := lineProtocol(rs)
		want, werr := legacyLineProtocol(rs)
		if string(got) != string(want) || fmt.Sprint(gerr) != fmt.Sprint(werr) {
			t.Fatalf("lineProtocol(%+v) =\n%q, %v\nwant\n%q, %v", rs, got, gerr, want, werr)
		}
		// Into a buffer with something in it already, as from lineBuffers.
		buf := []byte("old")
		more, err := appendLineProtocol(buf[:0], rs)
		if string(more) != string(want) || fmt.Sprint(err) != fmt.Sprint(werr) {
			t.Fatalf("appendLineProtocol(%+v) =\n%q, %v\nwant\n%q, %v", rs, more, err, want, werr)
		}
	}
}

// The line protocol encoder as it was first written.

func legacyLineProtocol(rs []reading.Reading) ([]byte, error) {
	if len(rs) == 0 {
		return nil, nil
	}
	b := make([]byte, 0, len(rs)*(64+16*len(rs[0].Values)))
	for _, r := range rs {
		if err := legacyCheckReading(&r); err != nil {
			return nil, err
		}
		if len(r.Values) == 0 {
			continue
		}
		b = legacyAppendMeasurement(b, string(r.Medium))
		if r.Point != "" {
			b = append(b, ",point="...)
			b = legacyAppendKey(b, r.Point)
		}
		b = append(b, ",station="...)
		b = legacyAppendKey(b, r.Station)
		sep := byte(' ')
		flagged := false
		for i, v := range r.Values {
			if overridden(r.Values, i) {
				continue
			}
			b = append(b, sep)
			sep = ','
			b = legacyAppendKey(b, v.Metric)
			b = append(b, '=')
			b = legacyAppendFloat(b, v.Value)
			flagged = flagged || v.QC != 0
		}
		b = append(b, ","+qcField+`="`...)
		if flagged {
			b = legacyAppendQC(b, r.Values)
		}
		b = append(b, `" `...)
		b = strconv.AppendInt(b, r.Time.UnixNano(), 10)
		b = append(b, '\n')
	}
	return b, nil
}
func legacyCheckReading(r *reading.Reading) error {
	if err := checkName("station", r.Station); err != nil {
		return fmt.Errorf("reading at %v: %w", r.Time, err)
	}
	if err := checkName("medium", string(r.Medium)); err != nil {
		return fmt.Errorf("reading of station %q: %w", r.Station, err)
	}
	if r.Point != "" {
		if err := checkName("point", r.Point); err != nil {
			return fmt.Errorf("reading of station %q: %w", r.Station, err)
		}
	}
	if r.Time.Before(minTime) || r.Time.After(maxTime) {
		return fmt.Errorf("reading of station %q: time %v is out of range", r.Station, r.Time)
	}
	for _, v := range r.Values {
		if err := checkName("metric", v.Metric); err != nil {
			return fmt.Errorf("reading of station %q: %w", r.Station, err)
		}
		if v.Metric == qcField {
			return fmt.Errorf("reading of station %q: metric %q is the name of the flags' field", r.Station, v.Metric)
		}
		if math.IsNaN(v.Value) || math.IsInf(v.Value, 0) {
			return fmt.Errorf("reading of station %q: %s is %v", r.Station, v.Metric, v.Value)
		}
	}
	return nil
}
func legacyAppendQC(b []byte, vs []reading.Value) []byte {
	obj := []byte{'{'}
	for i, v := range vs {
		if v.QC == 0 || overridden(vs, i) {
			continue
		}
		if len(obj) > 1 {
			obj = append(obj, ',')
		}
		name, _ := json.Marshal(v.Metric) // checkReading let only valid UTF-8 through
		obj = append(obj, name...)
		obj = append(obj, `:"`...)
		for j, n := range v.QC.Names() {
			if j > 0 {
				obj = append(obj, ',')
			}
			obj = append(obj, n...)
		}
		obj = append(obj, '"')
	}
	obj = append(obj, '}')
	// Line protocol escapes a string's quotes and backslashes.
	for _, c := range obj {
		if c == '"' || c == '\\' {
			b = append(b, '\\')
		}
		b = append(b, c)
	}
	return b
}
func legacyAppendMeasurement(b []byte, s string) []byte {
	return legacyAppendEscaped(b, s, ", ")
}
func legacyAppendKey(b []byte, s string) []byte {
	return legacyAppendEscaped(b, s, ",= ")
}
func legacyAppendEscaped(b []byte, s, special string) []byte {
	if !strings.ContainsAny(s, special) {
		return append(b, s...)
	}
	for i := 0; i < len(s); i++ {
		if strings.IndexByte(special, s[i]) >= 0 {
			b = append(b, '\\')
		}
		b = append(b, s[i])
	}
	return b
}
func legacyAppendFloat(b []byte, v float64) []byte {
	return strconv.AppendFloat(b, v, 'g', -1, 64)
}
