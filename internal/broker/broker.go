// Package broker runs the embedded MQTT broker (mochi-mqtt) that envmon
// starts when no external broker is configured.
package broker

import (
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"sync"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/hooks/auth"
	"github.com/mochi-mqtt/server/v2/listeners"
	"github.com/mochi-mqtt/server/v2/packets"
)

// Config configures the embedded broker.
type Config struct {
	// Addr is the TCP listen address, such as ":1883"; port 0 picks a free one.
	Addr string
	// Listener, if set, is used instead of listening on Addr.
	Listener net.Listener
	Logger   *slog.Logger
}

// Broker is a running embedded MQTT broker. It accepts any client: it is
// meant for a single host, where the stations and envmon share a network.
type Broker struct {
	srv *mqtt.Server
	ln  net.Listener
}

// Start listens on cfg.Addr and serves MQTT 3.1.1 and 5 until Close.
// A port that is taken is reported as an error wrapping the listen error, so
// callers can test it with IsAddrInUse.
func Start(cfg Config) (*Broker, error) {
	ln := cfg.Listener
	if ln == nil {
		var err error
		if ln, err = net.Listen("tcp", cfg.Addr); err != nil {
			return nil, fmt.Errorf("embedded MQTT broker: %w", err)
		}
	}
	logger := cfg.Logger
	if logger == nil {
		logger = slog.Default()
	}
	// mochi logs every connect at info; keep that out of envmon's info log.
	srv := mqtt.New(&mqtt.Options{
		InlineClient: true,
		Logger:       logger.With("component", "broker"),
	})
	if err := srv.AddHook(new(auth.AllowHook), nil); err != nil {
		ln.Close()
		return nil, fmt.Errorf("embedded MQTT broker: %w", err)
	}
	if err := srv.AddListener(&tcpListener{id: "tcp", ln: ln, srv: srv}); err != nil {
		ln.Close()
		return nil, fmt.Errorf("embedded MQTT broker: %w", err)
	}
	if err := srv.Serve(); err != nil {
		ln.Close()
		return nil, fmt.Errorf("embedded MQTT broker: %w", err)
	}
	return &Broker{srv: srv, ln: ln}, nil
}

// Addr returns the address the broker listens on.
func (b *Broker) Addr() net.Addr { return b.ln.Addr() }

// URL returns a URL a local client can connect to, such as
// tcp://127.0.0.1:1883.
func (b *Broker) URL() string {
	return "tcp://" + LocalHostPort(b.ln.Addr())
}

// Close disconnects every client and stops listening.
func (b *Broker) Close() error { return b.srv.Close() }

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
// closes its clients differently. listeners.Net hands Close to the
// server's Clients.GetByListener, which takes the clients' read lock twice
// (mochi-mqtt/server#488): a client that disconnects between the two waits
// for the write lock, the second read lock waits behind it, and the broker
// hangs for ever. Here Close stops accepting first and then lists the
// clients under a single read lock.
type tcpListener struct {
	id   string
	ln   net.Listener
	srv  *mqtt.Server
	log  *slog.Logger
	once sync.Once
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
		go func() {
			if err := establish(l.id, conn); err != nil {
				l.log.Debug("mqtt client ended", "error", err)
			}
		}()
	}
}

// Close stops accepting connections and disconnects this listener's
// clients. It ignores the server's close function; see tcpListener.
func (l *tcpListener) Close(listeners.CloseFn) {
	l.once.Do(func() {
		l.ln.Close()
		for _, cl := range l.srv.Clients.GetAll() {
			if cl.Net.Listener == l.id && !cl.Closed() {
				_ = l.srv.DisconnectClient(cl, packets.ErrServerShuttingDown)
			}
		}
	})
}
