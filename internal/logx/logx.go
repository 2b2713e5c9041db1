// Package logx bounds log lines: a slog.Handler wrapper that cuts every
// string in a record to a fixed size and renders control bytes compactly,
// so that no input — a 60 KB topic of NUL bytes, a 100 MB payload quoted in
// an error — can make one log line large.
package logx

import (
	"context"
	"encoding"
	"fmt"
	"log/slog"
	"reflect"
	"strconv"
	"strings"
	"unicode/utf8"
)

// DefaultMax is the bound on a message or string attribute, in bytes, that
// New uses when given no other.
const DefaultMax = 512

// Handler wraps another slog.Handler and bounds what it is given: the
// message, every attribute key and every string value (errors, Stringers
// and other values are rendered to text first when their text is long) is
// cut to at most Max bytes plus a marker "…(N bytes)" that says how long it
// was, and every run of control bytes or invalid UTF-8 becomes "�" followed
// by "×n" when the run is longer than one byte. So a line carries at most
// about Max bytes per attribute, whatever the input.
type Handler struct {
	inner slog.Handler
	max   int
}

// New returns a Handler that bounds strings to max bytes (DefaultMax if
// max ≤ 0) before passing records to inner.
func New(inner slog.Handler, max int) *Handler {
	if max <= 0 {
		max = DefaultMax
	}
	return &Handler{inner: inner, max: max}
}

// Enabled reports whether the wrapped handler handles level.
func (h *Handler) Enabled(ctx context.Context, level slog.Level) bool {
	return h.inner.Enabled(ctx, level)
}

// Handle bounds r and passes it on.
func (h *Handler) Handle(ctx context.Context, r slog.Record) error {
	out := slog.NewRecord(r.Time, r.Level, Bound(r.Message, h.max), r.PC)
	r.Attrs(func(a slog.Attr) bool {
		out.AddAttrs(h.attr(a))
		return true
	})
	return h.inner.Handle(ctx, out)
}

// WithAttrs bounds as and passes them on.
func (h *Handler) WithAttrs(as []slog.Attr) slog.Handler {
	bounded := make([]slog.Attr, len(as))
	for i, a := range as {
		bounded[i] = h.attr(a)
	}
	return &Handler{inner: h.inner.WithAttrs(bounded), max: h.max}
}

// WithGroup bounds the group's name and passes it on.
func (h *Handler) WithGroup(name string) slog.Handler {
	return &Handler{inner: h.inner.WithGroup(Bound(name, h.max)), max: h.max}
}

func (h *Handler) attr(a slog.Attr) slog.Attr {
	a.Key = Bound(a.Key, h.max)
	v := a.Value.Resolve()
	switch v.Kind() {
	case slog.KindString:
		a.Value = slog.StringValue(Bound(v.String(), h.max))
	case slog.KindGroup:
		as := v.Group()
		bounded := make([]slog.Attr, len(as))
		for i, g := range as {
			bounded[i] = h.attr(g)
		}
		a.Value = slog.GroupValue(bounded...)
	case slog.KindAny:
		a.Value = h.anyValue(v)
	default:
		a.Value = v
	}
	return a
}

// anyValue bounds a value of kind Any. Errors, Stringers, TextMarshalers
// and byte slices become their (bounded) text. A struct, or anything that
// holds one, becomes its type name only ("packets.Packet{…}"): dumping a
// struct's fields is how passwords reach logs (mochi logs whole packets,
// CONNECT passwords included, on protocol errors). Any other value —
// numbers, strings, slices and maps of them — keeps its structure unless
// its %+v text is longer than the bound, in which case it becomes that
// text, bounded.
func (h *Handler) anyValue(v slog.Value) slog.Value {
	var text string
	switch x := v.Any().(type) {
	case error:
		text = x.Error()
	case fmt.Stringer:
		text = x.String()
	case encoding.TextMarshaler:
		b, err := x.MarshalText()
		if err != nil {
			return v
		}
		text = string(b)
	case []byte:
		text = string(x)
	default:
		if t := reflect.TypeOf(x); t != nil && !plain(t, 0) {
			return slog.StringValue(t.String() + "{…}")
		}
		text = fmt.Sprintf("%+v", x)
		if len(text) <= h.max && clean(text) {
			return v
		}
	}
	return slog.StringValue(Bound(text, h.max))
}

// plain reports whether values of t print without showing a struct's
// fields: scalars, and arrays, slices, maps and pointers of them.
func plain(t reflect.Type, depth int) bool {
	if depth > 4 {
		return false
	}
	switch t.Kind() {
	case reflect.Bool, reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr,
		reflect.Float32, reflect.Float64, reflect.Complex64, reflect.Complex128, reflect.String:
		return true
	case reflect.Array, reflect.Slice, reflect.Pointer:
		return plain(t.Elem(), depth+1)
	case reflect.Map:
		return plain(t.Key(), depth+1) && plain(t.Elem(), depth+1)
	}
	return false // struct, interface, func, chan
}

// Bound returns s with every run of control bytes (C0, DEL, C1) or invalid
// UTF-8 replaced by "�" (and "×n" for a run of n > 1), cut to at most max
// bytes at a character boundary; a cut string ends in "…(N bytes)", N
// being the length of s.
func Bound(s string, max int) string {
	if len(s) <= max && clean(s) {
		return s
	}
	var b strings.Builder
	b.Grow(min(len(s), max) + 24)
	i := 0
	for i < len(s) {
		r, size := utf8.DecodeRuneInString(s[i:])
		piece, next := s[i:i+size], i+size
		if control(r, size) {
			for next < len(s) {
				r, size := utf8.DecodeRuneInString(s[next:])
				if !control(r, size) {
					break
				}
				next += size
			}
			piece = "\uFFFD"
			if n := next - i; n > 1 {
				piece += "×" + strconv.Itoa(n)
			}
		}
		if b.Len()+len(piece) > max {
			break
		}
		b.WriteString(piece)
		i = next
	}
	if i < len(s) {
		b.WriteString("…(")
		b.WriteString(strconv.Itoa(len(s)))
		b.WriteString(" bytes)")
	}
	return b.String()
}

// clean reports whether s is valid UTF-8 with no control characters.
func clean(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c == 0x7f {
			return false
		}
		if c >= 0x80 {
			for _, r := range s[i:] {
				if r == utf8.RuneError || r < 0x20 || (r >= 0x7f && r < 0xa0) {
					return false
				}
			}
			return true
		}
	}
	return true
}

// control reports whether the rune r, of size bytes in its text, is a
// control character or an invalid byte.
func control(r rune, size int) bool {
	return (r == utf8.RuneError && size == 1) || r < 0x20 || (r >= 0x7f && r < 0xa0)
}
