package broker

import (
	"fmt"
	"io"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"
	"golang.org/x/crypto/bcrypt"

	"github.com/envmon/envmon/reading"
	"github.com/envmon/envmon/station"
)

// The accounts of these tests, in a real station.Registry: st-1 and st-2
// at point p1 with passwords, c-1 without one (certificate only), and the
// reader dash.
var testHashes = sync.OnceValue(func() map[string]station.Hash {
	out := map[string]station.Hash{}
	for user, pw := range map[string]string{"st-1": "pw-1", "st-2": "pw-2", "dash": "pw-d"} {
		h, err := bcrypt.GenerateFromPassword([]byte(pw), bcrypt.MinCost)
		if err != nil {
			panic(err)
		}
		out[user] = station.Hash(h)
	}
	return out
})

func testAccounts() *station.Registry {
	h := testHashes()
	air := []reading.Medium{reading.Air}
	return station.New([]station.Station{
		{ID: "st-1", Point: "p1", Media: air, MQTTPasswordHash: h["st-1"]},
		{ID: "st-2", Point: "p1", Media: air, MQTTPasswordHash: h["st-2"]},
		{ID: "c-1", Point: "p2", Media: air},
	}, true, nil, station.WithReaders([]station.Reader{
		{Username: "dash", PasswordHash: h["dash"], Read: []string{"envmon/#", "$SYS/#"}},
	}))
}

// startGuarded starts a broker with the test accounts (unless cfg has
// others) on a free loopback port.
func startGuarded(t *testing.T, cfg Config) *Broker {
	t.Helper()
	if cfg.Accounts == nil {
		cfg.Accounts = testAccounts()
	}
	if cfg.Listener == nil && cfg.Addr == "" {
		cfg.Addr = "127.0.0.1:0"
	}
	cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	b, err := Start(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

// connectAs is a CONNECT with clean start; empty user, password or will
// topic leave them out.
func connectAs(level byte, clientID, user, password, willTopic string) []byte {
	flags := byte(0x02)
	if user != "" {
		flags |= 0x80
	}
	if password != "" {
		flags |= 0x40
	}
	if willTopic != "" {
		flags |= 0x04
	}
	b := appendString(nil, "MQTT")
	b = append(b, level, flags, 0, 60)
	if level == 5 {
		b = append(b, 0) // no properties
	}
	b = appendString(b, clientID)
	if willTopic != "" {
		if level == 5 {
			b = append(b, 0) // no will properties
		}
		b = appendString(b, willTopic)
		b = appendString(b, "offline")
	}
	if user != "" {
		b = appendString(b, user)
	}
	if password != "" {
		b = appendString(b, password)
	}
	return packet(0x10, b)
}

// connackCode connects by hand and returns the CONNACK's reason code.
func connackCode(t *testing.T, b *Broker, level byte, clientID, user, password, will string) byte {
	t.Helper()
	c := dialRaw(t, b)
	c.write(connectAs(level, clientID, user, password, will))
	body := c.mustRead(packets.Connack)
	if len(body) < 2 {
		t.Fatalf("CONNACK % x too short", body)
	}
	return body[1]
}

// TestConnect: who may connect, and the CONNACK code of each refusal, in
// MQTT 5 and 3.1.1, on a broker with accounts and on one with open
// registration.
func TestConnect(t *testing.T) {
	strict := startGuarded(t, Config{})
	open := startGuarded(t, Config{OpenRegistration: true})
	tests := []struct {
		name                     string
		b                        *Broker
		id, user, password, will string
		v5, v3                   byte
	}{
		{"station", strict, "a", "st-1", "pw-1", "", 0x00, 0x00},
		{"station with its own will", strict, "b", "st-1", "pw-1", "envmon/p1/st-1/status", 0x00, 0x00},
		{"reader", strict, "c", "dash", "pw-d", "", 0x00, 0x00},
		{"wrong password", strict, "d", "st-1", "pw-2", "", 0x86, 0x05},
		{"no password", strict, "e", "st-1", "", "", 0x86, 0x05},
		{"unknown user", strict, "f", "st-9", "pw-1", "", 0x86, 0x05},
		{"station without a password hash", strict, "g", "c-1", "anything", "", 0x86, 0x05},
		{"anonymous", strict, "h", "", "", "", 0x87, 0x05},
		{"will as another station", strict, "i", "st-1", "pw-1", "envmon/p1/st-2/status", 0x87, 0x05},
		{"will under _cluster", strict, "j", "st-1", "pw-1", "envmon/_cluster/g/members/j", 0x87, 0x05},
		{"open: anonymous", open, "k", "", "", "", 0x00, 0x00},
		{"open: anonymous with an unknown user", open, "l", "who", "x", "", 0x00, 0x00},
		{"open: anonymous will as a new station", open, "m", "", "", "envmon/p9/new-1/status", 0x00, 0x00},
		{"open: will as a station with a password", open, "n", "", "", "envmon/p1/st-1/status", 0x87, 0x05},
		{"open: known user, wrong password", open, "o", "st-1", "nope", "", 0x86, 0x05},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, level := range []byte{5, 4} {
				want := tt.v5
				if level == 4 {
					want = tt.v3
				}
				if got := connackCode(t, tt.b, level, fmt.Sprintf("%s-%d", tt.id, level), tt.user, tt.password, tt.will); level == 5 && got != want {
					t.Errorf("MQTT 5: CONNACK code 0x%02x, want 0x%02x", got, want)
				} else if level == 4 && got != want {
					t.Errorf("MQTT 3.1.1: CONNACK code 0x%02x, want 0x%02x", got, want)
				}
			}
		})
	}
	// The reserved ids: envmon's own and mochi's inline client's, with
	// good credentials and, with open registration, without.
	for _, id := range []string{"envmon", "inline"} {
		for _, level := range []byte{5, 4} {
			want := map[byte]byte{5: 0x85, 4: 0x02}[level]
			if got := connackCode(t, strict, level, id, "st-1", "pw-1", ""); got != want {
				t.Errorf("client id %q, level %d: CONNACK code 0x%02x, want 0x%02x", id, level, got, want)
			}
			if got := connackCode(t, open, level, id, "", "", ""); got != want {
				t.Errorf("open, client id %q, level %d: CONNACK code 0x%02x, want 0x%02x", id, level, got, want)
			}
		}
	}
}

