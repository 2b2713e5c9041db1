package ingest

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/valyala/fastjson"

	"github.com/envmon/envmon/reading"
)

// legacyParse is what parse replaces: the validator, then the parser.
func legacyParse(p *fastjson.Parser, data []byte) (*fastjson.Value, error) {
	if err := fastjson.ValidateBytes(data); err != nil {
		return nil, err
	}
	return p.ParseBytes(data)
}

// parseSeeds are payloads where fastjson's parser and validator disagree,
// or nearly do.
var parseSeeds = []string{
	`{"ts":1763800000000,"values":{"pm25":35.5,"pm10":61.2},"seq":12345}`,
	`[{"bn":"urn:dev:envmon:st-1:","bt":1763800000.123,"n":"pm25","v":35.5},{"n":"co","u":"mg/m3","v":0.71}]`,
	`{"a":NaN}`, `{"a":nan}`, `{"a":nAn}`, `{"a":-NaN}`, `{"a":inf}`, `{"a":-Inf}`, `{"a":+inf}`, `{"a":infinity}`,
	`{"a":01}`, `{"a":-01}`, `{"a":00}`, `{"a":0}`, `{"a":-0}`, `{"a":-0.0e-0}`, `{"a":1.2.3}`, `{"a":+1}`, `{"a":-}`,
	`{"a":1.}`, `{"a":.5}`, `{"a":1e}`, `{"a":1e+}`, `{"a":1E5}`, `{"a":1e-5}`, `{"a":1-2}`, `{"a":1ee2}`, `{"a":--1}`,
	`{"a":12345678901234567890123456789012345678901234567890}`, `{"a":1e99999}`,
	"{\"a\":\"x\ty\"}", "{\"a\":\"x\x00\"}", "{\"a\x01\":1}", "{\"a\":\"\x1f\"}", "{\"a\":\"\x7f\"}", "{\"a\":\"\xff\"}",
	`{"a":"\u0041"}`, `{"a\u0041":1}`, `{"a":"\x"}`, `{"a":"\u12"}`, `{"a":"\uZZZZ"}`, `{"a":"\ud800"}`, `{"a":"\ud800\u0041"}`,
	`{"a":"\""}`, `{"a":"\\"}`, `{"a":"\/"}`, "{\"a\":\"\x01\\n\"}", `{"a":{"b":"\u0041","c\u0041":[1,"\t"]}}`,
	`{"a":[1,2,]}`, `{"a":1,}`, `{,}`, `{"a"}`, `{"a":}`, `{"a" 1}`, `[1 2]`, `[`, `{`, `[]`, `{}`, `[{}]`, `{"a":[]}`,
	`{"a":true}`, `{"a":tru}`, `{"a":false}`, `{"a":null}`, `{"a":nul}`, `{"a":nulll}`,
	`{} `, `{}x`, `{}{}`, ` {"a":1}`, "{\n\"a\"\t:\r1 }\n", `{"a":1}]`, `[1]]`,
	strings.Repeat("[", 300) + strings.Repeat("]", 300), strings.Repeat("[", 301) + strings.Repeat("]", 301),
	strings.Repeat("[", 299) + "1" + strings.Repeat("]", 299), strings.Repeat("[", 300) + "1" + strings.Repeat("]", 300),
	strings.Repeat("[", 300), strings.Repeat("[", 301), strings.Repeat(`{"a":`, 301) + "1" + strings.Repeat("}", 301),
	`["` + strings.Repeat("[", 400) + `"]`, `["\"` + strings.Repeat("[", 400) + `"]`, `["\\"` + strings.Repeat("[", 400) + `]`,
	`{"seq":{"x":"\u0041"},"values":{"pm25":[1,"\u0042"]}}`,
}

// TestParseAsValidated checks that parse gives what validating and then
// parsing gives: the same error, or a document that marshals the same.
func TestParseAsValidated(t *testing.T) {
	for _, s := range parseSeeds {
		checkParse(t, []byte(s))
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range parseSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) { checkParse(t, data) })
}

