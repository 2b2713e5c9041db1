package broker

import "testing"

func TestFilterWithin(t *testing.T) {
	t.Parallel()
	tests := []struct {
		filter, scope string
		want          bool
	}{
		{"envmon/#", "envmon/#", true},
		{"envmon/p1/st-1/air", "envmon/#", true},
		{"envmon", "envmon/#", true}, // envmon/# matches envmon itself
		{"envmon/+/+/+", "envmon/#", true},
		{"envmon/+/+/+", "envmon/+/+/+", true},
		{"envmon/p1/+/air", "envmon/+/+/+", true},
		{"envmon/#", "envmon/+/+/+", false},
		{"envmon/p1/st-1", "envmon/+/+/+", false},
		{"envmon/+", "envmon/p1", false},
		{"#", "envmon/#", false},
		{"+/#", "envmon/#", false},
		{"+/p1/st-1/air", "envmon/#", false},
		{"$SYS/#", "#", false}, // a wildcard first level never matches $ topics
		{"$SYS/#", "+/#", false},
		{"$SYS/broker/load", "$SYS/#", true},
		{"other/x", "envmon/#", false},
		{"a/b", "a/b", true},
		{"a/b/c", "a/b", false},
		{"a", "a/b", false},
	}
	for _, tt := range tests {
		if got := filterWithin(tt.filter, tt.scope); got != tt.want {
			t.Errorf("filterWithin(%q, %q) = %v, want %v", tt.filter, tt.scope, got, tt.want)
		}
	}
}

func TestProtectedRead(t *testing.T) {
	t.Parallel()
	for f, want := range map[string]bool{
		"#": true, "+": true, "+/#": true, "+/x": true, "envmon": true, "envmon/#": true,
		"envmon/+/+/+": true, "$SYS/#": true, "$SYS": true, "$other/x": true,
		"other/#": false, "envmonx/#": false, "x/envmon/#": false,
	} {
		if got := protectedRead(f); got != want {
			t.Errorf("protectedRead(%q) = %v, want %v", f, got, want)
		}
	}
}

func TestStationTopic(t *testing.T) {
	t.Parallel()
	tests := []struct {
		topic     string
		point, id string
		ok        bool
	}{
		{"envmon/p1/st-1/air", "p1", "st-1", true},
		{"envmon/p1/st-1/air/extra", "p1", "st-1", true},
		{"envmon/p1/st-1/", "", "", false},
		{"envmon/p1/st-1", "", "", false},
		{"envmon/_cluster/g/stored", "", "", false},
		{"envmon/p1/_x/air", "", "", false},
		{"other/p1/st-1/air", "", "", false},
	}
	for _, tt := range tests {
		p, id, ok := stationTopic(tt.topic)
		if p != tt.point || id != tt.id || ok != tt.ok {
			t.Errorf("stationTopic(%q) = %q, %q, %v", tt.topic, p, id, ok)
		}
	}
}

func TestStripShare(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"$share/g/envmon/#": "envmon/#", "$SHARE/g/#": "#", "$share/g": "", "envmon/#": "envmon/#", "$SYS/#": "$SYS/#",
	} {
		if got := stripShare(in); got != want {
			t.Errorf("stripShare(%q) = %q, want %q", in, got, want)
		}
	}
}
