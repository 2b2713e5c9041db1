package secret

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

const text = "hunter2"

// holder has the secret in every kind of place a program keeps one.
type holder struct {
	Token   String
	Ptr     *String
	hidden  String
	Nested  struct{ Password String }
	List    []String
	ByName  map[string]String
	private struct{ inner String }
}

type xmlDoc struct{ S String }

func newHolder() holder {
	s := New(text)
	h := holder{Token: s, Ptr: &s, hidden: s, List: []String{s}, ByName: map[string]String{"a": s}}
	h.Nested.Password = s
	h.private.inner = s
	return h
}

func TestSecretNeverPrints(t *testing.T) {
	t.Parallel()
	s := New(text)
	h := newHolder()
	var renderings []string
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%d", "%T %10.3s"} {
		renderings = append(renderings,
			fmt.Sprintf(verb, s), fmt.Sprintf(verb, &s), fmt.Sprintf(verb, h), fmt.Sprintf(verb, &h),
			fmt.Sprintf(verb, []any{s}), fmt.Sprintf(verb, map[String]int{s: 1}))
	}
	renderings = append(renderings, s.String(), s.GoString(), fmt.Sprint(s, h), fmt.Sprintln(h), fmt.Errorf("connect: %v", s).Error())

	for _, v := range []any{s, h, &h} {
		j, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		y, err := yaml.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		x, err := xml.Marshal(xmlDoc{S: s})
		if err != nil {
			t.Fatal(err)
		}
		renderings = append(renderings, string(j), string(y), string(x))
	}
	for _, newHandler := range []func(*bytes.Buffer) slog.Handler{
		func(b *bytes.Buffer) slog.Handler { return slog.NewTextHandler(b, nil) },
		func(b *bytes.Buffer) slog.Handler { return slog.NewJSONHandler(b, nil) },
	} {
		var b bytes.Buffer
		slog.New(newHandler(&b)).Info("config", "token", s, "holder", h, slog.Any("ptr", &s), slog.Group("g", "s", s))
		renderings = append(renderings, b.String())
	}
	for _, got := range renderings {
		if strings.Contains(got, text) || strings.Contains(got, fmt.Sprintf("%x", text)) || strings.Contains(got, fmt.Sprintf("%X", text)) {
			t.Errorf("secret leaked: %s", got)
		}
	}
	if !strings.Contains(fmt.Sprintf("%+v", h), "Token:"+Redacted) {
		t.Errorf("%%+v = %+v, want Token:%s", h, Redacted)
	}
}

func TestSecretReveal(t *testing.T) {
	t.Parallel()
	s := New(text)
	if s.Reveal() != text || s.IsZero() || !s.Equal(New(text)) || s.Equal(New("other")) {
		t.Errorf("Reveal = %q, IsZero = %v", s.Reveal(), s.IsZero())
	}
	var zero String
	if zero.Reveal() != "" || !zero.IsZero() || zero.String() != "" || fmt.Sprint(zero) != "" || New("") != zero {
		t.Errorf("zero secret: %q %q", zero.Reveal(), zero.String())
	}
	var in struct{ Token String }
	if err := json.Unmarshal([]byte(`{"Token":"`+text+`"}`), &in); err != nil || in.Token.Reveal() != text {
		t.Errorf("UnmarshalText: %v, %q", err, in.Token.Reveal())
	}
}

func TestRedactURL(t *testing.T) {
	t.Parallel()
	tests := []struct{ in, want string }{
		{"tcp://user:" + text + "@broker.example:1883", "tcp://user:xxxxx@broker.example:1883"},
		{"mqtts://u:" + text + "@10.0.0.1:8883/path?x=1", "mqtts://u:xxxxx@10.0.0.1:8883/path?x=1"},
		{"tcp://user:p%40ss" + text + "@host:1883", "tcp://user:xxxxx@host:1883"},
		{"tcp://user@host:1883", "tcp://user@host:1883"},
		{"tcp://127.0.0.1:1883", "tcp://127.0.0.1:1883"},
		{"http://localhost:8086", "http://localhost:8086"},
		{"", ""},
		{"tcp://user:" + text + "@bad host:1883", "<redacted>@bad host:1883"},
		{"::not a url " + text + "@host", "<redacted>@host"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			t.Parallel()
			got := RedactURL(tt.in)
			if got != tt.want {
				t.Errorf("RedactURL(%q) = %q, want %q", tt.in, got, tt.want)
			}
			if strings.Contains(got, text) {
				t.Errorf("password leaked: %q", got)
			}
		})
	}
}
