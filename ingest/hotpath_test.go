package ingest

import (
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
	"unsafe"

	"github.com/envmon/envmon/reading"
)

// TestMetricIndex: the index finds what a map of the catalogue finds.
func TestMetricIndex(t *testing.T) {
	byName := map[string]reading.Metric{}
	for _, mt := range reading.Metrics {
		byName[mt.Name] = mt
	}
	names := []string{"", "x", "pm", "pm2", "pm250", "PM25", "pm25 ", " pm25", "lat\x00", "qc", strings.Repeat("a", 300)}
	for _, mt := range reading.Metrics {
		names = append(names, mt.Name, mt.Name[1:], mt.Name+"x", strings.ToUpper(mt.Name))
	}
	for _, name := range names {
		want, wok := byName[name]
		got, ok := catalogue.lookup([]byte(name))
		if ok != wok || ok && *got != want {
			t.Errorf("lookup(%q) = %v, %v; want %v, %v", name, got, ok, want, wok)
		}
		wantUnit := ""
		if wok {
			wantUnit = canonicalUnit([]byte(want.Unit))
		}
		if got := catalogue.unit(name); got != wantUnit {
			t.Errorf("unit(%q) = %q, want %q", name, got, wantUnit)
		}
	}
	// A catalogue of many names, one given twice, and an empty one.
	var many []reading.Metric
	for i := range 500 {
		many = append(many, reading.Metric{Name: fmt.Sprintf("m%d", i), Unit: "a"})
	}
	many = append(many, reading.Metric{Name: "m7", Unit: "b"}, reading.Metric{Name: ""})
	x := newMetricIndex(many)
	for i := range 600 {
		name := fmt.Sprintf("m%d", i)
		mt, ok := x.lookup([]byte(name))
		switch {
		case ok != (i < 500):
			t.Errorf("lookup(%q) found %v", name, ok)
		case ok && (mt.Name != name || mt.Unit != map[bool]string{true: "b", false: "a"}[i == 7]):
			t.Errorf("lookup(%q) = %+v", name, mt)
		}
	}
	if mt, ok := x.lookup(nil); !ok || mt.Name != "" {
		t.Errorf("lookup of the empty name = %v, %v", mt, ok)
	}
}

func TestSortValues(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for n := range 40 {
		for range 50 {
			vs := make([]reading.Value, n)
			for i := range vs {
				vs[i] = reading.Value{Metric: fmt.Sprintf("m%d", rng.IntN(2*n+1)), Value: float64(i)}
			}
			got := slices.Clone(vs)
			sortValues(got)
			if !slices.IsSortedFunc(got, func(a, b reading.Value) int { return strings.Compare(a.Metric, b.Metric) }) {
				t.Fatalf("sortValues(%v) = %v", vs, got)
			}
			// The same values, in the order of their names where those differ.
			want := slices.Clone(vs)
			slices.SortStableFunc(want, func(a, b reading.Value) int { return strings.Compare(a.Metric, b.Metric) })
			key := func(vs []reading.Value) map[string][]float64 {
				m := map[string][]float64{}
				for _, v := range vs {
					m[v.Metric] = append(m[v.Metric], v.Value)
				}
				for _, x := range m {
					slices.Sort(x)
				}
				return m
			}
			if !reflect.DeepEqual(key(got), key(want)) {
				t.Fatalf("sortValues(%v) = %v, want %v", vs, got, want)
			}
		}
	}
}

func TestNativeFieldIndex(t *testing.T) {
	for i, name := range nativeFields {
		if got := nativeField([]byte(name)); got != i {
			t.Errorf("nativeField(%q) = %d, want %d", name, got, i)
		}
	}
	for _, name := range []string{"", "x", "Ts", "value", "valuesx"} {
		if got := nativeField([]byte(name)); got != -1 {
			t.Errorf("nativeField(%q) = %d, want -1", name, got)
		}
	}
}

