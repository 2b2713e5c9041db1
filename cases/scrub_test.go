package cases

import (
	"strings"
	"testing"
)

// TestScrub checks that the complainant's name, phone and e-mail, and any
// Chinese mobile number or e-mail address, are withheld in the common
// forms people write them, and that nothing else is.
func TestScrub(t *testing.T) {
	const (
		name  = "Xiaolan Zhao"
		phone = "13912345678"
		email = "zhao.xiaolan@example.invalid"
	)
	for _, tt := range []struct {
		name, text, want   string
		cname, cphone, cem string
	}{
		{"full name", "I am Xiaolan Zhao.", "I am [withheld].", name, phone, email},
		{"reversed name", "I am Zhao Xiaolan.", "I am [withheld].", name, phone, email},
		{"first name alone", "ask for Xiaolan", "ask for [withheld]", name, phone, email},
		{"last name alone, other case", "Ms ZHAO lives here", "Ms [withheld] lives here", name, phone, email},
		{"name inside a word is kept", "Zhaoxing Road", "Zhaoxing Road", name, phone, email},
		{"a one-letter word is kept", "X is the plant", "X is the plant", "X Li", "", ""},
		{"Chinese name run together", "我是赵晓兰，请回电", "我是[withheld]，请回电", "晓兰 赵", "", ""},
		{"Chinese given name alone", "找晓兰", "找[withheld]", "晓兰 赵", "", ""},
		{"phone plain", "call 13912345678 now", "call [withheld] now", name, phone, email},
		{"phone spaced", "call 139 1234 5678 now", "call [withheld] now", name, phone, email},
		{"phone dashed", "call 139-1234-5678", "call [withheld]", name, phone, email},
		{"phone with +86", "call +86 139 1234 5678", "call [withheld]", name, phone, email},
		{"phone with 0086", "call 0086-13912345678", "call [withheld]", name, phone, email},
		{"phone given with +86", "call 139 1234 5678", "call [withheld]", name, "+86 139-1234-5678", email},
		{"landline by its digits", "ring (028) 8765-4321", "ring ([withheld]", "", "028 87654321", ""},
		{"another mobile", "my son: 186 0000 1111", "my son: [withheld]", name, phone, email},
		{"another mobile +86", "or +8615800001111", "or [withheld]", "", "", ""},
		{"a longer number is kept", "meter 1391234567890", "meter 1391234567890", "", "", ""},
		{"a short figure is kept", "PM2.5 at 180, since 14:00", "PM2.5 at 180, since 14:00", name, "180", email},
		{"own e-mail", "mail zhao.xiaolan@example.invalid", "mail [withheld]", name, phone, email},
		{"own e-mail, other case", "mail Zhao.Xiaolan@Example.invalid", "mail [withheld]", name, phone, email},
		{"another e-mail", "cc li.wei@mail.example.cn please", "cc [withheld] please", name, phone, email},
		{"nothing personal", "Black smoke from the chimney", "Black smoke from the chimney", name, phone, email},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got := scrub(tt.text, tt.cname, tt.cphone, tt.cem)
			if got != tt.want {
				t.Errorf("scrub(%q) = %q, want %q", tt.text, got, tt.want)
			}
			for _, p := range []string{"Xiaolan", "Zhao", "1391234", "5678", "晓兰", "example.invalid"} {
				if strings.Contains(tt.want, "[withheld]") && strings.Contains(got, p) && !strings.Contains(tt.want, p) {
					t.Errorf("scrub(%q) = %q still holds %q", tt.text, got, p)
				}
			}
		})
	}
}
