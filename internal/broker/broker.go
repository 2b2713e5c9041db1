// Package broker runs the embedded MQTT broker (mochi-mqtt) that envmon
// starts when no external broker is configured.
package broker

import (
	"cmp"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"sync"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/listeners"
	"github.com/mochi-mqtt/server/v2/packets"
)

// DefaultAddr is where the broker listens unless told otherwise: loopback
// only, so that nothing off the host reaches it until an address is chosen.
const DefaultAddr = "127.0.0.1:1883"

// DefaultClientID is envmon's own client id unless Config.ClientID says
// otherwise.
const DefaultClientID = "envmon"

// Config configures the embedded broker.
//
// Clients log in with a username and password from Accounts (a station's
// username is its id), or on the TLS listener with a client certificate.
// A station may publish only under envmon/{point}/{id}/ of its account,
// its will included, and subscribe only there; a reader may subscribe
// within its filters and publish nothing. No one but envmon may publish or
// subscribe under envmon/_cluster/, nor subscribe to anything that could
// match envmon/# or $SYS/# beyond their own. ClientID is envmon's: a
// CONNECT with it is refused, so no one can take over envmon's session.
// A client id in use can be taken over only by the same user.
type Config struct {
	// Addr is the TCP listen address; empty means DefaultAddr. Port 0
	// picks a free one.
	Addr string
	// Listener, if set, is used instead of listening on Addr.
	Listener net.Listener
	// TLS, if set, adds a TLS listener.
	TLS    *TLS
	Logger *slog.Logger

	// Accounts are the users who may log in; nil means none.
	Accounts Accounts
	// OpenRegistration also lets clients in without credentials (or with
	// a username Accounts does not know): they may publish as any station
	// under envmon/{point}/{id}/, except a station that has a password,
	// and subscribe to anything outside envmon/ and $... . A known user
	// must still give the right password.
	OpenRegistration bool
	// ClientID is envmon's own client id (mqtt.client_id); empty means
	// DefaultClientID. envmon uses the broker's inline client, so a
	// CONNECT with ClientID, or with mochi's "inline", is refused.
	ClientID string
	// AllowAll turns authentication and the topic rules off, except that
	// ClientID stays reserved: any client may connect and publish and
	// subscribe anywhere. It is for tests of other packages that need a
	// plain broker.
	AllowAll bool

	// OnConnected, if set, is called when a client's session is
	// established (envmon's own excepted), before the broker ends any
	// session it takes over. conn is comparable and equal only for this
	// connection: Message.Conn of the messages it sends, and the conn of
	// its OnStationGone. It runs on the broker's goroutine for that
	// client and must not block.
	OnConnected func(clientID string, conn any)
	// OnStationGone, if set, is called when a client's connection ends,
	// whoever it was (envmon's own excepted), with the username it logged
	// in as ("" if none), the connection (as for OnConnected) and whether
	// another connection with its client id took its session over. It
	// runs on the broker's goroutine for that client and must not block.
	OnStationGone func(clientID, username string, conn any, takenOver bool)

	// Inbound, if set, takes every message published under InboundPrefix
	// before the broker acknowledges it (see Inbound).
	Inbound       Inbound
	InboundPrefix string

	// MaxPacketSize is the largest MQTT packet, in bytes with its header,
	// that a client may send; a larger one ends the connection before its
	// body is read. It is advertised in the MQTT 5 CONNACK. Zero means
	// DefaultMaxPacketSize.
	MaxPacketSize uint32
}

// Broker is a running embedded MQTT broker.
type Broker struct {
	srv       *mqtt.Server
	ln        net.Listener
	tlsLn     net.Listener
	inbound   *inboundHook
	closeOnce sync.Once
}

