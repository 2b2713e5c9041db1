package ingest

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/envmon/envmon/ingest/qc"
	"github.com/envmon/envmon/ingest/spool"
	"github.com/envmon/envmon/reading"
	"github.com/envmon/envmon/station"
)

// Writer stores readings durably; store.Store satisfies it.
type Writer interface {
	Write(ctx context.Context, rs []reading.Reading) error
}

// Stations admits stations and learns what they report; *station.Registry
// satisfies it. Observe must not keep rs after it returns.
type Stations interface {
	Admit(point, id string, m reading.Medium) error
	SetStatus(point, id string, st station.Status, at time.Time) error
	Get(id string) (station.View, bool)
	Observe(rs []reading.Reading)
}

// StatusSaver keeps station statuses durably; *station.StatusLog
// satisfies it. A status message is acknowledged only after Append.
type StatusSaver interface {
	Append(rs []station.StatusRecord) error
}

// Message is a message taken from a broker, held unacknowledged until the
// collector calls Ack: paho.Message satisfies it, and so does the embedded
// broker's message (internal/broker), which the broker hands to Deliver.
type Message interface {
	Topic() string
	Payload() []byte
	Ack()
}

// rejecter is a Message that can acknowledge with an MQTT 5 reason code: the
// embedded broker's, for an MQTT 5 client.
type rejecter interface {
	Reject(code byte)
}

// Defaults of Config, which envmon's configuration (internal/config) uses
// too, so that the two never differ.
const (
	DefaultBatchSize     = 5000
	DefaultWriters       = 4
	DefaultAckLinger     = 2 * time.Millisecond
	DefaultFlushInterval = 100 * time.Millisecond
	DefaultDeadLetters   = 1000
)

// Config configures a Collector.
type Config struct {
	// Broker is the MQTT broker to subscribe to, e.g. tcp://127.0.0.1:1883.
	// Empty means the embedded broker, which hands messages to Deliver
	// before it acknowledges them: no MQTT client is used.
	Broker   string
	ClientID string // fixed, so the broker keeps the session across restarts
	Username string
	Password string
	// Topic is the subscription filter; default envmon/+/+/+.
	Topic string
	// SharedGroup, if set, subscribes through the MQTT shared subscription
	// $share/<SharedGroup>/<Topic>, so that replicas split the messages.
	SharedGroup string
	// QoS of the subscription; default 1.
	QoS byte
	// BatchSize bounds the messages of one spool append and the readings of
	// one store write. A batch takes what is waiting, plus what arrives
	// within AckLinger (appends) or FlushInterval (writes); a full batch
	// goes at once.
	BatchSize int
	// QueueSize bounds the messages received but not yet stored; when it is
	// full, the collector stops reading from the broker (backpressure).
	// Default 4 × BatchSize.
	QueueSize int
	Limits    Limits
	// QC flags suspect values; default qc.New(qc.Config{}).
	QC *qc.Checker
	// DeadLetters keeps rejected messages for inspection; default a ring of
	// 1000. RepublishRejected also publishes each to
	// envmon/_rejected/<reason>/<original topic>.
	DeadLetters       *DeadLetters
	RepublishRejected bool

	// Spool is the write-ahead log between the broker and the store: a
	// message is acknowledged once its readings are appended to it (see
	// package spool for the fsync policy), and a writer moves them to Store.
	Spool *spool.Spool
	// Writers is how many batches are written to the store at once; they
	// are committed in order. Default DefaultWriters.
	Writers int
	// AckLinger is how long a group of messages may gather before it is
	// spooled with one fsync and acknowledged; 0 takes only what is
	// already waiting. The broker must allow that many messages in flight.
	AckLinger time.Duration
	// FlushInterval is how long the writer waits, after the first reading
	// of a batch, for the batch to fill before it writes it; 0 writes what
	// is there at once. It trades a little latency for fewer, larger store
	// writes (see docs/BENCHMARKS.md).
	FlushInterval time.Duration
	// DrainTimeout is how long Run, when stopping, keeps writing spooled
	// readings to the store; the rest stay spooled. Default 5s.
	DrainTimeout time.Duration

	Store    Writer
	Stations Stations
	// Sinks are fed the stream of accepted readings, each from its own
	// cursor in the spool, beside the store writer and the live state
	// (see Sink).
	Sinks []StreamSink
	// Live are fed the stream beside the registry's live state, on its
	// cursor: state in memory, rebuilt at start from the store, such as
	// the hourly windows. They must be idempotent under replay.
	Live []func(batch []Accepted)
	// Statuses, if set, keeps what stations say on their status topics
	// across restarts.
	Statuses StatusSaver
	// OnOffline, if set, is told each time a station is shown offline,
	// by its own word (a last will, typically) or because its connection
	// to the embedded broker ended. It runs outside the collector's locks.
	OnOffline  func(point, station string, at time.Time)
	Registerer prometheus.Registerer
	Logger     *slog.Logger
	// Now is the clock; default time.Now.
	Now func() time.Time
}

