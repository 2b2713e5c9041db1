package broker

import (
	"strings"

	"github.com/envmon/envmon/station"
)

// The topic rules of the embedded broker. Each function takes a topic name
// (a publish, or a message about to be delivered) or a topic filter (a
// subscription): mochi asks the same question, OnACLCheck, for all three.

// topicRoot is the first level of every envmon topic.
const topicRoot = "envmon"

// reservedPrefix is where envmon's replicas talk to each other: no client
// but envmon's own may publish or subscribe there.
const reservedPrefix = topicRoot + "/_cluster/"

// stationPrefix returns the topics a station owns: envmon/{point}/{id}/.
func stationPrefix(point, id string) string {
	return topicRoot + "/" + point + "/" + id + "/"
}

// stripShare returns the filter of a shared subscription
// ($share/{group}/{filter}) and other filters unchanged.
// mochi takes the prefix in any case.
func stripShare(filter string) string {
	const prefix = "$share/"
	if len(filter) >= len(prefix) && strings.EqualFold(filter[:len(prefix)], prefix) {
		if _, f, ok := strings.Cut(filter[len(prefix):], "/"); ok {
			return f
		}
		return "" // "$share/group" has no filter: matches nothing
	}
	return filter
}

// underPrefix reports whether topic or filter t lies under prefix (which
// ends in '/'): t names or matches only topics that start with prefix.
// A filter is below its literal prefix whatever its wildcards are.
func underPrefix(t, prefix string) bool {
	return len(t) > len(prefix) && strings.HasPrefix(t, prefix)
}

// reserved reports whether topic or filter t lies in envmon/_cluster/.
// A wider filter, such as envmon/#, may be subscribed by a reader: the
// broker checks each delivered topic too, so envmon/_cluster/ messages
// never reach it.
func reserved(t string) bool {
	return strings.HasPrefix(t, reservedPrefix) || t == strings.TrimSuffix(reservedPrefix, "/")
}

// protectedRead reports whether subscribing to filter (or receiving topic)
// t could reveal something under envmon/ or $SYS/: its first level is
// envmon, a wildcard, or starts with '$'. Only envmon and readers may.
func protectedRead(t string) bool {
	first, _, _ := strings.Cut(t, "/")
	return first == topicRoot || first == "+" || first == "#" || strings.HasPrefix(first, "$")
}

// filterWithin reports whether every topic that filter matches is also
// matched by scope, both MQTT topic filters (a topic name is a filter that
// matches itself). Topics starting with '$' are not matched by a wildcard
// in the first level [MQTT-4.7.2-1], so '#' does not cover $SYS/#.
func filterWithin(filter, scope string) bool {
	f, s := strings.Split(filter, "/"), strings.Split(scope, "/")
	if strings.HasPrefix(f[0], "$") && (s[0] == "+" || s[0] == "#") {
		return false
	}
	for i, sl := range s {
		if sl == "#" {
			return true // also covers filter ending at the level before
		}
		if i >= len(f) {
			return false
		}
		switch fl := f[i]; {
		case sl == "+":
			if fl == "#" {
				return false
			}
		case fl != sl: // a wildcard in filter is wider than a literal
			return false
		}
	}
	return len(f) == len(s)
}

// stationTopic splits envmon/{point}/{station}/{rest} for the open
// registration rule: point and station must be well-formed ids (so
// envmon/_cluster/... and envmon/_rejected/... are not station topics) and
// rest must not be empty.
func stationTopic(topic string) (point, id string, ok bool) {
	rest, ok := strings.CutPrefix(topic, topicRoot+"/")
	if !ok {
		return "", "", false
	}
	parts := strings.SplitN(rest, "/", 3)
	if len(parts) != 3 || parts[2] == "" || !station.ValidID(parts[0]) || !station.ValidID(parts[1]) {
		return "", "", false
	}
	return parts[0], parts[1], true
}
