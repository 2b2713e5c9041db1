package broker

import (
	"context"
	"net"
	"os/exec"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"
)

// These tests publish with two MQTT 5 client implementations that share
// no code with mochi or with each other: Eclipse Paho's Go client and
// Mosquitto's C library, through mosquitto_pub.

// TestPahoGolangPublishesWithUserProperties publishes QoS 1 with user
// properties through paho.golang. paho.golang itself fails a publish only
// on a reason code of 0x80 or more, so the test also checks the PUBACK it
// got: reason 0x00 and none of the PUBLISH's properties.
func TestPahoGolangPublishesWithUserProperties(t *testing.T) {
	b := startBroker(t, Config{})
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	conn, err := (&net.Dialer{}).DialContext(ctx, "tcp", LocalHostPort(b.Addr()))
	if err != nil {
		t.Fatal(err)
	}
	c := paho.NewClient(paho.ClientConfig{Conn: conn})
	ca, err := c.Connect(ctx, &paho.Connect{ClientID: "paho-golang", CleanStart: true, KeepAlive: 30})
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	defer c.Disconnect(&paho.Disconnect{})
	if ca.Properties == nil || ca.Properties.MaximumPacketSize == nil || *ca.Properties.MaximumPacketSize != DefaultMaxPacketSize {
		t.Errorf("CONNACK properties %+v: want maximum packet size %d", ca.Properties, DefaultMaxPacketSize)
	}
	for i := range 3 {
		pr, err := c.Publish(ctx, &paho.Publish{
			QoS:     1,
			Topic:   "envmon/air/st-1/reading",
			Payload: []byte(`{"pm25":` + strconv.Itoa(i) + `}`),
			Properties: &paho.PublishProperties{
				ContentType: "application/json",
				User:        paho.UserProperties{{Key: "station", Value: "st-1"}, {Key: "seq", Value: strconv.Itoa(i)}},
			},
		})
		if err != nil {
			t.Fatalf("publish %d: %v", i, err)
		}
		if pr.ReasonCode != 0 {
			t.Errorf("publish %d: PUBACK reason %#02x, want 0x00", i, pr.ReasonCode)
		}
		if pr.Properties != nil && (len(pr.Properties.User) > 0 || pr.Properties.ReasonString != "") {
			t.Errorf("publish %d: PUBACK carries properties %+v, want none", i, pr.Properties)
		}
	}
	// A refused topic is a failed publish, not one waiting for ever.
	pr, err := c.Publish(ctx, &paho.Publish{QoS: 1, Topic: "$SYS/x", Payload: []byte("x"),
		Properties: &paho.PublishProperties{User: paho.UserProperties{{Key: "k", Value: "v"}}}})
	if err == nil || pr == nil || pr.ReasonCode != 0x90 {
		t.Errorf("publish to $SYS: %+v, %v; want a refusal with reason 0x90", pr, err)
	}
}

// mosquittoPub finds the mosquitto_pub binary, which `make test` installs
// (package mosquitto-clients).
func mosquittoPub(t *testing.T) string {
	t.Helper()
	for _, p := range []string{"mosquitto_pub", "/usr/bin/mosquitto_pub"} {
		if path, err := exec.LookPath(p); err == nil {
			return path
		}
	}
	if testing.Short() {
		t.Skip("mosquitto_pub not found")
	}
	t.Fatal("mosquitto_pub not found; run `make test`, which installs mosquitto-clients")
	return ""
}

// TestMosquittoPubPublishesWithUserProperties publishes QoS 1 with user
// properties through mosquitto_pub (libmosquitto). It exits 0 only once
// the PUBACK came; with -d it prints the PUBACK's reason code.
func TestMosquittoPubPublishesWithUserProperties(t *testing.T) {
	bin := mosquittoPub(t)
	b := startBroker(t, Config{})
	host, port, _ := net.SplitHostPort(LocalHostPort(b.Addr()))
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	run := func(topic string) (string, error) {
		cmd := exec.CommandContext(ctx, bin, "-h", host, "-p", port, "-V", "mqttv5", "-q", "1", "-d",
			"-i", "mosquitto-pub", "-t", topic, "-m", `{"pm25":3}`,
			"-D", "publish", "user-property", "station", "st-1",
			"-D", "publish", "user-property", "firmware", "2.1",
			"-D", "publish", "content-type", "application/json")
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	out, err := run("envmon/air/st-1/reading")
	if err != nil {
		t.Fatalf("mosquitto_pub: %v\n%s", err, out)
	}
	if !regexp.MustCompile(`received PUBACK \(Mid: \d+, RC:0\)`).MatchString(out) {
		t.Errorf("no PUBACK with RC:0 in mosquitto_pub's output:\n%s", out)
	}
	// A refused topic: libmosquitto hears the 0x90 (144) and says so.
	out, _ = run("$SYS/x")
	if !regexp.MustCompile(`received PUBACK \(Mid: \d+, RC:144\)`).MatchString(out) {
		t.Errorf("publish to $SYS: no PUBACK with RC:144 in mosquitto_pub's output:\n%s", out)
	}
}
