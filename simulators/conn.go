package simulators

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"math/rand/v2"
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
	// ClientIDSuffix ends every client id. Scenario runs set a random one,
	// so that two runs never take over each other's sessions.
	ClientIDSuffix string
}

// ClientID returns the MQTT client id of station (or connection) id.
func (tr Transport) ClientID(id string) string {
	p := tr.ClientIDPrefix
	if p == "" {
		p = "envmon-sim-"
	}
	return p + id + tr.ClientIDSuffix
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

// MQTTDialer returns the Dialer that connects over MQTT as tr says. Its
// connections reconnect by themselves when the broker drops them; see
// conn.
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

// Reconnection backoff: the first retry waits about reconnectMin, each
// failed attempt doubles the wait up to reconnectMax, and every wait is
// drawn at random from its upper half so that a fleet dropped at once does
// not come back at once.
const (
	reconnectMin = 100 * time.Millisecond
	reconnectMax = 10 * time.Second
)

// backoff returns the wait before reconnection attempt n (0 for the first
// retry): minWait·2ⁿ capped at maxWait, jittered into [d/2, d) by r, a
// number in [0, 1).
func backoff(n int, minWait, maxWait time.Duration, r float64) time.Duration {
	d := maxWait
	if n < 32 {
		d = min(maxWait, minWait<<n)
	}
	return d/2 + time.Duration(r*float64(d/2))
}

// conn is a station's MQTT connection. Its network connection can be
// dropped abruptly, without a DISCONNECT, so that the broker publishes its
// last will just as when a real station loses power or signal. When the
// broker drops it instead, or another client takes its session over, conn
// reconnects by itself with backoff, says online again if its will says
// offline, and publishes again what the broker had not acknowledged.
type conn struct {
	tr       Transport
	clientID string
	will     *will
	tlsc     *tls.Config

	// wait returns the wait before reconnection attempt n; tests shorten it.
	wait func(n int) time.Duration

	mu    sync.Mutex
	sess  *session      // the current session; nil while reconnecting
	ready chan struct{} // closed when a session becomes current
	raw   net.Conn      // the latest network connection
	done  bool          // Drop or Close: never reconnect
	quit  chan struct{} // closed by Drop and Close
	// reconnects counts the sessions opened after the first.
	reconnects int
}

// session is one MQTT session: a paho client from CONNECT to its loss.
type session struct {
	client paho.Client
	gone   chan struct{} // closed when the connection is lost
	lost   bool          // the connection was lost; conn.mu guards it
}

// dial connects to the broker as clientID.
func dial(ctx context.Context, tr Transport, clientID string, w *will) (*conn, error) {
	tlsc, err := tr.tlsConfig()
	if err != nil {
		return nil, err
	}
	c := &conn{tr: tr, clientID: clientID, will: w, tlsc: tlsc, ready: make(chan struct{}), quit: make(chan struct{})}
	c.wait = func(n int) time.Duration { return backoff(n, reconnectMin, reconnectMax, rand.Float64()) }
	if err := c.connect(ctx); err != nil {
		return nil, err
	}
	return c, nil
}

// connect opens a new session with a fresh client and, once the broker
// accepts it, makes it the current one.
func (c *conn) connect(ctx context.Context) error {
	s := &session{gone: make(chan struct{})}
	opts := paho.NewClientOptions().
		AddBroker(c.tr.Broker).
		SetClientID(c.clientID).
		SetUsername(c.tr.Username).
		SetPassword(c.tr.Password).
		SetCleanSession(true).
		SetAutoReconnect(false).
		SetConnectRetry(false).
		SetKeepAlive(30 * time.Second).
		SetConnectTimeout(10 * time.Second).
		SetWriteTimeout(10 * time.Second).
		SetTLSConfig(c.tlsc).
		SetCustomOpenConnectionFn(func(u *url.URL, o paho.ClientOptions) (net.Conn, error) {
			nc, err := open(u, o)
			if err == nil {
				c.mu.Lock()
				c.raw = nc
				c.mu.Unlock()
			}
			return nc, err
		}).
		SetConnectionLostHandler(func(paho.Client, error) { c.lost(s) })
	if c.will != nil {
		opts.SetWill(c.will.topic, c.will.payload, 1, true)
	}
	s.client = paho.NewClient(opts)
	tok := s.client.Connect()
	select {
	case <-tok.Done():
	case <-ctx.Done():
		go func() { <-tok.Done(); s.client.Disconnect(0) }()
		return ctx.Err()
	}
	if err := tok.Error(); err != nil {
		return fmt.Errorf("connect to %s as %s: %w", c.tr.Broker, c.clientID, err)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.done {
		go s.client.Disconnect(0)
		return errClosed
	}
	if s.lost {
		// Lost between CONNACK and now: as good as never connected.
		return fmt.Errorf("connect to %s as %s: connection lost at once", c.tr.Broker, c.clientID)
	}
	c.sess = s
	close(c.ready)
	return nil
}

// lost is called when session s's connection is lost. Unless the
// connection was dropped or closed on purpose, conn reconnects.
func (c *conn) lost(s *session) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if s.lost {
		return
	}
	s.lost = true
	close(s.gone)
	if c.sess != s {
		return
	}
	c.sess = nil
	c.ready = make(chan struct{})
	if !c.done {
		go c.reconnect()
	}
}

// reconnect opens a new session, waiting longer after each failed attempt,
// until it succeeds or the connection is dropped or closed.
func (c *conn) reconnect() {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		select {
		case <-c.quit:
			cancel()
		case <-ctx.Done():
		}
	}()
	for n := 0; ; n++ {
		t := time.NewTimer(c.wait(n))
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return
		}
		err := c.connect(ctx)
		if ctx.Err() != nil {
			return
		}
		if err == nil {
			break
		}
	}
	c.mu.Lock()
	c.reconnects++
	c.mu.Unlock()
	if c.will != nil && c.will.payload == "offline" {
		// The broker published the will when it lost the old session.
		_ = c.Publish(ctx, c.will.topic, 1, true, []byte("online"))
	}
}