// Start listens on cfg.Addr (and cfg.TLS.Addr) and serves MQTT 3.1.1 and 5
// until Close. A port that is taken is reported as an error wrapping the
// listen error, so callers can test it with IsAddrInUse.
func Start(cfg Config) (_ *Broker, err error) {
	b := &Broker{ln: cfg.Listener}
	defer func() {
		if err != nil {
			for _, ln := range []net.Listener{b.ln, b.tlsLn} {
				if ln != nil {
					ln.Close()
				}
			}
			err = fmt.Errorf("embedded MQTT broker: %w", err)
		}
	}()
	maxPacket := cmp.Or(cfg.MaxPacketSize, DefaultMaxPacketSize)
	if maxPacket > maxMQTTPacketSize {
		return nil, fmt.Errorf("maximum packet size %d exceeds MQTT's %d", maxPacket, maxMQTTPacketSize)
	}
	if b.ln == nil {
		if b.ln, err = net.Listen("tcp", cmp.Or(cfg.Addr, DefaultAddr)); err != nil {
			return nil, err
		}
	}
	if cfg.TLS != nil {
		if b.tlsLn, err = cfg.TLS.listen(); err != nil {
			return nil, err
		}
	}
	b.ln = limitPacketSize(b.ln, maxPacket)
	if b.tlsLn != nil {
		b.tlsLn = limitPacketSize(b.tlsLn, maxPacket)
	}
	logger := cfg.Logger
	if logger == nil {
		logger = slog.Default()
	}
	caps := mqtt.NewDefaultServerCapabilities()
	caps.MaximumPacketSize = maxPacket
	// mochi logs every connect at info; keep that out of envmon's info log.
	// logFilter keeps the packets mochi logs (passwords, payloads) out.
	b.srv = mqtt.New(&mqtt.Options{
		InlineClient: true,
		Capabilities: caps,
		Logger:       slog.New(newLogFilter(logger.Handler())).With("component", "broker"),
	})
	if err := b.srv.AddHook(&conformanceHook{srv: b.srv, maxPacketSize: maxPacket}, nil); err != nil {
		return nil, err
	}
	if err := b.srv.AddHook(newGuard(b.srv, cfg, logger.With("component", "broker")), nil); err != nil {
		return nil, err
	}
	if cfg.Inbound != nil {
		b.inbound = &inboundHook{srv: b.srv, prefix: cfg.InboundPrefix, in: cfg.Inbound, quit: make(chan struct{})}
		if err := b.srv.AddHook(b.inbound, nil); err != nil {
			return nil, err
		}
	}
	if err := b.srv.AddListener(&tcpListener{id: "tcp", ln: b.ln, srv: b.srv}); err != nil {
		return nil, err
	}
	if b.tlsLn != nil {
		if err := b.srv.AddListener(&tcpListener{id: "tls", ln: b.tlsLn, srv: b.srv}); err != nil {
			return nil, err
		}
	}
	if err := b.srv.Serve(); err != nil {
		return nil, err
	}
	return b, nil
}

// Addr returns the address the broker listens on.
func (b *Broker) Addr() net.Addr { return b.ln.Addr() }

// TLSAddr returns the address of the TLS listener, or nil if there is none.
func (b *Broker) TLSAddr() net.Addr {
	if b.tlsLn == nil {
		return nil
	}
	return b.tlsLn.Addr()
}

// URL returns a URL a local client can connect to, such as
// tcp://127.0.0.1:1883.
func (b *Broker) URL() string {
	return "tcp://" + LocalHostPort(b.ln.Addr())
}

// Publish publishes a message from envmon itself (the broker's inline
// client), such as an alert notification.
func (b *Broker) Publish(topic string, payload []byte, retain bool, qos byte) error {
	return b.srv.Publish(topic, payload, retain, qos)
}

// StopInbound stops handing messages to the Inbound: from now on a
// message published under the prefix is left unacknowledged, for the
// client to send again after it reconnects. Call it before stopping the
// Inbound, so that nothing is acknowledged after the consumer stops.
func (b *Broker) StopInbound() {
	if b.inbound != nil {
		b.inbound.stop()
	}
}

// Close disconnects every client and stops listening. Closing again does
// nothing.
func (b *Broker) Close() error {
	var err error
	b.closeOnce.Do(func() {
		// A QoS 2 message waiting for the Inbound's answer would hold its
		// client, and Close waits for every client.
		b.StopInbound()
		err = b.srv.Close()
	})
	return err
}

