package ingest

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/envmon/envmon/station"
	"github.com/envmon/envmon/store/mem"
)

// fakeToken is a paho token that is already complete.
type fakeToken struct {
	err    error
	result map[string]byte // a SUBACK's return codes
}

func (t *fakeToken) Wait() bool                     { return true }
func (t *fakeToken) WaitTimeout(time.Duration) bool { return true }
func (t *fakeToken) Error() error                   { return t.err }
func (t *fakeToken) Result() map[string]byte        { return t.result }
func (t *fakeToken) Done() <-chan struct{} {
	ch := make(chan struct{})
	close(ch)
	return ch
}

// fakeClient stands in for paho: its broker answers what the test scripts.
type fakeClient struct {
	opts *paho.ClientOptions

	mu          sync.Mutex
	open        bool
	subscribed  []string
	refuse      map[string]int // filter → SUBACKs still to refuse with 0x80
	failPublish map[string]int // topic prefix → publishes still to fail
	published   []string
	disconnects int
}

func (f *fakeClient) Connect() paho.Token {
	f.mu.Lock()
	f.open = true
	f.mu.Unlock()
	go f.opts.OnConnect(nil)
	return &fakeToken{}
}

func (f *fakeClient) Disconnect(uint) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.open = false
	f.disconnects++
}

func (f *fakeClient) IsConnectionOpen() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.open
}

func (f *fakeClient) Publish(topic string, _ byte, _ bool, _ any) paho.Token {
	f.mu.Lock()
	defer f.mu.Unlock()
	for p, n := range f.failPublish {
		if strings.HasPrefix(topic, p) && n > 0 {
			f.failPublish[p] = n - 1
			return &fakeToken{err: errors.New("connection lost before publish completed")}
		}
	}
	f.published = append(f.published, topic)
	return &fakeToken{}
}

func (f *fakeClient) Subscribe(filter string, _ byte, _ paho.MessageHandler) paho.Token {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.subscribed = append(f.subscribed, filter)
	if f.refuse[filter] > 0 {
		f.refuse[filter]--
		return &fakeToken{result: map[string]byte{filter: 0x80}}
	}
	return &fakeToken{result: map[string]byte{filter: 1}}
}

func (f *fakeClient) AddRoute(string, paho.MessageHandler) {}

func (f *fakeClient) count(what func(*fakeClient) int) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return what(f)
}

// fakeMsg is a received paho message.
type fakeMsg struct {
	topic, payload string
	retained       bool
	mu             sync.Mutex
	acks           int
}

func (m *fakeMsg) Duplicate() bool   { return false }
func (m *fakeMsg) Qos() byte         { return 1 }
func (m *fakeMsg) Retained() bool    { return m.retained }
func (m *fakeMsg) Topic() string     { return m.topic }
func (m *fakeMsg) MessageID() uint16 { return 1 }
func (m *fakeMsg) Payload() []byte   { return []byte(m.payload) }
func (m *fakeMsg) Ack() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.acks++
}
func (m *fakeMsg) acked() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.acks
}

// startFake runs a collector whose MQTT client is fc.
func startFake(t *testing.T, fc *fakeClient, group string) (*Collector, *prometheus.Registry) {
	t.Helper()
	reg := prometheus.NewRegistry()
	c, err := New(Config{
		Broker: "tcp://broker.invalid:1883", ClientID: "me", SharedGroup: group,
		Spool: openSpool(t, t.TempDir()), Store: mem.New(), Stations: station.New(nil, false, quietLogger()),
		Registerer: reg, Logger: quietLogger(), DrainTimeout: time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	c.newClient = func(o *paho.ClientOptions) mqttClient { fc.opts = o; return fc }
	run(t, c)
	return c, reg
}

func run(t *testing.T, c *Collector) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); c.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
}

// TestRefusedSubscriptionIsRetried: a SUBACK of 0x80, as a broker's ACL
// gives, is not a subscription. The collector stays not ready, counts the
// refusal and subscribes again on the same connection; it never
// disconnects, which would end paho's reconnecting for good.
func TestRefusedSubscriptionIsRetried(t *testing.T) {
	fc := &fakeClient{refuse: map[string]int{TopicPrefix + "/+/+/+": 2}}
	c, _ := startFake(t, fc, "")
	waitFor(t, "subscribed after two refusals", c.Connected)
	if n := fc.count(func(f *fakeClient) int { return len(f.subscribed) }); n != 3 {
		t.Errorf("subscribed %d times, want 3 (two refused)", n)
	}
	if n := testutil.ToFloat64(c.m.subscribeErrors); n != 2 {
		t.Errorf("envmon_mqtt_subscribe_errors_total = %v, want 2", n)
	}
	if n := fc.count(func(f *fakeClient) int { return f.disconnects }); n != 0 {
		t.Errorf("the collector disconnected %d times to retry", n)
	}
}