// Reconnects returns how many times the connection was opened again after
// the broker lost it.
func (c *conn) Reconnects() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.reconnects
}

// open is paho's network dialer: it opens the connection as paho would,
// so that conn can keep hold of it and Drop can close it.
func open(u *url.URL, o paho.ClientOptions) (net.Conn, error) {
	d := &net.Dialer{Timeout: o.ConnectTimeout}
	switch u.Scheme {
	case "tcp", "mqtt":
		return d.Dial("tcp", u.Host)
	case "ssl", "tls", "mqtts", "tcps":
		cfg := o.TLSConfig.Clone()
		if cfg.ServerName == "" {
			cfg.ServerName = u.Hostname()
		}
		return tls.DialWithDialer(d, "tcp", u.Host, cfg)
	case "ws", "wss":
		ws := *u
		ws.User = nil
		var tlsc *tls.Config
		if u.Scheme == "wss" {
			tlsc = o.TLSConfig
		}
		return paho.NewWebsocket(ws.String(), tlsc, o.ConnectTimeout, o.HTTPHeaders, o.WebsocketOptions)
	}
	return nil, fmt.Errorf("unsupported broker scheme %q", u.Scheme)
}

// ackTimeout bounds how long a connected session may leave a publish
// unacknowledged before Publish gives up.
const ackTimeout = 10 * time.Second

// errClosed is returned by Publish on a dropped or closed connection.
var errClosed = errors.New("connection dropped or closed")

// Publish publishes and waits for the broker's acknowledgement (at QoS 0,
// for the message to be written). If the connection is lost first, it
// waits for conn to reconnect and publishes again, until the broker
// acknowledges, ctx is done or the connection is dropped or closed. A
// session that stays connected without acknowledging for 10 s fails it.
func (c *conn) Publish(ctx context.Context, topic string, qos byte, retained bool, payload []byte) error {
	for {
		c.mu.Lock()
		s, ready, done := c.sess, c.ready, c.done
		c.mu.Unlock()
		if done {
			return errClosed
		}
		if s == nil {
			select {
			case <-ready:
				continue
			case <-c.quit:
				return errClosed
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		tok := s.client.Publish(topic, qos, retained, payload)
		t := time.NewTimer(ackTimeout)
		select {
		case <-tok.Done():
			t.Stop()
			if err := tok.Error(); err != nil {
				select {
				case <-s.gone:
					continue // lost in flight: send it again on the next session
				case <-time.After(100 * time.Millisecond):
					// paho may fail the token just before it reports the loss.
				}
				select {
				case <-s.gone:
					continue
				default:
					return err
				}
			}
			return nil
		case <-s.gone:
			t.Stop()
			// Lost before the acknowledgement: send it again on the next
			// session (at QoS 1 the broker may then have it twice).
		case <-t.C:
			return fmt.Errorf("publish to %s: no acknowledgement within %s", topic, ackTimeout)
		case <-c.quit:
			t.Stop()
			return errClosed
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		}
	}
}

// Drop closes the network connection without a DISCONNECT: the broker
// sees the connection lost and publishes the last will. conn does not
// reconnect after it.
func (c *conn) Drop() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.stop()
	if c.raw != nil {
		c.raw.Close()
		c.raw = nil
	}
}

// Close disconnects cleanly: the broker discards the last will.
func (c *conn) Close() {
	c.mu.Lock()
	s := c.sess
	c.stop()
	c.mu.Unlock()
	if s != nil {
		s.client.Disconnect(250)
	}
}

// stop marks c done. c.mu is held.
func (c *conn) stop() {
	if !c.done {
		c.done = true
		close(c.quit)
	}
}
