package testenv_test

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/envmon/envmon/internal/testenv"
)

func TestFreePort(t *testing.T) {
	p := testenv.FreePort(t)
	if p <= 0 || p > 65535 {
		t.Fatalf("FreePort = %d", p)
	}
	l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", p))
	if err != nil {
		t.Fatalf("listen on the free port: %v", err)
	}
	l.Close()
}

func TestInfluxd(t *testing.T) {
	in := testenv.Influxd(t)
	if in.Bucket != "envmon/autogen" || in.Database != "envmon" {
		t.Errorf("Bucket, Database = %q, %q", in.Bucket, in.Database)
	}
	ping(t, in.URL)

	in.CreateDatabase(t, "other")
	write(t, in.URL, "envmon", "air,station=s1 pm25=12.5 1700000000000000000")
	const count = `SELECT count(pm25) FROM air`
	want := `"values":[["1970-01-01T00:00:00Z",1]]`
	if got := query(t, in, "envmon", count); !strings.Contains(got, want) {
		t.Fatalf("before restart: %s, want it to contain %s", got, want)
	}

	in.Stop(t)
	if resp, err := http.Get(in.URL + "/ping"); err == nil {
		resp.Body.Close()
		t.Fatal("ping after Stop succeeded")
	}
	in.Start(t)
	ping(t, in.URL)
	if got := query(t, in, "envmon", count); !strings.Contains(got, want) {
		t.Errorf("after restart: %s, want it to contain %s", got, want)
	}
	if got := query(t, in, "", "SHOW DATABASES"); !strings.Contains(got, `["other"]`) {
		t.Errorf("after restart the databases are %s, want other among them", got)
	}
}

func ping(t *testing.T, url string) {
	t.Helper()
	resp, err := http.Get(url + "/ping")
	if err != nil {
		t.Fatalf("ping: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		t.Fatalf("ping: %s", resp.Status)
	}
}

func write(t *testing.T, url, db, lines string) {
	t.Helper()
	resp, err := http.Post(url+"/write?db="+db, "text/plain", strings.NewReader(lines))
	if err != nil {
		t.Fatalf("write: %v", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		body, _ := io.ReadAll(resp.Body)
		t.Fatalf("write: %s: %s", resp.Status, body)
	}
}

func query(t *testing.T, in *testenv.Influx, db, q string) string {
	t.Helper()
	b, err := in.Query(t.Context(), db, q)
	if err != nil {
		t.Fatalf("query %q: %v", q, err)
	}
	return string(b)
}

func TestMosquitto(t *testing.T) {
	m := testenv.Mosquitto(t)
	if m.Port == 1883 || m.URL != fmt.Sprintf("tcp://127.0.0.1:%d", m.Port) {
		t.Fatalf("URL, Port = %q, %d", m.URL, m.Port)
	}
	addr := strings.TrimPrefix(m.URL, "tcp://")
	mqttConnect(t, addr)

	m.Stop(t)
	if c, err := net.Dial("tcp", addr); err == nil {
		c.Close()
		t.Fatal("connect after Stop succeeded")
	}
	// A broker stopped gracefully saves its state.
	db := filepath.Join(m.Dir, "mosquitto.db")
	if _, err := os.Stat(db); err != nil {
		t.Errorf("no persistence file after Stop: %v", err)
	}
	m.Start(t)
	mqttConnect(t, addr)
}

// TestMosquittoPersistentSession checks that a message queued for a
// persistent session survives a restart of the broker.
func TestMosquittoPersistentSession(t *testing.T) {
	m := testenv.Mosquitto(t)
	got := make(chan string, 1)
	sub := mqttClient(t, m.URL, "sub", func(_ mqtt.Client, msg mqtt.Message) {
		select {
		case got <- string(msg.Payload()):
		default:
		}
	})
	wait(t, "subscribe", sub.Subscribe("envmon/test", 1, nil))
	sub.Disconnect(250)

	pub := mqttClient(t, m.URL, "pub", nil)
	wait(t, "publish", pub.Publish("envmon/test", 1, false, "hello"))
	pub.Disconnect(250)

	m.Stop(t)
	m.Start(t)

	sub = mqttClient(t, m.URL, "sub", func(_ mqtt.Client, msg mqtt.Message) {
		select {
		case got <- string(msg.Payload()):
		default:
		}
	})
	defer sub.Disconnect(250)
	select {
	case p := <-got:
		if p != "hello" {
			t.Errorf("got %q, want hello", p)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the queued message did not arrive after the restart")
	}
}

// mqttClient connects a client with a persistent session.
func mqttClient(t *testing.T, url, id string, h mqtt.MessageHandler) mqtt.Client {
	t.Helper()
	opts := mqtt.NewClientOptions().
		AddBroker(url).
		SetClientID(id).
		SetCleanSession(false).
		SetAutoReconnect(false).
		SetDefaultPublishHandler(h)
	c := mqtt.NewClient(opts)
	wait(t, "connect "+id, c.Connect())
	return c
}

func wait(t *testing.T, what string, tok mqtt.Token) {
	t.Helper()
	if !tok.WaitTimeout(30 * time.Second) {
		t.Fatalf("%s: no answer", what)
	}
	if err := tok.Error(); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// mqttConnect sends an MQTT 3.1.1 CONNECT and expects a CONNACK accepting
// it.
func mqttConnect(t *testing.T, addr string) {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	connect := []byte{
		0x10, 16, // CONNECT, remaining length
		0, 4, 'M', 'Q', 'T', 'T', 4, // protocol name and level 3.1.1
		0x02,  // clean session
		0, 60, // keep alive
		0, 4, 't', 'e', 's', 't', // client id
	}
	if _, err := c.Write(connect); err != nil {
		t.Fatalf("send CONNECT: %v", err)
	}
	ack := make([]byte, 4)
	if _, err := io.ReadFull(c, ack); err != nil {
		t.Fatalf("read CONNACK: %v", err)
	}
	if want := []byte{0x20, 2, 0, 0}; !bytes.Equal(ack, want) {
		t.Fatalf("CONNACK = % x, want % x", ack, want)
	}
}