// TestDecodeCapacities: a decoded reading's slices have the room they had
// when each was made on its own.
func TestDecodeCapacities(t *testing.T) {
	air := Topic{Point: "p1", Station: "st-1", Medium: reading.Air}
	ms := now.Add(-time.Minute).UnixMilli()
	for _, tt := range []struct {
		payload     string
		values, cap int
	}{
		{`{"ts":` + itoa(ms) + `,"values":{"pm25":1,"pm10":2}}`, 2, 4},
		{`{"ts":` + itoa(ms) + `,"values":{"pm25":1,"pm10":2,"o3":3,"no2":4,"so2":5,"co":6},"lat":1,"lon":2}`, 8, 8},
		{`{"ts":` + itoa(ms) + `,"values":{"pm25":1,"pm10":2,"o3":3,"no2":4,"so2":5,"co":6,"temp":7}}`, 7, 9},
		{`[{"bt":` + itoa(ms/1000) + `,"n":"pm25","v":1},{"n":"pm10","v":2}]`, 2, 2},
		{`[{"bt":` + itoa(ms/1000) + `,"n":"pm25","v":1},{"n":"pm10","v":2},{"n":"o3","v":3},{"n":"no2","v":4},{"n":"so2","v":5},{"n":"co","v":6},{"n":"temp","v":7},{"n":"rh","v":8},{"n":"pressure","v":9}]`, 9, 9},
	} {
		rs, rj := Decode(air, []byte(tt.payload), Limits{}, now)
		if rj != nil {
			t.Fatalf("Decode(%s): %v", tt.payload, rj)
		}
		if len(rs) != 1 || cap(rs) != 1 || len(rs[0].Values) != tt.values || cap(rs[0].Values) != tt.cap {
			t.Errorf("Decode(%s): %d readings (room for %d), %d values (room for %d); want 1 (1), %d (%d)",
				tt.payload, len(rs), cap(rs), len(rs[0].Values), cap(rs[0].Values), tt.values, tt.cap)
		}
	}
}

// TestTopicLevels: topicLevels splits as strings.SplitN did.
func TestTopicLevels(t *testing.T) {
	for _, topic := range []string{"", "/", "//", "///", "////", "a/b/c/d", "a/b/c/d/", "/a/b/c", "a/b/c", "a/b/c/d/e",
		"envmon/p1/st-1/air", "envmon//st-1/air", "envmon/p1/st-1/", "envmon/p1/st-1/air/x", "envmon/p1/st-1", "a//b/c"} {
		parts := strings.SplitN(topic, "/", 5)
		levels, ok := topicLevels(topic)
		if ok != (len(parts) == 4) || ok && !slices.Equal(levels[:], parts) {
			t.Errorf("topicLevels(%q) = %q, %v; SplitN gives %q", topic, levels, ok, parts)
		}
	}
}

// TestRecordNames: a record's medium and metrics come from the catalogue,
// so they take no allocation, with or without names; other names decode
// as before.
func TestRecordNames(t *testing.T) {
	a := Accepted{Reading: reading.Reading{Point: "p1", Station: "st-1", Medium: reading.Water, Time: time.Unix(1763800000, 0).UTC(),
		Values: []reading.Value{{Metric: "ph", Value: 7}, {Metric: "not-a-metric", Value: 1}}}, Arrived: time.Unix(1763800001, 0).UTC()}
	odd := a
	odd.Medium = "plasma"
	for _, a := range []Accepted{a, odd} {
		b := appendRecord(nil, &a)
		var ns names
		for _, n := range []*names{nil, &ns} {
			got, err := decodeRecordWith(b, n)
			if err != nil || !reflect.DeepEqual(got, a) {
				t.Fatalf("decodeRecordWith = %+v, %v; want %+v", got, err, a)
			}
			mt, _ := catalogue.lookup([]byte("ph"))
			if unsafe.StringData(got.Values[0].Metric) != unsafe.StringData(mt.Name) {
				t.Errorf("metric ph is not the catalogue's string")
			}
			if got.Medium == reading.Water && unsafe.StringData(string(got.Medium)) != unsafe.StringData(string(reading.Water)) {
				t.Errorf("medium water is not the constant")
			}
		}
	}
	b := appendRecord(nil, &a)
	if n := testing.AllocsPerRun(100, func() { decodeRecord(b) }); n > 4 {
		// The values, and the point, station and unknown metric.
		t.Errorf("decodeRecord allocates %v times, want 4", n)
	}
}