// TestReconnectsQuickly: paho is told to reconnect for ever, waiting at
// most a second between attempts, so the collector subscribes again within
// about a second of the broker's return.
func TestReconnectsQuickly(t *testing.T) {
	fc := &fakeClient{}
	c, _ := startFake(t, fc, "")
	waitFor(t, "connected", c.Connected)
	o := fc.opts
	if !o.AutoReconnect || !o.ConnectRetry {
		t.Errorf("AutoReconnect %v, ConnectRetry %v: want both", o.AutoReconnect, o.ConnectRetry)
	}
	if o.MaxReconnectInterval > time.Second {
		t.Errorf("MaxReconnectInterval = %s, want at most 1s", o.MaxReconnectInterval)
	}
	if o.CleanSession {
		t.Error("clean session: the broker would forget what it queued for envmon")
	}
}

// TestFailedForwardIsRetried: a reading of a station another replica owns
// is forwarded; when the forward fails it is tried again, and the original
// is acknowledged only once the broker has the copy. The accept loop goes
// on working afterwards.
func TestFailedForwardIsRetried(t *testing.T) {
	fc := &fakeClient{failPublish: map[string]int{}}
	c, _ := startFake(t, fc, "g")
	waitFor(t, "connected", c.Connected)
	c.cluster.set("other", true)
	var id string
	for i := range 100 {
		if id = fmt.Sprintf("st-%d", i); c.cluster.owner(id) == "other" {
			break
		}
	}
	inbox := c.cluster.inboxTopic("other", "")
	fc.mu.Lock()
	fc.failPublish[inbox] = 3
	fc.mu.Unlock()

	ts := time.Now().Add(-time.Minute).UnixMilli()
	msg := &fakeMsg{topic: "envmon/p1/" + id + "/air", payload: fmt.Sprintf(`{"ts":%d,"values":{"pm25":1}}`, ts)}
	c.onMessage(nil, msg)
	waitFor(t, "forwarded message acknowledged", func() bool { return msg.acked() == 1 })
	if n := testutil.ToFloat64(c.m.forwardErrors); n != 3 {
		t.Errorf("envmon_ingest_forward_errors_total = %v, want 3", n)
	}
	published := fc.count(func(f *fakeClient) int {
		n := 0
		for _, p := range f.published {
			if strings.HasPrefix(p, inbox) {
				n++
			}
		}
		return n
	})
	if published != 1 {
		t.Errorf("forwarded copies the broker took: %d, want 1", published)
	}

	// The accept loop still runs: a reading of a station this replica owns
	// is taken too.
	var mine string
	for i := range 100 {
		if mine = fmt.Sprintf("st-%d", i); c.cluster.owner(mine) == "me" {
			break
		}
	}
	own := &fakeMsg{topic: "envmon/p1/" + mine + "/air", payload: fmt.Sprintf(`{"ts":%d,"values":{"pm25":1}}`, ts)}
	c.onMessage(nil, own)
	waitFor(t, "own message acknowledged", func() bool { return own.acked() == 1 })
}

// TestRetainedStatusKeepsItsTime: a broker sends a station's retained
// status again on every subscription. A copy that repeats the known status
// keeps the time it was first heard; a change is taken with the time it
// arrives.
func TestRetainedStatusKeepsItsTime(t *testing.T) {
	fc := &fakeClient{}
	now := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	var mu sync.Mutex
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
	reg := station.New(nil, false, quietLogger())
	c, err := New(Config{
		Broker: "tcp://broker.invalid:1883", Spool: openSpool(t, t.TempDir()), Store: mem.New(), Stations: reg,
		Logger: quietLogger(), DrainTimeout: time.Millisecond, Now: clock,
	})
	if err != nil {
		t.Fatal(err)
	}
	c.newClient = func(o *paho.ClientOptions) mqttClient { fc.opts = o; return fc }
	run(t, c)
	waitFor(t, "connected", c.Connected)

	first := clock()
	for i, m := range []*fakeMsg{
		{topic: "envmon/p1/st-1/status", payload: "online"},
		{topic: "envmon/p1/st-1/status", payload: "online", retained: true}, // resubscribed
		{topic: "envmon/p1/st-1/status", payload: "online", retained: true},
	} {
		c.onMessage(nil, m)
		waitFor(t, "status acknowledged", func() bool { return m.acked() == 1 })
		if v, _ := reg.Get("st-1"); v.Status != station.Online || !v.StatusAt.Equal(first) {
			t.Fatalf("after message %d: %s at %s, want online at %s", i, v.Status, v.StatusAt, first)
		}
		advance(time.Minute)
	}
	changed := clock()
	m := &fakeMsg{topic: "envmon/p1/st-1/status", payload: "offline", retained: true}
	c.onMessage(nil, m)
	waitFor(t, "status acknowledged", func() bool { return m.acked() == 1 })
	if v, _ := reg.Get("st-1"); v.Status != station.Offline || !v.StatusAt.Equal(changed) {
		t.Fatalf("retained change: %s at %s, want offline at %s", v.Status, v.StatusAt, changed)
	}
}