// Collector subscribes to station topics and stores what they publish.
type Collector struct {
	cfg       Config
	log       *slog.Logger
	m         *metrics
	queue     chan item
	stopping  chan struct{}
	stopOnce  sync.Once
	connected atomic.Bool
	client    mqttClient
	newClient func(*paho.ClientOptions) mqttClient
	conns     atomic.Int64 // counts connections, so a setup loop knows its own
	clientsMu sync.Mutex
	clients   map[string]*session // embedded broker's client id → its session
	cluster   *cluster            // nil unless SharedGroup is set
}

// item is one received message on its way to being stored and acknowledged.
// A rejected or status message has no reading but still waits its turn, so
// acknowledgements go out in the order messages came in (MQTT 3.1.1 §4.6).
type item struct {
	msg      Message
	code     byte // MQTT 5 reason code of a rejected message; 0 when accepted
	readings []reading.Reading
	status   *station.StatusRecord // a status change to save before the ack
	arrived  time.Time
	forward  *forwarded // set when another replica owns the station
}

// New checks cfg and returns a Collector; Run starts it.
func New(cfg Config) (*Collector, error) {
	if cfg.Store == nil || cfg.Stations == nil || cfg.Spool == nil {
		return nil, errors.New("ingest: store, stations and spool are required")
	}
	if cfg.Writers <= 0 {
		cfg.Writers = DefaultWriters
	}
	if cfg.DrainTimeout <= 0 {
		cfg.DrainTimeout = 5 * time.Second
	}
	if cfg.ClientID == "" {
		cfg.ClientID = "envmon"
	}
	if cfg.Topic == "" {
		cfg.Topic = TopicPrefix + "/+/+/+"
	}
	var cl *cluster
	if cfg.SharedGroup != "" {
		if cfg.Broker == "" {
			return nil, errors.New("ingest: a shared group needs an external broker: replicas cannot share the embedded one")
		}
		if strings.ContainsAny(cfg.SharedGroup, "/+#") {
			return nil, fmt.Errorf("ingest: shared group %q must not contain /, + or #", cfg.SharedGroup)
		}
		cfg.Topic = "$share/" + cfg.SharedGroup + "/" + cfg.Topic
		cl = newCluster(cfg.SharedGroup, cfg.ClientID)
	}
	if cfg.QoS == 0 {
		cfg.QoS = 1
	}
	if cfg.QoS > 2 {
		return nil, fmt.Errorf("ingest: QoS %d is not 0, 1 or 2", cfg.QoS)
	}
	if cfg.BatchSize <= 0 {
		cfg.BatchSize = DefaultBatchSize
	}
	if cfg.QueueSize <= 0 {
		cfg.QueueSize = 4 * cfg.BatchSize
	}
	cfg.Limits = cfg.Limits.withDefaults()
	if cfg.QC == nil {
		cfg.QC = qc.New(qc.Config{})
	}
	if cfg.DeadLetters == nil {
		cfg.DeadLetters = NewDeadLetters(1000)
	}
	if cfg.Registerer == nil {
		cfg.Registerer = prometheus.NewRegistry()
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Collector{
		cfg:       cfg,
		log:       cfg.Logger.With("component", "ingest"),
		m:         newMetrics(cfg.Registerer),
		queue:     make(chan item, cfg.QueueSize),
		stopping:  make(chan struct{}),
		cluster:   cl,
		newClient: newPahoClient,
	}, nil
}

// Connected reports whether the collector is connected to the broker.
func (c *Collector) Connected() bool { return c.connected.Load() }

// Run connects to the broker and stores readings until ctx is done. It
// connects in the background and keeps retrying with backoff, so a broker
// that is down at start or restarts later does not stop it. On return every
// message taken from the broker has been stored and acknowledged, or left
// unacknowledged for the broker to deliver again.
func (c *Collector) Run(ctx context.Context) error {
	if c.cfg.Broker != "" {
		c.client = c.newClient(c.clientOptions())
		c.addRoutes()
	}

	// Every sink's cursor is opened before the writer starts: an in-memory
	// sink's starts where the store writer is, and a batch the writer
	// stored and committed before it opened would be missed, neither in the
	// state rebuilt from the store nor given to the sink. And a cursor that
	// cannot be opened stops Run before anything runs.
	sinks, err := c.openSinks()
	if err != nil {
		return err
	}
	// The writer starts first: whatever a previous run left in the spool is
	// written before anything newer, since the spool is a FIFO.
	writeCtx, stopWriter := context.WithCancel(context.WithoutCancel(ctx))
	writerDone := make(chan struct{})
	go func() {
		defer close(writerDone)
		c.writeLoop(writeCtx)
	}()
	sinksDone := c.startSinks(writeCtx, sinks)
	acceptDone := make(chan struct{})
	go func() {
		defer close(acceptDone)
		c.acceptLoop(ctx)
	}()
	if c.client != nil {
		c.client.Connect() // retries in the background (ConnectRetry)
	} else {
		c.connected.Store(true) // the embedded broker calls Deliver
		c.m.connected.Set(1)
	}

	<-ctx.Done()
	c.Stop()
	<-acceptDone // everything queued is spooled and acknowledged, or not acknowledged
	if c.client != nil {
		if c.cluster != nil && c.client.IsConnectionOpen() {
			c.cluster.leave(c.client)
		}
		c.client.Disconnect(250)
	}
	c.connected.Store(false)
	c.m.connected.Set(0)
	// Give the writer a moment to empty the spool; what it cannot write now
	// stays spooled for the next start.
	c.drainSpool(writeCtx, c.cfg.DrainTimeout)
	stopWriter()
	<-writerDone
	<-sinksDone
	return nil
}

// Stop makes the collector take no more messages: Deliver returns at once
// and the broker's deliveries wait unacknowledged. Run calls it when its
// context ends; the embedded broker's owner calls it first, so that no
// message is acknowledged after the collector begins to stop.
func (c *Collector) Stop() {
	c.stopOnce.Do(func() { close(c.stopping) })
}

// clientOptions are the paho options for an external broker.
func (c *Collector) clientOptions() *paho.ClientOptions {
	opts := paho.NewClientOptions().
		AddBroker(c.cfg.Broker).
		SetClientID(c.cfg.ClientID).
		SetUsername(c.cfg.Username).
		SetPassword(c.cfg.Password).
		SetCleanSession(false).
		SetOrderMatters(true). // the handler only queues; it blocks only for backpressure
		SetAutoAckDisabled(true).
		SetKeepAlive(30 * time.Second).
		SetConnectRetry(true).
		SetConnectRetryInterval(time.Second).
		SetAutoReconnect(true).
		SetMaxReconnectInterval(reconnectInterval).
		SetConnectTimeout(10 * time.Second).
		SetOnConnectHandler(c.onConnect).
		SetConnectionLostHandler(func(_ paho.Client, err error) {
			c.connected.Store(false)
			c.m.connected.Set(0)
			c.log.Warn("lost connection to MQTT broker; reconnecting", "broker", c.brokerForLog(), "err", err)
		}).
		SetReconnectingHandler(func(paho.Client, *paho.ClientOptions) {
			c.log.Debug("reconnecting to MQTT broker", "broker", c.brokerForLog())
		})
	if open := bufferedOpener(c.cfg.Broker); open != nil {
		opts.SetCustomOpenConnectionFn(open)
	}
	if c.cluster != nil {
		c.cluster.will(opts)
	}
	return opts
}

// subscription is a topic filter the collector subscribes to on every
// connection.
type subscription struct {
	filter  string
	qos     byte
	handler paho.MessageHandler
}

// subscriptions lists the collector's topic filters, the cluster's (if any)
// first.
func (c *Collector) subscriptions() []subscription {
	var subs []subscription
	if c.cluster != nil {
		subs = append(subs,
			subscription{c.cluster.inboxFilter(), c.cfg.QoS, c.onForwarded},
			// A missed notice only delays another replica's latest view.
			subscription{c.cluster.storedFilter(), 0, c.onStoredElsewhere})
	}
	return append(subs, subscription{c.cfg.Topic, c.cfg.QoS, c.onMessage})
}

// addRoutes gives paho the handlers before it connects. A broker sends a
// resumed session's queued messages right after CONNACK, before onConnect
// has subscribed again; paho leaves a message that matches no route
// unacknowledged, and an MQTT 3.1.1 broker sends it again only at the next
// reconnect. Routes outlive connections, so this is done once.
func (c *Collector) addRoutes() {
	if c.cluster != nil {
		c.client.AddRoute(c.cluster.membersFilter(), c.cluster.onMember)
	}
	for _, s := range c.subscriptions() {
		c.client.AddRoute(routeKey(s.filter), s.handler)
	}
}

// routeKey is the route paho's Subscribe files filter's handler under: a
// shared subscription's filter without "$share/<group>/". Under any other
// key the handler would be a second route, and each message would be
// handled twice.
func routeKey(filter string) string {
	if rest, ok := strings.CutPrefix(filter, "$share/"); ok {
		if _, f, ok := strings.Cut(rest, "/"); ok {
			return f
		}
	}
	return filter
}

// onConnect starts setting up a new connection: joining the cluster and
// subscribing, retried until it succeeds or the connection ends. The
// collector is not connected (and /readyz not ready) until then. It never
// disconnects to retry: a Disconnect would end paho's reconnecting for
// good.
func (c *Collector) onConnect(paho.Client) {
	conn := c.conns.Add(1)
	go c.setUp(conn)
}

// setUp subscribes on connection conn, retrying with backoff.
func (c *Collector) setUp(conn int64) {
	for backoff := 100 * time.Millisecond; ; backoff = min(2*backoff, 5*time.Second) {
		err := c.subscribeAll()
		if err == nil {
			break
		}
		c.m.subscribeErrors.Inc()
		c.log.Error("subscribing failed; retrying", "retry_in", backoff, "err", err)
		select {
		case <-c.stopping:
			return
		case <-time.After(backoff):
		}
		if c.conns.Load() != conn || !c.client.IsConnectionOpen() {
			return // a newer connection sets itself up
		}
	}
	if c.conns.Load() != conn {
		return
	}
	c.connected.Store(true)
	c.m.connected.Set(1)
	c.log.Info("subscribed", "broker", c.brokerForLog(), "topic", c.cfg.Topic, "qos", c.cfg.QoS)
}

// brokerForLog is the broker's URL with any password redacted.
func (c *Collector) brokerForLog() string {
	u, err := url.Parse(c.cfg.Broker)
	if err != nil {
		return "(unparsable broker URL)"
	}
	return u.Redacted()
}

// subscribeAll joins the cluster, if any, and subscribes to every filter.
func (c *Collector) subscribeAll() error {
	if c.cluster != nil {
		// Members first, so that ownership is known before new readings
		// arrive. (Readings queued for a resumed session may come sooner;
		// until then this replica sees itself alone and keeps them.)
		if err := c.cluster.join(c.client); err != nil {
			return fmt.Errorf("join cluster: %w", err)
		}
	}
	for _, s := range c.subscriptions() {
		if err := subscribe(c.client, s.filter, s.qos, s.handler); err != nil {
			return err
		}
	}
	return nil
}

// onMessage runs on paho's router goroutine: it decodes and validates, then
// queues. A full queue blocks it, which stops reads from the broker.
func (c *Collector) onMessage(_ paho.Client, msg paho.Message) {
	c.handle(msg, msg.Topic(), c.cluster != nil, nil)
}

// Deliver takes a message from the embedded broker, which acknowledges it
// only when Deliver's caller sees Ack (or Reject) called: after its
// readings are spooled durably, in the order messages were delivered. It
// blocks while the queue is full, which stops that client's reads
// (backpressure). While the collector is stopping it returns at once
// without acknowledging, so the client sends the message again later.
func (c *Collector) Deliver(msg Message) {
	select {
	case <-c.stopping:
		return
	default:
	}
	var from *origin
	if m, ok := msg.(connMessage); ok {
		from = &origin{clientID: m.ClientID(), conn: m.Conn()}
	}
	c.handle(msg, msg.Topic(), false, from)
}

// Publish publishes a message through the collector's connection to an
// external broker, waiting for the broker's acknowledgement at QoS 1 and
// 2: alert notifications, say.
func (c *Collector) Publish(ctx context.Context, topic string, qos byte, retained bool, payload []byte) error {
	if c.client == nil {
		return errors.New("ingest: no connection to an external broker")
	}
	if err := waitToken(ctx, c.client.Publish(topic, qos, retained, payload)); err != nil {
		return fmt.Errorf("publish %s: %w", topic, err)
	}
	return nil
}

// handle processes a message published on topic. With forward, a reading
// of a station another replica owns is passed to that replica instead.
// from is the embedded broker's connection it came on, or nil.
func (c *Collector) handle(msg Message, topic string, forward bool, from *origin) {
	it := item{msg: msg, arrived: c.cfg.Now()}
	if strings.HasPrefix(topic, rejectedPrefix) {
		msg.Ack() // our own dead letters, when the filter is wider than ours
		return
	}
	now := it.arrived
	t, rj := ParseTopic(topic)
	if rj == nil && forward {
		if owner := c.cluster.owner(t.Station); owner != c.cluster.self {
			it.forward = &forwarded{topic: c.cluster.inboxTopic(owner, topic), payload: msg.Payload()}
			c.enqueue(it)
			return
		}
	}
	switch {
	case rj != nil:
	case t.Status:
		it.status, rj = c.statusFrom(t, msg, from)
	default:
		if from != nil {
			c.clientsMu.Lock()
			c.noteLocked(*from, t)
			c.clientsMu.Unlock()
		}
		var rs []reading.Reading
		if rs, rj = Decode(t, msg.Payload(), c.cfg.Limits, now); rj == nil {
			rj = c.admit(t)
		}
		if rj == nil {
			for i := range rs {
				c.cfg.QC.Check(&rs[i], now)
			}
			it.readings = rs
		}
	}
	if rj != nil {
		c.rejected(t, topic, msg.Payload(), rj, now)
		it.code = rj.Code()
	}
	c.enqueue(it)
}

func (c *Collector) enqueue(it item) {
	select {
	case c.queue <- it:
		c.m.queued.Inc()
	case <-c.stopping:
		// Not acknowledged: the broker delivers it again after restart.
	}
}

func (c *Collector) admit(t Topic) *Rejection {
	err := c.cfg.Stations.Admit(t.Point, t.Station, t.Medium)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, station.ErrUnknownStation):
		return reject(ReasonUnknownStation, "%v (not in the station registry)", err)
	default:
		return reject(ReasonUnknownStation, "%v", err)
	}
}