// TestReservedClientIDConfigured: mqtt.client_id is what is reserved.
func TestReservedClientIDConfigured(t *testing.T) {
	b := startGuarded(t, Config{ClientID: "envmon-a", OpenRegistration: true})
	if got := connackCode(t, b, 5, "envmon-a", "", "", ""); got != 0x85 {
		t.Errorf("CONNACK code 0x%02x for the configured client id, want 0x85", got)
	}
	if got := connackCode(t, b, 5, "envmon", "", "", ""); got != 0x00 {
		t.Errorf("CONNACK code 0x%02x for the default id when another is configured, want 0x00", got)
	}
}

// inbox records the topics the broker's inline client receives.
type inbox struct {
	mu     sync.Mutex
	topics []string
}

func watch(t *testing.T, b *Broker, filter string) *inbox {
	t.Helper()
	in := &inbox{}
	err := b.srv.Subscribe(filter, 1, func(_ *mqtt.Client, _ packets.Subscription, pk packets.Packet) {
		in.mu.Lock()
		in.topics = append(in.topics, pk.TopicName)
		in.mu.Unlock()
	})
	if err != nil {
		t.Fatal(err)
	}
	return in
}

// waitFor waits until topic has arrived, and returns everything that
// arrived up to then.
func (in *inbox) waitFor(t *testing.T, topic string) []string {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		in.mu.Lock()
		got := slices.Clone(in.topics)
		in.mu.Unlock()
		if slices.Contains(got, topic) {
			return got
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("%s never arrived", topic)
	return nil
}

func pahoOptions(b *Broker, id, user, password string) *paho.ClientOptions {
	return pahoOptionsAt(b.URL(), id, user, password)
}

func pahoOptionsAt(url, id, user, password string) *paho.ClientOptions {
	return paho.NewClientOptions().AddBroker(url).SetClientID(id).
		SetUsername(user).SetPassword(password).
		SetCleanSession(true).SetAutoReconnect(false).SetConnectRetry(false).
		SetConnectTimeout(5 * time.Second)
}

func pahoConnect(t *testing.T, opts *paho.ClientOptions) paho.Client {
	t.Helper()
	c := paho.NewClient(opts)
	if tok := c.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("connect: %v", tok.Error())
	}
	t.Cleanup(func() { c.Disconnect(0) })
	return c
}

