package simulators

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"sync"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
)

// Transport is how simulated stations reach the broker. It works with any
// MQTT 3.1.1 broker: envmon's embedded one, Mosquitto, EMQX and the like.
type Transport struct {
	// Broker is the broker's URL: tcp://host:1883, or ssl://host:8883 (also
	// tls://, mqtts://) for TLS, or ws:// and wss://.
	Broker   string
	Username string
	Password string
	// QoS is the QoS of readings: 0, 1 or 2. Status messages use 1.
	QoS byte
	// TLSCA is a PEM file of CA certificates to trust for a TLS broker;
	// empty trusts the system's. TLSInsecure skips verifying the broker's
	// certificate (testing only).
	TLSCA       string
	TLSInsecure bool
	// ClientIDPrefix starts every client id; the station id (or a
	// connection number) follows. Default "envmon-sim-".
	ClientIDPrefix string
}

func (tr Transport) clientID(suffix string) string {
	p := tr.ClientIDPrefix
	if p == "" {
		p = "envmon-sim-"
	}
	return p + suffix
}

// Validate reports what is wrong with tr.
func (tr Transport) Validate() error {
	if tr.Broker == "" {
		return errors.New("broker URL is required, e.g. tcp://127.0.0.1:1883")
	}
	u, err := url.Parse(tr.Broker)
	if err != nil || u.Host == "" {
		return fmt.Errorf("broker %q is not a URL like tcp://127.0.0.1:1883", tr.Broker)
	}
	switch u.Scheme {
	case "tcp", "mqtt", "ws":
		if tr.TLSCA != "" || tr.TLSInsecure {
			return fmt.Errorf("TLS options given but broker %q is not a TLS URL (ssl://, tls://, mqtts:// or wss://)", tr.Broker)
		}
	case "ssl", "tls", "mqtts", "tcps", "wss":
	default:
		return fmt.Errorf("broker %q: scheme %q is not tcp, ssl, tls, mqtts, ws or wss", tr.Broker, u.Scheme)
	}
	if tr.QoS > 2 {
		return fmt.Errorf("QoS %d is not 0, 1 or 2", tr.QoS)
	}
	return nil
}

func (tr Transport) tlsConfig() (*tls.Config, error) {
	c := &tls.Config{InsecureSkipVerify: tr.TLSInsecure} //nolint:gosec // asked for by --tls-insecure
	if tr.TLSCA != "" {
		pem, err := os.ReadFile(tr.TLSCA)
		if err != nil {
			return nil, fmt.Errorf("TLS CA: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("TLS CA %s holds no PEM certificate", tr.TLSCA)
		}
		c.RootCAs = pool
	}
	return c, nil
}

// Conn is a station's connection to the broker, as a Fleet uses it.
type Conn interface {
	// Publish publishes and waits for the broker to take the message.
	Publish(ctx context.Context, topic string, qos byte, retained bool, payload []byte) error
	// Drop loses the connection without a DISCONNECT, so the broker
	// publishes the last will.
	Drop()
	// Close disconnects cleanly; the broker discards the last will.
	Close()
}

// Dialer opens a station's connection as clientID, with a retained last
// will of willPayload on willTopic.
type Dialer func(ctx context.Context, clientID, willTopic, willPayload string) (Conn, error)

// MQTTDialer returns the Dialer that connects over MQTT as tr says.
func MQTTDialer(tr Transport) Dialer {
	return func(ctx context.Context, clientID, willTopic, willPayload string) (Conn, error) {
		w := &will{willTopic, willPayload}
		if willTopic == "" {
			w = nil
		}
		return dial(ctx, tr, clientID, w)
	}
}

// will is a last will: published by the broker if the connection is lost
// without a DISCONNECT.
type will struct {
	topic, payload string
}

// conn is one MQTT connection whose network connection can be dropped
// abruptly, without a DISCONNECT, so that the broker publishes its last
// will just as when a real station loses power or signal.
type conn struct {
	client paho.Client
	mu     sync.Mutex
	raw    net.Conn
}

// dial connects to the broker as clientID.
func dial(ctx context.Context, tr Transport, clientID string, w *will) (*conn, error) {
	tlsc, err := tr.tlsConfig()
	if err != nil {
		return nil, err
	}
	c := &conn{}
	opts := paho.NewClientOptions().
		AddBroker(tr.Broker).
		SetClientID(clientID).
		SetUsername(tr.Username).
		SetPassword(tr.Password).
		SetCleanSession(true).
		SetAutoReconnect(false).
		SetConnectRetry(false).
		SetKeepAlive(30 * time.Second).
		SetConnectTimeout(10 * time.Second).
		SetWriteTimeout(10 * time.Second).
		SetTLSConfig(tlsc).
		SetCustomOpenConnectionFn(c.open)
	if w != nil {
		opts.SetWill(w.topic, w.payload, 1, true)
	}
	c.client = paho.NewClient(opts)
	tok := c.client.Connect()
	select {
	case <-tok.Done():
	case <-ctx.Done():
		go func() { <-tok.Done(); c.Drop() }()
		return nil, ctx.Err()
	}
	if err := tok.Error(); err != nil {
		return nil, fmt.Errorf("connect to %s as %s: %w", tr.Broker, clientID, err)
	}
	return c, nil
}

// open is paho's network dialer: it opens the connection as paho would
// and keeps hold of it, so drop can close it.
func (c *conn) open(u *url.URL, o paho.ClientOptions) (net.Conn, error) {
	d := &net.Dialer{Timeout: o.ConnectTimeout}
	var (
		nc  net.Conn
		err error
	)
	switch u.Scheme {
	case "tcp", "mqtt":
		nc, err = d.Dial("tcp", u.Host)
	case "ssl", "tls", "mqtts", "tcps":
		cfg := o.TLSConfig.Clone()
		if cfg.ServerName == "" {
			cfg.ServerName = u.Hostname()
		}
		nc, err = tls.DialWithDialer(d, "tcp", u.Host, cfg)
	case "ws", "wss":
		ws := *u
		ws.User = nil
		var tlsc *tls.Config
		if u.Scheme == "wss" {
			tlsc = o.TLSConfig
		}
		nc, err = paho.NewWebsocket(ws.String(), tlsc, o.ConnectTimeout, o.HTTPHeaders, o.WebsocketOptions)
	default:
		err = fmt.Errorf("unsupported broker scheme %q", u.Scheme)
	}
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	c.raw = nc
	c.mu.Unlock()
	return nc, nil
}

// Publish publishes and waits for the broker's acknowledgement (at QoS 0,
// for the message to be written), at most 10 s.
func (c *conn) Publish(ctx context.Context, topic string, qos byte, retained bool, payload []byte) error {
	tok := c.client.Publish(topic, qos, retained, payload)
	t := time.NewTimer(10 * time.Second)
	defer t.Stop()
	select {
	case <-tok.Done():
		return tok.Error()
	case <-t.C:
		return fmt.Errorf("publish to %s: no acknowledgement within 10s", topic)
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Drop closes the network connection without a DISCONNECT: the broker
// sees the connection lost and publishes the last will.
func (c *conn) Drop() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.raw != nil {
		c.raw.Close()
		c.raw = nil
	}
}

// Close disconnects cleanly: the broker discards the last will.
func (c *conn) Close() {
	c.client.Disconnect(250)
}
