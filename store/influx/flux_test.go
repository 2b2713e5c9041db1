package influx

import (
	"math"
	"strings"
	"testing"
	"time"

	"github.com/envmon/envmon/internal/secret"
	"github.com/envmon/envmon/internal/testenv"
	"github.com/envmon/envmon/reading"
	"github.com/envmon/envmon/store"
)

func TestFluxLiteral(t *testing.T) {
	tests := []struct {
		name string
		in   any
		want string // "" means an error
	}{
		{"empty string", ``, `""`},
		{"plain", `s1`, `"s1"`},
		{"quote", `a"b`, `"a\"b"`},
		{"backslash", `a\b`, `"a\\b"`},
		{"backslash quote", `a\"`, `"a\\\""`},
		{"trailing backslash", `a\`, `"a\\"`},
		{"interpolation", `${x}`, `"\${x}"`},
		{"dollar alone", `$x {`, `"$x {"`},
		{"trailing dollar", `a$`, `"a$"`},
		{"newline tab return", "a\nb\tc\r", `"a\nb\tc\r"`},
		{"other control characters", "nul\x00esc\x1bdel\x7f", `"nul\x00esc\x1bdel\x7f"`},
		{"unicode", `北京`, `"北京"`},
		{"close and drop", `") |> drop(columns: ["_value"]) //`, `"\") |> drop(columns: [\"_value\"]) //"`},
		{"close, newline and yield", "\")\n|> yield()\n//", `"\")\n|> yield()\n//"`},
		{"escaped close", `\") |> drop(`, `"\\\") |> drop("`},
		{"params in a value", `params.station`, `"params.station"`},
		{"invalid UTF-8", "\xff\")", ""},
		{"time", time.Date(2024, 5, 1, 8, 0, 0, 123456789, time.FixedZone("UTC+8", 8*3600)), `2024-05-01T00:00:00.123456789Z`},
		{"whole second", time.Date(2024, 5, 1, 0, 0, 0, 0, time.UTC), `2024-05-01T00:00:00Z`},
		{"min time", minTime, `1677-09-21T00:12:43.145224194Z`},
		{"max time", maxTime, `2262-04-11T23:47:16.854775806Z`},
		{"time too early", time.Time{}, ""},
		{"time too late", time.Date(3000, 1, 1, 0, 0, 0, 0, time.UTC), ""},
		{"duration", 90 * time.Second, `90000000000ns`},
		{"negative duration", -time.Nanosecond, `-1ns`},
		{"zero duration", time.Duration(0), `0ns`},
		{"min duration", time.Duration(math.MinInt64), ""},
		{"int", 10000, `10000`},
		{"negative int", -3, `-3`},
		{"min int", math.MinInt, ""},
		{"bool", true, `true`},
		{"float", 1.5, ""},
		{"nil", nil, ""},
		{"slice", []string{"a"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := fluxLiteral(tt.in)
			switch {
			case tt.want == "" && err == nil:
				t.Errorf("fluxLiteral(%#v) = %s, want an error", tt.in, got)
			case tt.want != "" && err != nil:
				t.Errorf("fluxLiteral(%#v): %v", tt.in, err)
			case got != tt.want:
				t.Errorf("fluxLiteral(%#v) = %s, want %s", tt.in, got, tt.want)
			}
			if s, ok := tt.in.(string); ok && err == nil {
				// One line, and no quote but the last ends it.
				if strings.ContainsAny(got, "\n\r") {
					t.Errorf("fluxLiteral(%q) = %s spans lines", s, got)
				}
				for i := 1; i < len(got)-1; i++ {
					if got[i] == '"' && !escaped(got, i) {
						t.Errorf("fluxLiteral(%q) = %s: unescaped quote at %d", s, got, i)
					}
				}
			}
		})
	}
}

// escaped reports whether s[i] follows an odd number of backslashes.
func escaped(s string, i int) bool {
	n := 0
	for j := i - 1; j >= 0 && s[j] == '\\'; j-- {
		n++
	}
	return n%2 == 1
}

func TestFluxQuery(t *testing.T) {
	tests := []struct {
		name   string
		tmpl   string
		params map[string]any
		want   string // "" means an error
	}{
		{"none", `from(bucket: "b")`, nil, `from(bucket: "b")`},
		{"one", `r.station == params.station`, map[string]any{"station": "s1"}, `r.station == "s1"`},
		{"twice and a digit", `params.s1 or params.s1 and params.s10`, map[string]any{"s1": "a", "s10": 2}, `"a" or "a" and 2`},
		{"at the end", `n: params.n`, map[string]any{"n": 1}, `n: 1`},
		{"value is not read again", `params.a + params.b`, map[string]any{"a": "params.b", "b": "x"}, `"params.b" + "x"`},
		{"injection", `filter(fn: (r) => r.station == params.s)`, map[string]any{"s": `") |> drop(columns: ["_value"]) |> yield() //`},
			`filter(fn: (r) => r.station == "\") |> drop(columns: [\"_value\"]) |> yield() //")`},
		{"missing", `params.a and params.b`, map[string]any{"a": "x"}, ""},
		{"unused", `params.a`, map[string]any{"a": "x", "b": "y"}, ""},
		{"no literal", `params.a`, map[string]any{"a": 1.5}, ""},
		{"empty name", `params.`, map[string]any{}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := fluxQuery(tt.tmpl, tt.params)
			switch {
			case tt.want == "" && err == nil:
				t.Errorf("fluxQuery = %s, want an error", got)
			case tt.want != "" && err != nil:
				t.Errorf("fluxQuery: %v", err)
			case got != tt.want:
				t.Errorf("fluxQuery = %s, want %s", got, tt.want)
			}
		})
	}
}