func publish(t *testing.T, c paho.Client, topic string) {
	t.Helper()
	if tok := c.Publish(topic, 0, false, "x"); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatalf("publish %s: %v", topic, tok.Error())
	}
}

// TestStationPublishes: a station with valid credentials publishes under
// its own envmon/{point}/{id}/ and nowhere else. The publishes are QoS 0,
// which mochi drops without a word when the ACL refuses them; a last,
// allowed publish from the same connection shows that the earlier ones
// were handled.
func TestStationPublishes(t *testing.T) {
	for _, open := range []bool{false, true} {
		t.Run(fmt.Sprintf("open registration %v", open), func(t *testing.T) {
			b := startGuarded(t, Config{OpenRegistration: open})
			in := watch(t, b, "#")
			c := pahoConnect(t, pahoOptions(b, "st-1-conn", "st-1", "pw-1"))
			refused := []string{
				"envmon/p1/st-2/air",         // another station
				"envmon/p2/st-1/air",         // its own id at another point
				"envmon/p1/st-1",             // not under its prefix
				"envmon/_cluster/g/stored/x", // reserved
				"envmon/_rejected/x/y",
				"other/topic",
			}
			for _, topic := range refused {
				publish(t, c, topic)
			}
			publish(t, c, "envmon/p1/st-1/air")
			got := in.waitFor(t, "envmon/p1/st-1/air")
			for _, topic := range refused {
				if slices.Contains(got, topic) {
					t.Errorf("station st-1 published on %s", topic)
				}
			}
		})
	}
}

// TestAnonymousPublishes: with open registration a client without
// credentials publishes as any station that has no password, and as no
// station that has one.
func TestAnonymousPublishes(t *testing.T) {
	b := startGuarded(t, Config{OpenRegistration: true})
	in := watch(t, b, "#")
	c := pahoConnect(t, pahoOptions(b, "anon", "", ""))
	refused := []string{"envmon/p1/st-1/air", "envmon/p1/st-2/status", "envmon/_cluster/g/members/anon", "envmon/_x/st-9/air", "envmon/p9/st-9"}
	for _, topic := range refused {
		publish(t, c, topic)
	}
	publish(t, c, "envmon/p2/c-1/air") // listed, no password
	publish(t, c, "envmon/p9/st-9/air")
	got := in.waitFor(t, "envmon/p9/st-9/air")
	if !slices.Contains(got, "envmon/p2/c-1/air") {
		t.Error("anonymous publish as a station without a password was refused")
	}
	for _, topic := range refused {
		if slices.Contains(got, topic) {
			t.Errorf("anonymous client published on %s", topic)
		}
	}
}

