package logx

import (
	"bytes"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestBound(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, in string
		max      int
		want     string
	}{
		{"short", "envmon/p1/st-1/air", 64, "envmon/p1/st-1/air"},
		{"exactly max", "abcd", 4, "abcd"},
		{"cut", "abcdefgh", 4, "abcd…(8 bytes)"},
		{"cut before a character", "ab€cd", 4, "ab…(7 bytes)"},
		{"one control byte", "a\x00b", 64, "a\uFFFDb"},
		{"newline", "line1\nline2", 64, "line1\uFFFDline2"},
		{"run of control bytes", "a" + strings.Repeat("\x01", 60<<10) + "b", 64, "a\uFFFD×61440b"},
		{"run then cut", strings.Repeat("\x00", 100) + strings.Repeat("x", 100), 16, "\uFFFD×100xxxxxxxx…(200 bytes)"},
		{"invalid UTF-8", "a\xff\xfeb", 64, "a\uFFFD×2b"},
		{"C1 control", "a\u0085b", 64, "a\uFFFD×2b"},
		{"replacement character kept", "a\uFFFDb", 64, "a\uFFFDb"},
		{"unicode kept", "µg/m³ · 北京", 64, "µg/m³ · 北京"},
		{"empty", "", 4, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := Bound(tt.in, tt.max)
			if got != tt.want {
				t.Errorf("Bound(%.40q, %d) = %q, want %q", tt.in, tt.max, got, tt.want)
			}
			if !utf8.ValidString(got) {
				t.Errorf("Bound gave invalid UTF-8 %q", got)
			}
			if len(got) > tt.max+len("…(")+20+len(" bytes)") {
				t.Errorf("Bound gave %d bytes, bound %d", len(got), tt.max)
			}
		})
	}
}

// stringer is a fmt.Stringer with a long text.
type stringer struct{ s string }

func (s stringer) String() string { return s.s }

func TestHandlerBoundsEveryString(t *testing.T) {
	t.Parallel()
	const max = 128
	huge := "envmon/" + strings.Repeat("\x00\x01\x7f", 20<<10) + "/x/air"
	long := strings.Repeat("y", 100<<10)
	for _, tt := range []struct {
		name string
		new  func(*bytes.Buffer) slog.Handler
	}{
		{"text", func(b *bytes.Buffer) slog.Handler { return slog.NewTextHandler(b, nil) }},
		{"json", func(b *bytes.Buffer) slog.Handler { return slog.NewJSONHandler(b, nil) }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var b bytes.Buffer
			log := slog.New(New(tt.new(&b), max)).With("pre", long).WithGroup("grp")
			log.Warn(long+"\n", "topic", huge, "detail", `topic "`+huge+`" is bad`,
				"err", errors.New(long), "stringer", stringer{long}, "bytes", []byte(huge),
				"slice", []string{long}, slog.Group("g", "inner", long), long, 1, "n", 42)
			out := b.String()
			// 10 strings of at most max bytes plus marker, the fixed fields and the
			// JSON or text syntax around them.
			if len(out) > 12*(max+32)+200 {
				t.Errorf("log line of %d bytes:\n%.2000s", len(out), out)
			}
			if strings.Count(out, "\n") != 1 {
				t.Errorf("want one line, got %q", out)
			}
			if !strings.Contains(out, "bytes)") || !strings.Contains(out, "42") {
				t.Errorf("line lacks its markers or its small values:\n%s", out)
			}
			if tt.name == "json" {
				var m map[string]any
				if err := json.Unmarshal(b.Bytes(), &m); err != nil {
					t.Errorf("not one JSON object: %v", err)
				}
			}
		})
	}
}

func TestHandlerKeepsSmallValues(t *testing.T) {
	t.Parallel()
	var b bytes.Buffer
	slog.New(New(slog.NewJSONHandler(&b, nil), 0)).Info("stored", "n", 3, "ok", true, "ids", []string{"st-1", "st-2"}, "err", errors.New("boom"))
	var m map[string]any
	if err := json.Unmarshal(b.Bytes(), &m); err != nil {
		t.Fatal(err)
	}
	if m["msg"] != "stored" || m["n"] != 3.0 || m["ok"] != true || m["err"] != "boom" {
		t.Errorf("record changed: %v", m)
	}
	if ids, ok := m["ids"].([]any); !ok || len(ids) != 2 {
		t.Errorf("a small slice lost its structure: %v", m["ids"])
	}
}

// packet is shaped like mochi's packets.Packet, which mochi logs whole.
type packet struct {
	Connect struct {
		Username, Password []byte
	}
	Payload []byte
}

func TestHandlerNeverDumpsStructs(t *testing.T) {
	t.Parallel()
	pk := packet{Payload: []byte("payload")}
	pk.Connect.Username, pk.Connect.Password = []byte("st-1"), []byte("hunter2")
	for _, v := range []any{pk, &pk, []packet{pk}, map[string]any{"pk": pk}, []any{pk}} {
		var b bytes.Buffer
		slog.New(New(slog.NewTextHandler(&b, nil), 0)).Warn("error processing packet", "error", errors.New("malformed"), "pk", v)
		out := b.String()
		for _, leak := range []string{"hunter2", "104 117 110", "payload"} {
			if strings.Contains(out, leak) {
				t.Errorf("%T: %q shows in %s", v, leak, out)
			}
		}
		if !strings.Contains(out, "{…}") || !strings.Contains(out, "malformed") {
			t.Errorf("%T: %s", v, out)
		}
	}
}

func TestHandlerLevel(t *testing.T) {
	t.Parallel()
	h := New(slog.NewTextHandler(&bytes.Buffer{}, &slog.HandlerOptions{Level: slog.LevelWarn}), 0)
	if h.Enabled(t.Context(), slog.LevelInfo) || !h.Enabled(t.Context(), slog.LevelError) {
		t.Error("Enabled does not follow the wrapped handler")
	}
}
