package broker

import (
	"bytes"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"log/slog"
	"net"
	"runtime"
	"sync"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"
	"golang.org/x/crypto/bcrypt"

	"github.com/envmon/envmon/station"
)

// Accounts is the embedded broker's user database, consulted at every
// connect and every publish and subscribe. station.Registry implements it.
type Accounts interface {
	// Lookup returns the account of a username, and false if there is none.
	Lookup(username string) (station.Account, bool)
}

// role is what a connected client may do.
type role int

const (
	roleNone      role = iota // may do nothing (never connected, in practice)
	roleEnvmon                // envmon's own client: everything
	roleStation               // under its own envmon/{point}/{id}/ only
	roleReader                // subscribe within its filters, publish nothing
	roleAnonymous             // open registration: any station that has no password
)

// guard is the mochi hook that authenticates clients and applies the topic
// rules (see Config). mochi calls OnConnect, then OnConnectAuthenticate,
// then OnSessionEstablish, on the connecting client's goroutine.
type guard struct {
	mqtt.HookBase
	srv      *mqtt.Server
	accounts Accounts // nil: no accounts
	open     bool
	allowAll bool
	clientID string // envmon's own, reserved
	onConn   func(clientID string, conn any)
	onGone   func(clientID, username string, conn any, takenOver bool)
	log      *slog.Logger

	bcrypt chan struct{} // bounds the CPU that password checks take
	key    []byte        // HMAC key of the verified-password cache

	mu        sync.Mutex
	verified  map[string]verifiedLogin // username → last password that matched
	takenOver map[*mqtt.Client]bool    // sessions being taken over, until OnDisconnect
}

// verifiedLogin remembers a password that matched a hash, as an HMAC, so
// that a station reconnecting costs one HMAC rather than one bcrypt.
type verifiedLogin struct {
	hash station.Hash
	mac  []byte
}

func newGuard(srv *mqtt.Server, cfg Config, log *slog.Logger) *guard {
	g := &guard{
		srv:       srv,
		accounts:  cfg.Accounts,
		open:      cfg.OpenRegistration,
		allowAll:  cfg.AllowAll,
		clientID:  cfg.ClientID,
		onConn:    cfg.OnConnected,
		onGone:    cfg.OnStationGone,
		log:       log,
		bcrypt:    make(chan struct{}, runtime.GOMAXPROCS(0)),
		key:       make([]byte, 32),
		verified:  map[string]verifiedLogin{},
		takenOver: map[*mqtt.Client]bool{},
	}
	if g.clientID == "" {
		g.clientID = DefaultClientID
	}
	_, _ = rand.Read(g.key) // never fails (crypto/rand)
	return g
}

func (g *guard) ID() string { return "envmon-guard" }

func (g *guard) Provides(b byte) bool {
	return bytes.Contains([]byte{mqtt.OnConnect, mqtt.OnConnectAuthenticate, mqtt.OnACLCheck, mqtt.OnSessionEstablish, mqtt.OnDisconnect}, []byte{b})
}

// OnConnect authenticates the client and refuses it with a CONNACK whose
// reason code says why: 0x85 for a reserved or foreign client id, 0x86 for
// a wrong password or unknown user, 0x87 for a client without credentials
// or with a will it may not publish (MQTT 3.1.1 clients get 0x02, 0x05 and
// 0x05). mochi's own refusal in OnConnectAuthenticate could only say 0x86.
func (g *guard) OnConnect(cl *mqtt.Client, pk packets.Packet) error {
	code, why := g.authenticate(cl, pk)
	if code != packets.CodeSuccess {
		if cl.Properties.ProtocolVersion < 5 && code == packets.ErrNotAuthorized {
			code = packets.ErrBadUsernameOrPassword // sent as 3.1.1's 0x05, not authorized
		}
		g.log.Info("MQTT connect refused", "reason", why, "client", bounded(cl.ID), "username", bounded(string(pk.Connect.Username)), "remote", cl.Net.Remote)
		_ = g.srv.SendConnack(cl, code, false, nil)
		return code
	}
	return nil
}

// OnConnectAuthenticate accepts the clients OnConnect accepted. It asks
// again rather than remembering OnConnect's answer, which another hook's
// OnConnect could still overrule; the password check it repeats costs an
// HMAC (see passwordMatches).
func (g *guard) OnConnectAuthenticate(cl *mqtt.Client, pk packets.Packet) bool {
	code, _ := g.authenticate(cl, pk)
	return code == packets.CodeSuccess
}

func (g *guard) authenticate(cl *mqtt.Client, pk packets.Packet) (packets.Code, string) {
	user := string(pk.Connect.Username)
	switch cl.ID {
	case mqtt.InlineClientId:
		return packets.ErrClientIdentifierNotValid, "client id is reserved for the broker"
	case g.clientID:
		return packets.ErrClientIdentifierNotValid, "client id is envmon's own (mqtt.client_id)"
	}
	if g.allowAll {
		return packets.CodeSuccess, ""
	}
	var (
		acct  station.Account
		known bool
	)
	if name := certName(cl.Net.Conn); name != "" {
		if user != "" && user != name {
			return packets.ErrBadUsernameOrPassword, "username is not the client certificate's common name"
		}
		if acct, known = g.lookup(name); !known {
			return packets.ErrNotAuthorized, "client certificate names no station or reader"
		}
		user = name
		cl.Properties.Username = []byte(name) // the identity every ACL check uses
	} else if user != "" {
		acct, known = g.lookup(user)
		switch {
		case known && !g.passwordMatches(user, acct.PasswordHash, pk.Connect.Password):
			return packets.ErrBadUsernameOrPassword, "wrong password"
		case !known && !g.open:
			return packets.ErrBadUsernameOrPassword, "unknown user"
		}
	} else if !g.open {
		return packets.ErrNotAuthorized, "no username, and open registration is off"
	}
	r := roleAnonymous
	if known {
		r = roleOfAccount(acct)
	}
	if pk.Connect.WillFlag && !g.mayPublish(r, acct, pk.Connect.WillTopic) {
		return packets.ErrNotAuthorized, "will topic is not the client's to publish"
	}
	if existing, ok := g.srv.Clients.Get(cl.ID); ok && string(existing.Properties.Username) != user {
		return packets.ErrClientIdentifierNotValid, "client id is in use by another user"
	}
	return packets.CodeSuccess, ""
}