// LocalHostPort turns a listener's address into one a local client can dial:
// a wildcard host becomes 127.0.0.1.
func LocalHostPort(a net.Addr) string {
	tcp, ok := a.(*net.TCPAddr)
	if !ok {
		return a.String()
	}
	host := "127.0.0.1"
	if tcp.IP != nil && !tcp.IP.IsUnspecified() {
		host = tcp.IP.String()
	}
	return net.JoinHostPort(host, strconv.Itoa(tcp.Port))
}

// tcpListener serves MQTT over TCP as mochi's listeners.Net does, but
// closes differently, for two faults of mochi's own:
//   - listeners.Net hands Close to the server's Clients.GetByListener,
//     which takes the clients' read lock twice (mochi-mqtt/server#488): a
//     client that disconnects between the two waits for the write lock,
//     the second read lock waits behind it, and the broker hangs for ever.
//   - A connection accepted just before Close is not yet among the
//     clients when they are listed, so nothing ends it and the server
//     waits for it for ever; and its attachClient adds to the server's
//     WaitGroup while Close waits on it, which the WaitGroup forbids.
//
// So the listener keeps its own count of the connections it hands to
// mochi. Close stops accepting, disconnects this listener's clients under
// a single read lock, closes every connection still open (those still
// connecting too), and returns only when each has left mochi's
// EstablishFn: the server's Wait then finds no client being added.
type tcpListener struct {
	id   string
	ln   net.Listener
	srv  *mqtt.Server
	log  *slog.Logger
	once sync.Once

	mu     sync.Mutex
	closed bool
	conns  map[net.Conn]struct{} // accepted, not yet out of establish
	wg     sync.WaitGroup        // one per entry of conns
}

var _ listeners.Listener = (*tcpListener)(nil)

func (l *tcpListener) ID() string       { return l.id }
func (l *tcpListener) Address() string  { return l.ln.Addr().String() }
func (l *tcpListener) Protocol() string { return l.ln.Addr().Network() }

func (l *tcpListener) Init(log *slog.Logger) error {
	l.log = log
	return nil
}

// Serve accepts connections until the listener is closed.
func (l *tcpListener) Serve(establish listeners.EstablishFn) {
	for {
		conn, err := l.ln.Accept()
		if err != nil {
			return
		}
		if !l.track(conn) {
			conn.Close()
			return
		}
		go func() {
			defer l.untrack(conn)
			if err := handshake(conn); err != nil {
				l.log.Debug("mqtt TLS handshake failed", "remote", conn.RemoteAddr().String(), "error", err)
				conn.Close()
				return
			}
			if err := establish(l.id, conn); err != nil {
				l.log.Debug("mqtt client ended", "error", err)
			}
		}()
	}
}

// track counts conn in, unless the listener is closing.
func (l *tcpListener) track(conn net.Conn) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return false
	}
	if l.conns == nil {
		l.conns = map[net.Conn]struct{}{}
	}
	l.conns[conn] = struct{}{}
	l.wg.Add(1)
	return true
}

func (l *tcpListener) untrack(conn net.Conn) {
	l.mu.Lock()
	delete(l.conns, conn)
	l.mu.Unlock()
	l.wg.Done()
}

// Close stops accepting connections, disconnects this listener's clients
// and waits until every connection it accepted has ended. It ignores the
// server's close function; see tcpListener.
func (l *tcpListener) Close(listeners.CloseFn) {
	l.once.Do(func() {
		l.mu.Lock()
		l.closed = true
		l.mu.Unlock()
		l.ln.Close()
		for _, cl := range l.srv.Clients.GetAll() {
			if cl.Net.Listener == l.id && !cl.Closed() {
				_ = l.srv.DisconnectClient(cl, packets.ErrServerShuttingDown)
			}
		}
		// Those still connecting, or connected after the list was taken.
		l.mu.Lock()
		for conn := range l.conns {
			conn.Close()
		}
		l.mu.Unlock()
		l.wg.Wait()
	})
}
