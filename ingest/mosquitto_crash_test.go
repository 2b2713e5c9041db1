package ingest_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/envmon/envmon/internal/testenv"
)

// The tests in this file kill Mosquitto with SIGKILL and check what it
// kept, with plain MQTT clients and no envmon: what survives is Mosquitto's
// doing alone. docs/MQTT.md ("What survives a kill -9 of Mosquitto") states
// the results.

// crashTopic is where the tests publish; message payloads are decimal ids,
// perhaps padded after a space.
const crashTopic = "crash/test"

// deploySettings returns the lines of deploy/mosquitto.conf that decide what
// Mosquitto keeps on disk and in its queues, to run a test broker with them.
// The listener, persistence location and logging stay the test's own.
func deploySettings(t testing.TB) string {
	t.Helper()
	f, err := os.Open(filepath.Join("..", "deploy", "mosquitto.conf"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var b strings.Builder
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		key, _, _ := strings.Cut(strings.TrimSpace(sc.Text()), " ")
		switch key {
		case "persistence", "autosave_interval", "autosave_on_changes", "max_inflight_messages",
			"max_queued_messages", "max_queued_bytes", "queue_qos0_messages", "persistent_client_expiration":
			b.WriteString(sc.Text() + "\n")
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// received counts the distinct ids a subscriber received, and repeats.
type received struct {
	mu      sync.Mutex
	ids     map[int]bool
	repeats int
}

func (r *received) add(id int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.ids[id] {
		r.repeats++
	}
	r.ids[id] = true
}

func (r *received) len() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.ids)
}

func (r *received) has(id int) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.ids[id]
}

// crashSubscriber connects a persistent-session (clean session false)
// subscriber that subscribes to crashTopic at QoS 1 on every connect and
// records what it gets; paho acknowledges each message once the handler
// returns.
func crashSubscriber(t testing.TB, url, id string, r *received) paho.Client {
	t.Helper()
	o := paho.NewClientOptions().AddBroker(url).SetClientID(id).SetCleanSession(false).
		SetAutoReconnect(true).SetMaxReconnectInterval(200 * time.Millisecond).SetConnectRetry(true).
		SetConnectRetryInterval(200 * time.Millisecond).SetOrderMatters(false)
	o.SetDefaultPublishHandler(func(_ paho.Client, m paho.Message) {
		digits, _, _ := strings.Cut(string(m.Payload()), " ")
		if id, err := strconv.Atoi(digits); err == nil {
			r.add(id)
		}
	})
	o.SetOnConnectHandler(func(c paho.Client) {
		c.Subscribe(crashTopic, 1, nil) // the handler above takes the messages
	})
	c := paho.NewClient(o)
	if tok := c.Connect(); !tok.WaitTimeout(30*time.Second) || tok.Error() != nil {
		t.Fatalf("subscriber connect: %v", tok.Error())
	}
	// Wait for the subscription to be in place.
	if tok := c.Subscribe(crashTopic, 1, nil); !tok.WaitTimeout(30*time.Second) || tok.Error() != nil {
		t.Fatalf("subscribe: %v", tok.Error())
	}
	return c
}

// crashPublisher connects a publisher that keeps its session (clean session
// false), so that paho resends what the broker had not acknowledged when it
// comes back.
func crashPublisher(t testing.TB, url, id string) paho.Client {
	t.Helper()
	o := paho.NewClientOptions().AddBroker(url).SetClientID(id).SetCleanSession(false).
		SetAutoReconnect(true).SetMaxReconnectInterval(200 * time.Millisecond).SetConnectRetry(true).
		SetConnectRetryInterval(200 * time.Millisecond).SetOrderMatters(false)
	c := paho.NewClient(o)
	if tok := c.Connect(); !tok.WaitTimeout(30*time.Second) || tok.Error() != nil {
		t.Fatalf("publisher connect: %v", tok.Error())
	}
	return c
}

// publishAcked publishes ids from to to-1 at QoS 1 and returns once the
// broker has acknowledged every one (PUBACK), publishing again any whose
// publish failed.
func publishAcked(t testing.TB, c paho.Client, from, to int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute) // a watchdog
	defer cancel()
	pending := make([]int, 0, to-from)
	for id := from; id < to; id++ {
		pending = append(pending, id)
	}
	for len(pending) > 0 {
		toks := make([]paho.Token, len(pending))
		for i, id := range pending {
			toks[i] = c.Publish(crashTopic, 1, false, strconv.Itoa(id))
		}
		var failed []int
		for i, tok := range toks {
			select {
			case <-tok.Done():
			case <-ctx.Done():
				t.Fatalf("publish: no PUBACK for %d: %v", pending[i], ctx.Err())
			}
			if tok.Error() != nil {
				failed = append(failed, pending[i])
			}
		}
		pending = failed
	}
}