// OnSessionEstablish tells Config.OnConnected of the connection, and
// notes a session that this connect takes over, for OnDisconnect: mochi
// passes it the read error, not ErrSessionTakenOver, and marks the session
// taken over only after closing its connection.
func (g *guard) OnSessionEstablish(cl *mqtt.Client, _ packets.Packet) {
	if g.onConn != nil && !cl.Net.Inline {
		g.onConn(cl.ID, cl)
	}
	if g.onGone == nil {
		return
	}
	// Not closed means its OnDisconnect is still to come, and removes the mark.
	if existing, ok := g.srv.Clients.Get(cl.ID); ok && existing != cl && !existing.Closed() {
		g.mu.Lock()
		g.takenOver[existing] = true
		g.mu.Unlock()
	}
}

// OnDisconnect reports a gone client to Config.OnStationGone.
func (g *guard) OnDisconnect(cl *mqtt.Client, err error, _ bool) {
	g.mu.Lock()
	taken := g.takenOver[cl]
	delete(g.takenOver, cl)
	g.mu.Unlock()
	if g.onGone == nil || cl.Net.Inline {
		return
	}
	taken = taken || cl.IsTakenOver() || errors.Is(err, packets.ErrSessionTakenOver)
	g.onGone(cl.ID, string(cl.Properties.Username), cl, taken)
}

// OnACLCheck applies the topic rules to a publish (write), a subscription
// or a delivery.
func (g *guard) OnACLCheck(cl *mqtt.Client, topic string, write bool) bool {
	if g.allowAll {
		return true
	}
	r, acct := g.roleOf(cl)
	if write {
		return g.mayPublish(r, acct, topic)
	}
	return g.mayRead(r, acct, topic)
}

func (g *guard) roleOf(cl *mqtt.Client) (role, station.Account) {
	if cl.Net.Inline {
		return roleEnvmon, station.Account{}
	}
	if u := cl.Properties.Username; len(u) > 0 {
		if acct, ok := g.lookup(string(u)); ok {
			return roleOfAccount(acct), acct
		}
	}
	if g.open {
		return roleAnonymous, station.Account{}
	}
	return roleNone, station.Account{}
}

func roleOfAccount(a station.Account) role {
	if a.Station != "" {
		return roleStation
	}
	return roleReader
}

func (g *guard) lookup(username string) (station.Account, bool) {
	if g.accounts == nil {
		return station.Account{}, false
	}
	return g.accounts.Lookup(username)
}

func (g *guard) mayPublish(r role, acct station.Account, topic string) bool {
	switch r {
	case roleEnvmon:
		return true
	case roleStation:
		return underPrefix(topic, stationPrefix(acct.Point, acct.Station))
	case roleAnonymous:
		if _, id, ok := stationTopic(topic); ok {
			owner, known := g.lookup(id)
			return !known || owner.Station == "" || owner.PasswordHash == "" // a station with a password publishes itself
		}
		return !protectedRead(topic) // outside envmon/ and $...
	}
	return false
}

func (g *guard) mayRead(r role, acct station.Account, topic string) bool {
	f := stripShare(topic)
	if f == "" {
		return false
	}
	switch r {
	case roleEnvmon:
		return true
	case roleStation:
		return underPrefix(f, stationPrefix(acct.Point, acct.Station))
	case roleReader:
		if reserved(f) {
			return false
		}
		for _, scope := range acct.Read {
			if filterWithin(f, scope) {
				return true
			}
		}
	case roleAnonymous:
		return !protectedRead(f)
	}
	return false
}

// passwordMatches checks a password against a bcrypt hash. A password that
// matched before is recognised by its HMAC.
func (g *guard) passwordMatches(user string, hash station.Hash, password []byte) bool {
	if hash == "" {
		return false
	}
	m := hmac.New(sha256.New, g.key)
	m.Write(password)
	mac := m.Sum(nil)
	g.mu.Lock()
	v, ok := g.verified[user]
	g.mu.Unlock()
	if ok && v.hash == hash && hmac.Equal(v.mac, mac) {
		return true
	}
	g.bcrypt <- struct{}{}
	err := bcrypt.CompareHashAndPassword([]byte(hash), password)
	<-g.bcrypt
	if err != nil {
		return false
	}
	g.mu.Lock()
	g.verified[user] = verifiedLogin{hash: hash, mac: mac} // at most one per account
	g.mu.Unlock()
	return true
}

// certName returns the common name of a verified TLS client certificate,
// or "" if the connection has none.
func certName(c net.Conn) string {
	tc, ok := tlsConnOf(c)
	if !ok {
		return ""
	}
	st := tc.ConnectionState()
	if len(st.VerifiedChains) == 0 || len(st.PeerCertificates) == 0 {
		return ""
	}
	return st.PeerCertificates[0].Subject.CommonName
}

// bounded cuts a client-supplied string for a log line.
func bounded(s string) string {
	const n = 64
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}
