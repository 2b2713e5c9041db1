package station

import (
	"regexp"
	"strings"
	"testing"
)

// idPattern is the definition ValidID implements by hand.
var idPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$`)

func TestValidIDMatchesPattern(t *testing.T) {
	check := func(s string) {
		t.Helper()
		if got, want := ValidID(s), idPattern.MatchString(s); got != want {
			t.Errorf("ValidID(%q) = %v, want %v", s, got, want)
		}
	}
	for _, s := range []string{
		"", "a", "Z", "0", "st-1", "p1", "_a", ".a", "-a", "a_b.c-d", "a b", "a/b", "a+b",
		"a\n", "\na", "a\x00", "é", "aé", "站-1", "\xff", "a\xff",
		strings.Repeat("a", 63), strings.Repeat("a", 64), strings.Repeat("a", 65),
		"a" + strings.Repeat("-", 63), "a" + strings.Repeat("-", 64), strings.Repeat("a", 1000),
	} {
		check(s)
	}
	// Every byte in every place of a short id.
	for c := range 256 {
		for _, s := range []string{string(rune(0)), "a", "a" + strings.Repeat("b", 62)} {
			for i := 0; i <= len(s); i++ {
				check(s[:i] + string([]byte{byte(c)}) + s[i:])
			}
		}
	}
	// Every two-byte id over an alphabet of each class and its neighbours.
	const alphabet = "09AZaz_.-/:@[`{~ \x00\x7f\x80"
	for i := range len(alphabet) {
		for j := range len(alphabet) {
			check(alphabet[i : i+1])
			check(alphabet[i:i+1] + alphabet[j:j+1])
		}
	}
}

func FuzzValidID(f *testing.F) {
	for _, s := range []string{"", "st-1", "-a", "a b", strings.Repeat("x", 64), strings.Repeat("x", 65), "站"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := ValidID(s), idPattern.MatchString(s); got != want {
			t.Errorf("ValidID(%q) = %v, want %v", s, got, want)
		}
	})
}

func BenchmarkValidID(b *testing.B) {
	for b.Loop() {
		if !ValidID("st-0042") || ValidID("st 0042") {
			b.Fatal("wrong answer")
		}
	}
}