// saves returns how many times the broker's log says it began saving its
// in-memory database (log_type information).
func saves(t testing.TB, b *testenv.Broker) int {
	t.Helper()
	log, err := os.ReadFile(filepath.Join(b.Dir, "mosquitto.log"))
	if err != nil {
		t.Fatal(err)
	}
	return strings.Count(string(log), "Saving in-memory database")
}

// waitSaves waits until the broker has begun n more saves than it had at
// from. Mosquitto saves in its one thread, so once save from+n has begun,
// save from+n-1 has finished.
func waitSaves(t testing.TB, b *testenv.Broker, from, n int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute) // a watchdog
	defer cancel()
	for saves(t, b) < from+n {
		select {
		case <-ctx.Done():
			t.Fatalf("the broker saved %d times, want %d: does deploy/mosquitto.conf set autosave_interval?", saves(t, b)-from, n)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// TestMosquittoKillKeepsSavedQueue: with the settings of
// deploy/mosquitto.conf, QoS 1 messages that Mosquitto acknowledged and
// queued for an offline persistent subscriber survive a kill -9 of the
// broker once an autosave has run after they arrived; and the subscriber
// gets them when it comes back. Messages acknowledged after the last save
// may be lost; the test reports how many were.
func TestMosquittoKillKeepsSavedQueue(t *testing.T) {
	t.Parallel()
	broker := testenv.MosquittoWith(t, deploySettings(t))
	var got received
	got.ids = map[int]bool{}
	sub := crashSubscriber(t, broker.URL, "crash-sub", &got)
	sub.Disconnect(250) // offline: the broker queues for its session

	const saved, unsaved = 2000, 500
	pub := crashPublisher(t, broker.URL, "crash-pub")
	publishAcked(t, pub, 0, saved)
	waitSaves(t, broker, saves(t, broker), 2)
	publishAcked(t, pub, saved, saved+unsaved)
	pub.Disconnect(250)
	broker.Kill(t)
	broker.Start(t)

	sub = crashSubscriber(t, broker.URL, "crash-sub", &got)
	defer sub.Disconnect(250)
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute) // a watchdog
	defer cancel()
	for got.len() < saved {
		select {
		case <-ctx.Done():
			t.Fatalf("subscriber has %d distinct messages after the restart, want at least the %d saved", got.len(), saved)
		case <-time.After(50 * time.Millisecond):
		}
	}
	var missing []int
	for id := range saved {
		if !got.has(id) {
			missing = append(missing, id)
		}
	}
	if len(missing) > 0 {
		t.Fatalf("%d acknowledged messages saved before the kill are missing, first %d", len(missing), missing[0])
	}
	time.Sleep(time.Second) // let the rest arrive, for the report only
	t.Logf("%d of %d saved messages kept; %d of %d acknowledged after the last save kept; %d repeats",
		saved, saved, got.len()-saved, unsaved, got.repeats)
}

// TestMosquittoKillMeasure measures what survives a kill -9 of Mosquitto
// mid-stream: 4 publishers at QoS 1 (persistent sessions, so paho resends
// what was not acknowledged) send RATE messages/s in all for SECONDS, to a
// persistent-session subscriber that is online, or, with OFFLINE=1, that
// is offline until the broker is back; the broker is killed halfway and
// started again at once. It reports the messages acknowledged to the
// publishers but never received. It runs only when asked:
//
//	ENVMON_MOSQUITTO_KILL=1 [RATE=4000] [SECONDS=6] [PAYLOAD=200] [OFFLINE=1] \
//	  [ENVMON_MOSQUITTO_EXTRA='autosave_on_changes false;autosave_interval 1'] \
//	  go test -count=1 -run TestMosquittoKillMeasure -v ./ingest/
//
// ENVMON_MOSQUITTO_EXTRA (lines separated by ";") overrides the settings of
// deploy/mosquitto.conf, to compare others.
func TestMosquittoKillMeasure(t *testing.T) {
	if os.Getenv("ENVMON_MOSQUITTO_KILL") == "" {
		t.Skip("a measurement; set ENVMON_MOSQUITTO_KILL=1 to run it")
	}
	rate, seconds := envInt(t, "RATE", 4000), envInt(t, "SECONDS", 6)
	pad := " " + strings.Repeat("x", max(envInt(t, "PAYLOAD", 200)-8, 0)) // about a reading's size
	offline := os.Getenv("OFFLINE") == "1"
	extra := deploySettings(t) + strings.ReplaceAll(os.Getenv("ENVMON_MOSQUITTO_EXTRA"), ";", "\n") + "\n"
	t.Logf("settings:\n%s", extra)
	broker := testenv.MosquittoWith(t, extra)
	var got received
	got.ids = map[int]bool{}
	sub := crashSubscriber(t, broker.URL, "measure-sub", &got)
	if offline {
		sub.Disconnect(250)
	}

	const publishers = 4
	var (
		acked    sync.Map // id → true, once PUBACKed
		nacked   atomic.Int64
		wg       sync.WaitGroup
		total    = rate * seconds
		perPub   = total / publishers
		interval = 10 * time.Millisecond
	)
	start := time.Now()
	for p := range publishers {
		pub := crashPublisher(t, broker.URL, fmt.Sprintf("measure-pub-%d", p))
		defer pub.Disconnect(250)
		wg.Add(1)
		go func() {
			defer wg.Done()
			perTick := max(1, rate*int(interval/time.Millisecond)/1000/publishers)
			tick := time.NewTicker(interval)
			defer tick.Stop()
			var toks sync.WaitGroup
			for i := 0; i < perPub; {
				<-tick.C
				for k := 0; k < perTick && i < perPub; k, i = k+1, i+1 {
					id := p*perPub + i
					tok := pub.Publish(crashTopic, 1, false, strconv.Itoa(id)+pad)
					toks.Add(1)
					go func() {
						defer toks.Done()
						for {
							tok.Wait()
							if tok.Error() == nil {
								acked.Store(id, true)
								return
							}
							nacked.Add(1)
							time.Sleep(100 * time.Millisecond)
							tok = pub.Publish(crashTopic, 1, false, strconv.Itoa(id)+pad)
						}
					}()
				}
			}
			toks.Wait()
		}()
	}
	time.Sleep(time.Duration(seconds) * time.Second / 2)
	broker.Kill(t)
	killedAt := time.Since(start)
	broker.Start(t)
	wg.Wait()
	elapsed := time.Since(start)
	if offline {
		sub = crashSubscriber(t, broker.URL, "measure-sub", &got)
	}
	defer sub.Disconnect(250)
	// Settle: wait until nothing new arrives for 3 s.
	for last := -1; got.len() != last; {
		last = got.len()
		time.Sleep(3 * time.Second)
	}
	var nAcked, lost int
	acked.Range(func(k, _ any) bool {
		nAcked++
		if !got.has(k.(int)) {
			lost++
		}
		return true
	})
	t.Logf("rate %d/s for %ds, %d-byte payloads, subscriber offline=%v, killed after %v, all acknowledged after %v: %d sent, %d acknowledged, %d received (distinct), %d repeats, %d publishes failed and were resent: LOST %d acknowledged messages",
		rate, seconds, len(pad)+5, offline, killedAt.Round(time.Millisecond), elapsed.Round(time.Millisecond), total, nAcked, got.len(), got.repeats, nacked.Load(), lost)
}

func envInt(t testing.TB, name string, def int) int {
	t.Helper()
	s := os.Getenv(name)
	if s == "" {
		return def
	}
	n, err := strconv.Atoi(s)
	if err != nil {
		t.Fatalf("%s=%q: %v", name, s, err)
	}
	return n
}