// TestInjection asks a real InfluxDB for stations and metrics whose names
// try to end the string they are in; each must match only itself.
func TestInjection(t *testing.T) {
	in := testenv.Influxd(t)
	const db = "injection"
	in.CreateDatabase(t, db)
	s, err := New(t.Context(), Config{URL: in.URL, Org: in.Org, Bucket: db + "/autogen", Token: secret.New(in.Token)})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	at := time.Now().Add(-time.Minute).Truncate(time.Millisecond)
	names := []string{
		`s1`,
		`s1" or r.station != "`,
		`") |> drop(columns: ["station"]) //`,
		`${r.station}`,
		`s1"`,
	}
	var rs []reading.Reading
	for i, name := range names {
		rs = append(rs, reading.Reading{Point: "p", Station: name, Medium: reading.Air, Time: at,
			Values: []reading.Value{{Metric: "pm25", Value: float64(i)}, {Metric: name, Value: float64(100 + i)}}})
	}
	if err := s.Write(t.Context(), rs); err != nil {
		t.Fatal(err)
	}
	for i, name := range names {
		got, err := s.Query(t.Context(), store.Query{Station: name, Metric: "pm25"})
		if err != nil || len(got) != 1 || got[0].Value != float64(i) {
			t.Errorf("Query of station %q = %v, %v; want its one value %d", name, got, err, i)
		}
		got, err = s.Query(t.Context(), store.Query{Station: "s1", Metric: name})
		want := 0
		if i == 0 {
			want = 1 // s1's own metric s1
		}
		if err != nil || len(got) != want {
			t.Errorf("Query of metric %q of s1 = %v, %v; want %d values", name, got, err, want)
		}
		q := store.AggregateQuery{Station: name, Metric: "pm25", From: at.Add(-time.Hour), To: at.Add(time.Hour), Every: 2 * time.Hour, Fn: store.FnMax}
		bs, err := s.Aggregate(t.Context(), q)
		if err != nil || len(bs) != 1 || bs[0].Count != 1 || bs[0].Value != float64(i) {
			t.Errorf("Aggregate of station %q = %+v, %v; want one bucket of its one value", name, bs, err)
		}
	}
	for _, bad := range []string{"s1\n|> drop()", `back\slash`} {
		if _, err := s.Query(t.Context(), store.Query{Station: bad, Metric: "pm25"}); err == nil {
			t.Errorf("Query of station %q succeeded, want it rejected", bad)
		}
	}
}
