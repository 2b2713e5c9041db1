package ingest

import (
	"encoding/binary"
	"fmt"
	"hash/fnv"
	"slices"
	"strings"
	"sync"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/envmon/envmon/reading"
)

// Scale-out (docs/ARCHITECTURE.md, "Several replicas").
//
// Replicas share one MQTT shared subscription, $share/<group>/envmon/+/+/+,
// so the broker hands each message to one of them, and each acknowledges it
// only once it is spooled: every reading is stored, and stored once (writes
// are idempotent, so a redelivery after a crash overwrites, never doubles).
//
// Per-station state — QC history, the station's latest values — needs every
// reading of a station to pass through one replica. The broker cannot route
// by station (Mosquitto's shared subscriptions are round robin), so the
// replicas do: each station has one owner, chosen by rendezvous hashing over
// the live members, and a replica that receives a reading of a station it
// does not own forwards it, at QoS 1, to the owner's inbox topic, and
// acknowledges the original once the broker has the forwarded copy.
//
// Members announce themselves with a retained message on
// envmon/_cluster/<group>/members/<id>; their last will clears it, so a
// replica that dies drops out of everyone's view and its stations move to
// the others. While membership changes, a station's readings may briefly be
// checked by two replicas, which can only miss or add a spike or stuck flag
// for that moment; no reading is lost or doubled. Readings forwarded to a
// replica that then dies wait in its persistent session until it returns
// with the same client id.
//
// After a batch is stored, its owner publishes it (QoS 0) on
// envmon/_cluster/<group>/stored/<id>, so every replica's API shows every
// station's latest values.
type cluster struct {
	group, self string
	prefix      string

	announced chan struct{} // an announcement arrived since join began

	mu      sync.RWMutex
	members []string // sorted, including self once joined
}

func newCluster(group, self string) *cluster {
	return &cluster{group: group, self: self, prefix: TopicPrefix + "/_cluster/" + group + "/", announced: make(chan struct{}, 1)}
}

func (cl *cluster) memberTopic(id string) string { return cl.prefix + "members/" + id }
func (cl *cluster) membersFilter() string        { return cl.prefix + "members/+" }
func (cl *cluster) inboxFilter() string          { return cl.prefix + "to/" + cl.self + "/#" }
func (cl *cluster) inboxTopic(owner, t string) string {
	return cl.prefix + "to/" + owner + "/" + t
}

func (cl *cluster) storedFilter() string {
	if cl == nil {
		return ""
	}
	return cl.prefix + "stored/+"
}

// will is the last will that removes this member when it dies.
func (cl *cluster) will(opts *paho.ClientOptions) {
	opts.SetBinaryWill(cl.memberTopic(cl.self), nil, 1, true)
}

// join subscribes to the member list, waits briefly for the retained
// announcements of the others, and announces itself.
func (cl *cluster) join(c mqttClient) error {
	select { // forget a signal left from an earlier connection
	case <-cl.announced:
	default:
	}
	if err := subscribe(c, cl.membersFilter(), 1, cl.onMember); err != nil {
		return fmt.Errorf("members: %w", err)
	}
	cl.set(cl.self, true)
	pub := c.Publish(cl.memberTopic(cl.self), 1, true, []byte(time.Now().UTC().Format(time.RFC3339)))
	if !pub.WaitTimeout(10*time.Second) || pub.Error() != nil {
		return fmt.Errorf("announce membership: %v", pub.Error())
	}
	select { // retained announcements arrive right after the subscription
	case <-cl.announced:
	case <-time.After(200 * time.Millisecond):
	}
	return nil
}

// onMember records a member's announcement (a retained message) or its
// departure (an empty one).
func (cl *cluster) onMember(_ paho.Client, m paho.Message) {
	id := strings.TrimPrefix(m.Topic(), cl.prefix+"members/")
	cl.set(id, len(m.Payload()) > 0)
	m.Ack() // the collector acknowledges by hand; an unacknowledged message holds one of the broker's in-flight slots
	select {
	case cl.announced <- struct{}{}:
	default:
	}
}

// leave removes this member on a clean stop.
func (cl *cluster) leave(c mqttClient) {
	c.Publish(cl.memberTopic(cl.self), 1, true, nil).WaitTimeout(2 * time.Second)
}

func (cl *cluster) set(id string, up bool) {
	cl.mu.Lock()
	defer cl.mu.Unlock()
	i, found := slices.BinarySearch(cl.members, id)
	switch {
	case up && !found:
		cl.members = slices.Insert(cl.members, i, id)
	case !up && found:
		cl.members = slices.Delete(cl.members, i, i+1)
	}
}

// size returns how many members this replica sees.
func (cl *cluster) size() int {
	cl.mu.RLock()
	defer cl.mu.RUnlock()
	return len(cl.members)
}

// owner returns the member that owns station: the one with the highest
// rendezvous hash, so that a member joining or leaving moves only the
// stations it gains or had.
func (cl *cluster) owner(station string) string {
	cl.mu.RLock()
	defer cl.mu.RUnlock()
	best, bestScore := cl.self, uint64(0)
	for _, m := range cl.members {
		h := fnv.New64a()
		h.Write([]byte(m))
		h.Write([]byte{0})
		h.Write([]byte(station))
		if s := mix(h.Sum64()); s >= bestScore {
			best, bestScore = m, s
		}
	}
	return best
}

// mix is splitmix64's finaliser: FNV-1a alone leaves the high bits of
// similar keys ("st-1", "st-2") nearly equal, which would hand every station
// to one member.
func mix(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	return x ^ x>>31
}

// forwarded is a message on its way to the replica that owns its station.
type forwarded struct {
	topic   string
	payload []byte
}

// onForwarded handles a reading another replica passed to this one: it is
// processed here whatever the ownership is now, so it can never bounce.
func (c *Collector) onForwarded(_ paho.Client, msg paho.Message) {
	prefix := c.cluster.prefix + "to/" + c.cluster.self + "/"
	c.handle(msg, strings.TrimPrefix(msg.Topic(), prefix), false, nil)
}

// publishStored tells the other replicas what this one stored.
func (c *Collector) publishStored(rs []reading.Reading) {
	if c.cluster == nil || c.client == nil || len(rs) == 0 {
		return
	}
	var b []byte
	for i := range rs {
		rec := appendRecord(nil, &Accepted{Reading: rs[i], Arrived: rs[i].Time, Owned: true})
		b = binary.AppendUvarint(b, uint64(len(rec)))
		b = append(b, rec...)
	}
	c.client.Publish(c.cluster.prefix+"stored/"+c.cluster.self, 0, false, b)
}

// onStoredElsewhere updates the latest values with what another replica
// stored.
func (c *Collector) onStoredElsewhere(_ paho.Client, msg paho.Message) {
	if strings.HasSuffix(msg.Topic(), "/stored/"+c.cluster.self) {
		return
	}
	b := msg.Payload()
	var rs []reading.Reading
	for len(b) > 0 {
		n, k := binary.Uvarint(b)
		if k <= 0 || n > uint64(len(b)-k) {
			c.log.Warn("ignoring a malformed stored notice", "topic", msg.Topic())
			return
		}
		a, err := decodeRecord(b[k : k+int(n)])
		if err != nil {
			c.log.Warn("ignoring a malformed stored notice", "topic", msg.Topic(), "err", err)
			return
		}
		rs = append(rs, a.Reading)
		b = b[k+int(n):]
	}
	c.cfg.Stations.Observe(rs)
}