// status records what a station says on its status topic. A retained
// message that repeats the status already known is a broker's copy, sent
// again on every subscription: the status keeps the time it was first
// heard. It returns the change to save, if any.
func (c *Collector) status(t Topic, msg Message) (*station.StatusRecord, *Rejection) {
	st, err := station.ParseStatus(string(msg.Payload()))
	if err != nil {
		return nil, reject(ReasonBadStatus, "%v", err)
	}
	if r, ok := msg.(interface{ Retained() bool }); ok && r.Retained() {
		if v, ok := c.cfg.Stations.Get(t.Station); ok && v.Status == st {
			c.m.messages.WithLabelValues("status", "stored").Inc()
			return nil, nil
		}
	}
	now := c.cfg.Now()
	if err := c.cfg.Stations.SetStatus(t.Point, t.Station, st, now); err != nil {
		return nil, reject(ReasonUnknownStation, "status: %v", err)
	}
	c.m.messages.WithLabelValues("status", "stored").Inc()
	return &station.StatusRecord{Point: t.Point, Station: t.Station, Status: st, At: now}, nil
}

// rejectedPrefix starts the topics dead letters are republished on.
const rejectedPrefix = TopicPrefix + "/_rejected/"

// DeadLetters returns the collector's kept rejected messages.
func (c *Collector) DeadLetters() *DeadLetters { return c.cfg.DeadLetters }

func (c *Collector) rejected(t Topic, topic string, payload []byte, rj *Rejection, now time.Time) {
	kept := c.cfg.DeadLetters.add(now, topic, payload, rj)
	if c.cfg.RepublishRejected && c.client != nil {
		c.client.Publish(rejectedPrefix+rj.Reason+"/"+topic, 0, false, payload)
	}
	medium := string(t.Medium)
	if t.Status {
		medium = "status"
	} else if medium == "" {
		medium = "unknown"
	}
	c.m.messages.WithLabelValues(medium, "rejected").Inc()
	c.m.rejected.WithLabelValues(rj.Reason).Inc()
	c.log.Warn("rejected message", "topic", kept.Topic, "reason", rj.Reason, "detail", kept.Detail) // bounded
}
