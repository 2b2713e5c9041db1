package station

import (
	"errors"
	"fmt"
	"log/slog"
	"strings"

	"golang.org/x/crypto/bcrypt"
)

// Hash is a bcrypt password hash, as `envmon passwd` prints it. It prints
// as <hash> under every fmt verb and in slog, so that a station or reader
// logged whole does not give its hash away for offline guessing.
type Hash string

// String returns "<hash>", or "" for no hash.
func (h Hash) String() string {
	if h == "" {
		return ""
	}
	return "<hash>"
}

// Format prints h as String does, for %v, %+v, %#v, %s and %q alike.
func (h Hash) Format(f fmt.State, _ rune) { fmt.Fprint(f, h.String()) }

// LogValue keeps the hash out of slog output.
func (h Hash) LogValue() slog.Value { return slog.StringValue(h.String()) }

// check reports whether h is empty or a bcrypt hash.
func (h Hash) check() error {
	if h == "" {
		return nil
	}
	if _, err := bcrypt.Cost([]byte(h)); err != nil {
		return errors.New("not a bcrypt hash (envmon passwd prints one)")
	}
	return nil
}

// Reader is a read-only user of the embedded MQTT broker: a dashboard, a
// bridge or an operator's mosquitto_sub. It logs in with its username and
// password and may subscribe to the topic filters in Read, and to nothing
// else; it may publish nothing.
type Reader struct {
	Username     string
	PasswordHash Hash
	Read         []string
}

// Account is what the embedded broker needs to know of a user: how to
// check its password, and what it may do.
type Account struct {
	// PasswordHash is the bcrypt hash of the user's password; empty means
	// the user cannot log in with a password (a station may still present
	// a TLS client certificate).
	PasswordHash Hash
	// Station and Point are set for a station: it may publish and
	// subscribe under envmon/{Point}/{Station}/ only.
	Station, Point string
	// Read is set for a read-only user: the topic filters it may
	// subscribe to.
	Read []string
}

// Lookup returns the MQTT account of a username: a station listed in the
// registry file (the username is the station id), or a reader. Stations
// registered on first sight have no account.
func (r *Registry) Lookup(username string) (Account, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	if e, ok := r.stations[username]; ok && e.registered {
		return Account{PasswordHash: e.st.MQTTPasswordHash, Station: e.st.ID, Point: e.st.Point}, true
	}
	if rd, ok := r.readers[username]; ok {
		return Account{PasswordHash: rd.PasswordHash, Read: rd.Read}, true
	}
	return Account{}, false
}

// validFilter reports whether f is an MQTT topic filter: '#' only as the
// whole last level, '+' only as a whole level.
func validFilter(f string) bool {
	if f == "" {
		return false
	}
	levels := strings.Split(f, "/")
	for i, l := range levels {
		if strings.Contains(l, "#") && (l != "#" || i != len(levels)-1) {
			return false
		}
		if strings.Contains(l, "+") && l != "+" {
			return false
		}
	}
	return true
}
