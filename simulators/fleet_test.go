package simulators

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/envmon/envmon/internal/broker"
	"github.com/envmon/envmon/reading"
	"github.com/envmon/envmon/station"
)

// startBroker starts envmon's embedded broker on a free loopback port.
func startBroker(t testing.TB) string {
	t.Helper()
	if testing.Short() {
		t.Skip("skipping test with an embedded MQTT broker in -short mode")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	b, err := broker.Start(broker.Config{Listener: ln, AllowAll: true, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return b.URL()
}

type received struct {
	topic   string
	payload string
}

// subscriber records every message on envmon/#.
type subscriber struct {
	mu   sync.Mutex
	msgs []received
}

func subscribe(t testing.TB, url string) *subscriber {
	t.Helper()
	s := &subscriber{}
	c := paho.NewClient(paho.NewClientOptions().AddBroker(url).SetClientID("test-sub").SetCleanSession(true))
	if tok := c.Connect(); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatalf("subscriber connect: %v", tok.Error())
	}
	tok := c.Subscribe("envmon/#", 1, func(_ paho.Client, m paho.Message) {
		s.mu.Lock()
		s.msgs = append(s.msgs, received{m.Topic(), string(m.Payload())})
		s.mu.Unlock()
	})
	if !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatalf("subscribe: %v", tok.Error())
	}
	t.Cleanup(func() { c.Disconnect(100) })
	return s
}

func (s *subscriber) on(topic string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for _, m := range s.msgs {
		if m.topic == topic {
			out = append(out, m.payload)
		}
	}
	return out
}

func waitUntil(t *testing.T, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestFleetFaults runs stations with faults against the embedded broker
// and checks what a subscriber sees: the last will on a real dropout,
// duplicates, out-of-order delivery, malformed payloads, SenML and a
// mobile station's position.
func TestFleetFaults(t *testing.T) {
	url := startBroker(t)
	sub := subscribe(t, url)
	start := time.Now().Add(-time.Hour).Truncate(time.Minute)
	at := func(m int) time.Time { return start.Add(time.Duration(m) * time.Minute) }
	stations := []StationConfig{
		{ID: "drop", Point: "p1", Media: []reading.Medium{reading.Air}, Episodes: []Episode{{Kind: Dropout, From: at(5)}}},
		{ID: "dup", Point: "p1", Media: []reading.Medium{reading.Water}, Episodes: []Episode{
			{Kind: Duplicate, From: at(2)}, {Kind: OutOfOrder, From: at(4)}, {Kind: Malformed, From: at(6)}, {Kind: Sentinel, From: at(8), To: at(9), Metrics: []string{"do"}}}},
		{ID: "senml", Point: "p2", Media: []reading.Medium{reading.Noise}, Format: SenML},
		{ID: "mob", Point: "p3", Type: station.Mobile, Media: []reading.Medium{reading.Air}, Route: []Stop{
			{Position: Position{30.5, 104.1}, Arrive: at(3), Stay: 2 * time.Minute}}},
	}
	var mu sync.Mutex
	var sent []Sent
	f, err := NewFleet(FleetConfig{
		Transport: Transport{Broker: url, QoS: 1},
		Clock:     Clock{Start: start, Wall: time.Now(), Speed: 600}, // a minute every 100 ms
		End:       at(10),
		Stations:  stations,
		Record:    func(s Sent) { mu.Lock(); sent = append(sent, s); mu.Unlock() },
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer f.Close(false)

	waitUntil(t, "the last will of the dropped station", func() bool {
		st := sub.on("envmon/p1/drop/status")
		return len(st) >= 2 && st[len(st)-1] == "offline"
	})
	if n := len(sub.on("envmon/p1/drop/air")); n != 5 {
		t.Errorf("dropped station published %d readings, want 5 (before minute 5)", n)
	}

	waitUntil(t, "all of dup's messages", func() bool { return len(sub.on("envmon/p1/dup/water")) == 11 })
	var ts []int64
	bad := 0
	for _, p := range sub.on("envmon/p1/dup/water") {
		var m struct {
			TS     int64              `json:"ts"`
			Values map[string]float64 `json:"values"`
			Seq    int64              `json:"seq"`
		}
		dec := json.NewDecoder(strings.NewReader(p))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&m); err != nil || len(m.Values) == 0 {
			bad++
			continue
		}
		if m.TS == at(8).UnixMilli() && m.Values["do"] != -999 {
			t.Errorf("sentinel: do = %v at minute 8", m.Values["do"])
		}
		ts = append(ts, (m.TS-start.UnixMilli())/60000)
	}
	// Minute 2 twice, minute 4 after 5, minute 6 broken.
	want := []int64{0, 1, 2, 2, 3, 5, 4, 7, 8, 9}
	if bad != 1 || !equal(ts, want) {
		t.Errorf("dup's minutes %v with %d malformed, want %v and 1", ts, bad, want)
	}

	waitUntil(t, "SenML", func() bool { return len(sub.on("envmon/p2/senml/noise")) == 10 })
	var pack []map[string]any
	if err := json.Unmarshal([]byte(sub.on("envmon/p2/senml/noise")[0]), &pack); err != nil {
		t.Fatal(err)
	}
	if pack[0]["bn"] != "urn:dev:envmon:senml:" || pack[0]["bt"] != float64(start.Unix()) || pack[0]["u"] != "dB" || len(pack) != 6 {
		t.Errorf("SenML pack %v", pack)
	}

	waitUntil(t, "the mobile station's stop", func() bool { return len(sub.on("envmon/p3/mob/air")) == 2 })
	for _, p := range sub.on("envmon/p3/mob/air") {
		if !strings.Contains(p, `"lat":30.5`) || !strings.Contains(p, `"lon":104.1`) {
			t.Errorf("mobile payload without position: %s", p)
		}
	}

	mu.Lock()
	defer mu.Unlock()
	lost, malformed := 0, 0
	for _, s := range sent {
		if s.Lost {
			lost++
		}
		if s.Malformed {
			malformed++
		}
	}
	if lost != 5 || malformed != 1 {
		t.Errorf("recorded %d lost and %d malformed, want 5 and 1", lost, malformed)
	}
}

func equal(a, b []int64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestDropoutReconnects: a dropout with an end reconnects and says
// online; with Buffer it forwards what it measured while offline.
func TestDropoutReconnects(t *testing.T) {
	url := startBroker(t)
	sub := subscribe(t, url)
	start := time.Now().Add(-time.Hour).Truncate(time.Minute)
	at := func(m int) time.Time { return start.Add(time.Duration(m) * time.Minute) }
	f, err := NewFleet(FleetConfig{
		Transport: Transport{Broker: url, QoS: 1},
		Clock:     Clock{Start: start, Wall: time.Now(), Speed: 600},
		End:       at(10),
		Stations: []StationConfig{{ID: "s", Point: "p", Media: []reading.Medium{reading.Air},
			Episodes: []Episode{{Kind: Dropout, From: at(3), To: at(6), Buffer: true}, {Kind: ReconnectStorm, From: at(8), Count: 3}}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer f.Close(false)
	waitUntil(t, "ten readings", func() bool { return len(sub.on("envmon/p/s/air")) == 10 })
	waitUntil(t, "online at the end", func() bool {
		st := sub.on("envmon/p/s/status")
		return len(st) > 0 && st[len(st)-1] == "online" && strings.Count(strings.Join(st, " "), "offline") >= 1
	})
}