// TestSubscribe: what each kind of client may subscribe to, as the SUBACK
// says (MQTT 3.1.1 reports a refusal as 0x80).
func TestSubscribe(t *testing.T) {
	strict := startGuarded(t, Config{})
	open := startGuarded(t, Config{OpenRegistration: true})
	station := pahoConnect(t, pahoOptions(strict, "sub-st-1", "st-1", "pw-1"))
	reader := pahoConnect(t, pahoOptions(strict, "sub-dash", "dash", "pw-d"))
	openStation := pahoConnect(t, pahoOptions(open, "sub-st-1", "st-1", "pw-1"))
	anon := pahoConnect(t, pahoOptions(open, "sub-anon", "", ""))
	tests := []struct {
		who    string
		c      paho.Client
		filter string
		ok     bool
	}{
		{"station", station, "envmon/p1/st-1/cmd", true},
		{"station", station, "envmon/p1/st-1/#", true},
		{"station", station, "$share/g/envmon/p1/st-1/#", true},
		{"station", station, "#", false},
		{"station", station, "+/#", false},
		{"station", station, "$SYS/#", false},
		{"station", station, "envmon/#", false},
		{"station", station, "envmon/+/+/+", false},
		{"station", station, "envmon/p1/+/#", false},
		{"station", station, "envmon/p1/st-2/#", false},
		{"station", station, "envmon/p1/st-1", false},
		{"station", station, "$share/g/#", false},
		{"station", station, "$SHARE/g/#", false},
		{"station", station, "other/#", false},
		{"station, open registration", openStation, "#", false},
		{"station, open registration", openStation, "envmon/p1/st-2/#", false},
		{"reader", reader, "envmon/#", true},
		{"reader", reader, "envmon/+/+/+", true},
		{"reader", reader, "$SYS/#", true},
		{"reader", reader, "$share/g/envmon/+/+/+", true},
		{"reader", reader, "#", false},
		{"reader", reader, "+/#", false},
		{"reader", reader, "envmon/_cluster/#", false},
		{"reader", reader, "other/#", false},
		{"anonymous", anon, "#", false},
		{"anonymous", anon, "+/#", false},
		{"anonymous", anon, "+", false},
		{"anonymous", anon, "$SYS/#", false},
		{"anonymous", anon, "$SYS/broker/clients/connected", false},
		{"anonymous", anon, "envmon/#", false},
		{"anonymous", anon, "envmon/+/+/+", false},
		{"anonymous", anon, "envmon/p9/st-9/air", false},
		{"anonymous", anon, "envmon", false},
		{"anonymous", anon, "$share/g/envmon/#", false},
		{"anonymous", anon, "$share/g/#", false},
		{"anonymous", anon, "other/#", true},
	}
	for _, tt := range tests {
		t.Run(tt.who+" "+tt.filter, func(t *testing.T) {
			tok := tt.c.Subscribe(tt.filter, 1, func(paho.Client, paho.Message) {})
			if !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
				t.Fatalf("subscribe: %v", tok.Error())
			}
			res := tok.(*paho.SubscribeToken).Result() // one filter, keyed without $share/{group}/
			if len(res) != 1 {
				t.Fatalf("SUBACK results %v", res)
			}
			var code byte
			for _, code = range res {
			}
			if granted := code < 0x80; granted != tt.ok {
				t.Errorf("SUBACK code 0x%02x, want granted = %v", code, tt.ok)
			}
		})
	}
}

// TestReaderReceives: a reader subscribed to envmon/# receives station
// messages, but not what envmon's replicas say under envmon/_cluster/.
func TestReaderReceives(t *testing.T) {
	b := startGuarded(t, Config{})
	got := make(chan string, 10)
	r := pahoConnect(t, pahoOptions(b, "dash-1", "dash", "pw-d"))
	if tok := r.Subscribe("envmon/#", 0, func(_ paho.Client, m paho.Message) { got <- m.Topic() }); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatal(tok.Error())
	}
	if err := b.srv.Publish("envmon/_cluster/g/stored/r2", []byte("x"), false, 0); err != nil {
		t.Fatal(err)
	}
	if err := b.srv.Publish("envmon/p1/st-1/air", []byte("x"), false, 0); err != nil {
		t.Fatal(err)
	}
	select {
	case topic := <-got:
		if topic != "envmon/p1/st-1/air" {
			t.Errorf("reader received %s", topic)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("reader received nothing")
	}
}

type gone struct {
	clientID, username string
	takenOver          bool
}

// sessionEvent is a call of OnConnected ("connected") or OnStationGone.
type sessionEvent struct {
	kind string
	gone
	conn any
}

