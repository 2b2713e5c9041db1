package ingest

import (
	"github.com/envmon/envmon/station"
)

// A client of the embedded broker may connect again, or another
// connection may take its session over, while its old connection is still
// ending: the old one's end (and its last will) can then reach the
// collector after the new one has said "online". So the collector keeps,
// per client id, the connection the broker established last: an older
// connection's word on the stations' status counts only until the newer
// one has published anything, and the order is kept by one lock around
// the decision and the registry's change.

// connMessage is a message of the embedded broker, which names the client
// and the connection it came on (internal/broker's Message).
type connMessage interface {
	ClientID() string
	// Conn is comparable, and equal only for one connection.
	Conn() any
}

// origin is where a message of the embedded broker came from.
type origin struct {
	clientID string
	conn     any
}

// session is what the collector knows of one client id.
type session struct {
	conn   any     // the connection established last
	spoken bool    // whether conn has published
	topics []Topic // the stations the client publishes as (a gateway may publish for several)
}

// maxStationsPerClient bounds the stations remembered for one client.
const maxStationsPerClient = 64

// maxClients bounds the clients ConnectionGone can tell about.
const maxClients = 100_000

// ConnectionStarted tells the collector that the embedded broker has
// established a connection of client clientID, before it ends any session
// this one takes over. It must not block: the broker calls it on the
// connection's goroutine.
func (c *Collector) ConnectionStarted(clientID string, conn any) {
	c.clientsMu.Lock()
	defer c.clientsMu.Unlock()
	s := c.sessionLocked(clientID)
	if s != nil {
		s.conn, s.spoken = conn, false
	}
}

// sessionLocked returns clientID's session, made if there is room;
// clientsMu must be held.
func (c *Collector) sessionLocked(clientID string) *session {
	if c.clients == nil {
		c.clients = map[string]*session{}
	}
	s, ok := c.clients[clientID]
	if !ok && len(c.clients) < maxClients {
		s = &session{}
		c.clients[clientID] = s
	}
	return s
}

// noteLocked remembers that from published as the station of t, and
// reports whether what it says of the station's status counts: it does
// unless a newer connection of the client has already published.
// clientsMu must be held.
func (c *Collector) noteLocked(from origin, t Topic) bool {
	s := c.sessionLocked(from.clientID)
	if s == nil {
		return true // not tracked: the table is full
	}
	if s.conn == nil { // a connection the collector was not told of
		s.conn = from.conn
	}
	if s.conn != from.conn {
		return !s.spoken
	}
	s.spoken = true
	for _, k := range s.topics {
		if k.Station == t.Station && k.Point == t.Point {
			return true
		}
	}
	if len(s.topics) < maxStationsPerClient {
		s.topics = append(s.topics, Topic{Point: t.Point, Station: t.Station})
	}
	return true
}

// statusFrom applies a status message: under clientsMu when it came on a
// connection of the embedded broker, so that its order against the
// client's other connections holds (see session).
func (c *Collector) statusFrom(t Topic, msg Message, from *origin) (*station.StatusRecord, *Rejection) {
	if from == nil {
		rec, rj := c.status(t, msg)
		c.tellOffline(rec)
		return rec, rj
	}
	c.clientsMu.Lock()
	if !c.noteLocked(*from, t) {
		c.clientsMu.Unlock()
		c.m.messages.WithLabelValues("status", "superseded").Inc()
		return nil, nil
	}
	rec, rj := c.status(t, msg)
	c.clientsMu.Unlock()
	c.tellOffline(rec)
	return rec, rj
}

// tellOffline passes an offline status to Config.OnOffline.
func (c *Collector) tellOffline(rec *station.StatusRecord) {
	if rec != nil && rec.Status == station.Offline && c.cfg.OnOffline != nil {
		c.cfg.OnOffline(rec.Point, rec.Station, rec.At)
	}
}

// ConnectionGone tells the collector that the embedded broker's connection
// conn of client clientID has ended, whatever the reason: the client went,
// or another connection took its session over. The stations the client
// published as are shown offline from now on (saved like a status
// message), until they say otherwise: a station that has no connection is
// not online. An older connection's end says nothing once a newer one has
// published. Connections that end because envmon stops are not counted.
func (c *Collector) ConnectionGone(clientID string, conn any) {
	select {
	case <-c.stopping:
		return // envmon's own stop ends the connections; they say nothing of the stations
	default:
	}
	c.clientsMu.Lock()
	s := c.clients[clientID]
	switch {
	case s == nil:
	case s.conn == conn || s.conn == nil:
		delete(c.clients, clientID)
	case s.spoken:
		s = nil // a newer connection speaks for the stations
	}
	var recs []station.StatusRecord
	if s != nil {
		now := c.cfg.Now()
		for _, t := range s.topics {
			if v, ok := c.cfg.Stations.Get(t.Station); !ok || v.Status != station.Online {
				continue
			}
			if err := c.cfg.Stations.SetStatus(t.Point, t.Station, station.Offline, now); err != nil {
				continue
			}
			recs = append(recs, station.StatusRecord{Point: t.Point, Station: t.Station, Status: station.Offline, At: now})
		}
	}
	c.clientsMu.Unlock()
	for i := range recs {
		c.tellOffline(&recs[i])
		c.log.Info("station's connection ended; shown offline", "station", recs[i].Station)
	}
	if c.cfg.Statuses != nil && len(recs) > 0 {
		if err := c.cfg.Statuses.Append(recs); err != nil {
			c.log.Warn("saving station statuses failed", "stations", len(recs), "err", err)
		}
	}
}
