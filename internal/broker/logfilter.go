package broker

import (
	"context"
	"fmt"
	"log/slog"
	"reflect"
	"strings"
	"unicode/utf8"

	"github.com/mochi-mqtt/server/v2/packets"
)

// maxLogString is the most bytes of one string that the broker's log
// keeps; the rest is replaced by a note of how much was cut.
const maxLogString = 256

// mochiPkgPrefix is the import path of mochi's packages.
const mochiPkgPrefix = "github.com/mochi-mqtt/server/v2"

// logFilter is the slog.Handler envmon gives mochi. mochi logs whole
// packets, for example every packet that fails to process, at WARN: a
// second CONNECT with a station's password, a PUBLISH with its payload.
// logFilter reduces a packet to its type and packet id, any other value of
// mochi's types to its type's name, a byte slice to its length, and bounds
// every string (message, key, value, error) to maxLogString bytes.
type logFilter struct {
	next slog.Handler
}

func newLogFilter(next slog.Handler) *logFilter { return &logFilter{next: next} }

func (f *logFilter) Enabled(ctx context.Context, l slog.Level) bool {
	return f.next.Enabled(ctx, l)
}

func (f *logFilter) Handle(ctx context.Context, r slog.Record) error {
	out := slog.NewRecord(r.Time, r.Level, boundString(r.Message), r.PC)
	r.Attrs(func(a slog.Attr) bool {
		out.AddAttrs(filterAttr(a))
		return true
	})
	return f.next.Handle(ctx, out)
}

func (f *logFilter) WithAttrs(as []slog.Attr) slog.Handler {
	fs := make([]slog.Attr, len(as))
	for i, a := range as {
		fs[i] = filterAttr(a)
	}
	return &logFilter{next: f.next.WithAttrs(fs)}
}

func (f *logFilter) WithGroup(name string) slog.Handler {
	return &logFilter{next: f.next.WithGroup(boundString(name))}
}

// filterAttr returns a with its value reduced as logFilter describes.
func filterAttr(a slog.Attr) slog.Attr {
	key := boundString(a.Key)
	v := a.Value.Resolve()
	switch v.Kind() {
	case slog.KindString:
		return slog.String(key, boundString(v.String()))
	case slog.KindGroup:
		as := v.Group()
		fs := make([]any, len(as))
		for i, g := range as {
			fs[i] = filterAttr(g)
		}
		return slog.Group(key, fs...)
	case slog.KindAny:
		return slog.Attr{Key: key, Value: filterAny(key, v.Any())}
	}
	return slog.Attr{Key: key, Value: v} // numbers, times, durations
}

func filterAny(key string, x any) slog.Value {
	switch x := x.(type) {
	case nil:
		return slog.AnyValue(nil)
	case packets.Packet:
		return packetSummary(&x)
	case *packets.Packet:
		if x == nil {
			return slog.StringValue("<nil>")
		}
		return packetSummary(x)
	case error:
		return slog.StringValue(boundString(x.Error()))
	case []byte:
		return slog.StringValue(fmt.Sprintf("<%d bytes>", len(x)))
	}
	if t := reflect.TypeOf(x); key == "packet" || key == "pk" || holdsMochi(t, 0) {
		return slog.StringValue(t.String())
	}
	if s, ok := x.(fmt.Stringer); ok {
		return slog.StringValue(boundString(s.String()))
	}
	return slog.StringValue(boundString(fmt.Sprint(x)))
}

// holdsMochi reports whether t is one of mochi's types or a pointer to,
// or a collection of, one. Printed, such a value may show a packet.
func holdsMochi(t reflect.Type, depth int) bool {
	if depth > 4 {
		return true // a type this deep is no log value; leave it out
	}
	switch t.Kind() {
	case reflect.Pointer, reflect.Slice, reflect.Array, reflect.Chan:
		return holdsMochi(t.Elem(), depth+1)
	case reflect.Map:
		return holdsMochi(t.Key(), depth+1) || holdsMochi(t.Elem(), depth+1)
	}
	return strings.HasPrefix(t.PkgPath(), mochiPkgPrefix)
}

// packetSummary is what the log keeps of a packet: its type and id.
func packetSummary(pk *packets.Packet) slog.Value {
	name, ok := packets.PacketNames[pk.FixedHeader.Type]
	if !ok {
		name = fmt.Sprintf("type %d", pk.FixedHeader.Type)
	}
	return slog.GroupValue(slog.String("type", name), slog.Int("id", int(pk.PacketID)))
}

// boundString cuts s to at most maxLogString bytes, at a rune boundary,
// and says how long it was.
func boundString(s string) string {
	if len(s) <= maxLogString {
		return s
	}
	cut := maxLogString
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return fmt.Sprintf("%s…(%d bytes)", s[:cut], len(s))
}