// TestTakeover: a client id in use can be taken over by the same user
// only; OnConnected hears of the new connection before OnStationGone of
// the one it took over, which it says was taken over, and the two
// connections have different identities.
func TestTakeover(t *testing.T) {
	events := make(chan sessionEvent, 10)
	b := startGuarded(t, Config{
		OnConnected: func(id string, conn any) { events <- sessionEvent{"connected", gone{clientID: id}, conn} },
		OnStationGone: func(id, user string, conn any, taken bool) {
			events <- sessionEvent{"gone", gone{id, user, taken}, conn}
		},
	})
	next := func(what string) sessionEvent {
		t.Helper()
		select {
		case e := <-events:
			return e
		case <-time.After(10 * time.Second):
			t.Fatalf("no call for %s", what)
			return sessionEvent{}
		}
	}
	first := pahoConnect(t, pahoOptions(b, "st-1-conn", "st-1", "pw-1"))
	firstConn := next("the first connection")
	if firstConn.kind != "connected" || firstConn.clientID != "st-1-conn" {
		t.Fatalf("%+v, want st-1-conn connected", firstConn)
	}

	if code := connackCode(t, b, 5, "st-1-conn", "st-2", "pw-2", ""); code != 0x85 {
		t.Errorf("another station took the client id: CONNACK 0x%02x, want 0x85", code)
	}
	if !first.IsConnectionOpen() {
		t.Fatal("a refused takeover closed the first connection")
	}
	select {
	case e := <-events:
		t.Fatalf("%+v for a refused connect", e)
	default:
	}

	pahoConnect(t, pahoOptions(b, "st-1-conn", "st-1", "pw-1"))
	second := next("the second connection")
	if second.kind != "connected" || second.clientID != "st-1-conn" {
		t.Fatalf("%+v, want the second st-1-conn connected before the first is gone", second)
	}
	e := next("the session taken over")
	if e.kind != "gone" || e.gone != (gone{"st-1-conn", "st-1", true}) {
		t.Errorf("%+v, want the taken over st-1-conn gone", e)
	}
	if e.conn != firstConn.conn || e.conn == second.conn {
		t.Error("the connection taken over is not told apart from the one that took it over")
	}
}

// TestStationGone: OnStationGone for a clean disconnect and for a
// connection that drops, neither taken over.
func TestStationGone(t *testing.T) {
	events := make(chan gone, 10)
	b := startGuarded(t, Config{OpenRegistration: true, OnStationGone: func(id, user string, _ any, taken bool) { events <- gone{id, user, taken} }})
	c := pahoConnect(t, pahoOptions(b, "st-2-conn", "st-2", "pw-2"))
	c.Disconnect(100)
	raw := dialRaw(t, b)
	raw.write(connectAs(4, "anon-1", "", "", ""))
	raw.mustRead(packets.Connack)
	raw.c.Close()
	want := map[gone]bool{{"st-2-conn", "st-2", false}: true, {"anon-1", "", false}: true}
	for range want {
		select {
		case e := <-events:
			if !want[e] {
				t.Errorf("OnStationGone%+v", e)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("OnStationGone not called")
		}
	}
}

// TestPasswordCheckRemembered: a second login with the same password does
// not need bcrypt again, and a changed password is still checked.
func TestPasswordCheckRemembered(t *testing.T) {
	g := newGuard(nil, Config{}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	hash := testHashes()["st-1"]
	if !g.passwordMatches("st-1", hash, []byte("pw-1")) {
		t.Fatal("right password refused")
	}
	if _, ok := g.verified["st-1"]; !ok {
		t.Fatal("match not remembered")
	}
	if g.passwordMatches("st-1", hash, []byte("pw-2")) {
		t.Fatal("wrong password accepted after a right one")
	}
	if g.passwordMatches("st-1", testHashes()["st-2"], []byte("pw-1")) {
		t.Fatal("old password accepted after the hash changed")
	}
	if g.passwordMatches("c-1", "", []byte("")) {
		t.Fatal("empty hash accepted an empty password")
	}
}