func checkParse(t *testing.T, data []byte) {
	t.Helper()
	var legacy, p fastjson.Parser
	got, gerr := parse(&p, data)
	if nestedDeeperThan(data, fastjson.MaxDepth) {
		// Not given to the validator, whose error would take long to build:
		// the parser's error stands.
		if gerr == nil {
			t.Fatalf("parse(%q) succeeded deeper than fastjson.MaxDepth", data)
		}
		return
	}
	want, werr := legacyParse(&legacy, data)
	switch {
	case (werr == nil) != (gerr == nil):
		t.Fatalf("parse(%q): error %v, want %v", data, gerr, werr)
	case werr != nil:
		if werr.Error() != gerr.Error() {
			t.Fatalf("parse(%q): error %q, want %q", data, gerr, werr)
		}
	default:
		// What a rejection would quote of the document.
		if g, w := got.MarshalTo(nil), want.MarshalTo(nil); !bytes.Equal(g, w) {
			t.Fatalf("parse(%q) = %s, want %s", data, g, w)
		}
	}
}

func TestIsNumber(t *testing.T) {
	for _, s := range []string{"0", "-0", "1", "-1", "10", "0.5", "-0.5", "1e5", "1E5", "1e+5", "1e-5", "1.5e10", "123456789", "0e0"} {
		if !isNumber([]byte(s)) {
			t.Errorf("isNumber(%q) = false", s)
		}
	}
	for _, s := range []string{"", "-", "+1", "01", "-01", "00", "1.", ".5", "1e", "1e+", "1.e5", "1.2.3", "1-2", "NaN", "inf", "-inf", "1x", "0x1", " 1", "1 "} {
		if isNumber([]byte(s)) {
			t.Errorf("isNumber(%q) = true", s)
		}
	}
}

// TestParseDeep: a payload of brackets alone, the largest one allowed, is
// rejected at once (fastjson's validator alone takes 20 s to say why of a
// quarter of it).
func TestParseDeep(t *testing.T) {
	for _, data := range []string{strings.Repeat("[", 64<<10), strings.Repeat(`{"a":`, 12<<10), `{"a":"\u0041","b":` + strings.Repeat("[", 60<<10)} {
		start := time.Now()
		rs, rj := Decode(Topic{Point: "p1", Station: "st-1", Medium: reading.Air}, []byte(data), Limits{}, now)
		if rj == nil || rj.Reason != ReasonMalformed {
			t.Errorf("Decode(%.20q...) = %v, %v; want %s", data, rs, rj, ReasonMalformed)
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("Decode(%.20q...) took %v", data, d)
		}
	}
}

func TestNestedDeeperThan(t *testing.T) {
	for _, tt := range []struct {
		data string
		n    int
		want bool
	}{
		{"", 0, false}, {"[", 0, true}, {"[]", 1, false}, {"[[]]", 1, true}, {"[][]", 1, false},
		{`{"a":{}}`, 1, true}, {`{"[[":1}`, 1, false}, {`["\"[["]`, 1, false}, {`["\\",[[]]]`, 2, true},
		{"]][[[", 1, false}, {"]][[[", 0, true},
	} {
		if got := nestedDeeperThan([]byte(tt.data), tt.n); got != tt.want {
			t.Errorf("nestedDeeperThan(%q, %d) = %v, want %v", tt.data, tt.n, got, tt.want)
		}
	}
}

// BenchmarkParse compares parse with validating and then parsing.
func BenchmarkParse(b *testing.B) {
	data := []byte(`{"ts":1763800000000,"values":{"pm25":35.5,"pm10":61.2,"o3":80.1,"no2":40.3,"so2":8.2,"co":0.71},"seq":12345}`)
	b.Run("legacy", func(b *testing.B) {
		var p fastjson.Parser
		for b.Loop() {
			if _, err := legacyParse(&p, data); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("parse", func(b *testing.B) {
		var p fastjson.Parser
		for b.Loop() {
			if _, err := parse(&p, data); err != nil {
				b.Fatal(err)
			}
		}
	})
}
