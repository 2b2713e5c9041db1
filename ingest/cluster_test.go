package ingest

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/envmon/envmon/internal/testenv"
	"github.com/envmon/envmon/reading"
	"github.com/envmon/envmon/station"
	"github.com/envmon/envmon/store/mem"
)

// countingStore records how often each reading (station, time) is written.
type countingStore struct {
	*mem.Store
	mu     sync.Mutex
	writes map[string]int
	flags  map[string]reading.Flags // "station time metric" → flags
}

func newCountingStore() *countingStore {
	return &countingStore{Store: mem.New(), writes: map[string]int{}, flags: map[string]reading.Flags{}}
}

func (s *countingStore) Write(ctx context.Context, rs []reading.Reading) error {
	s.mu.Lock()
	for _, r := range rs {
		s.writes[fmt.Sprintf("%s %d", r.Station, r.Time.UnixNano())]++
		for _, v := range r.Values {
			s.flags[fmt.Sprintf("%s %d %s", r.Station, r.Time.UnixNano(), v.Metric)] = v.QC
		}
	}
	s.mu.Unlock()
	return s.Store.Write(ctx, rs)
}

type replica struct {
	c     *Collector
	store *countingStore
	reg   *station.Registry
}

func startReplica(t *testing.T, brokerURL, id string) *replica {
	t.Helper()
	r := &replica{store: newCountingStore(), reg: station.New(nil, false, quietLogger())}
	r.c = runCollector(t, Config{
		Broker: brokerURL, ClientID: id, SharedGroup: "envmon", BatchSize: 100, Store: r.store, Stations: r.reg,
		Spool: openSpool(t, t.TempDir()), Logger: quietLogger(),
	})
	waitFor(t, id+" connected", r.c.Connected)
	return r
}

// TestTwoReplicasShareTheWork: two replicas behind one shared subscription
// on a real Mosquitto store every reading exactly once, and a station's QC
// history stays whole although the broker hands its messages to both.
func TestTwoReplicasShareTheWork(t *testing.T) {
	broker := testenv.Mosquitto(t)
	a := startReplica(t, broker.URL, "envmon-a")
	b := startReplica(t, broker.URL, "envmon-b")
	waitFor(t, "both members known", func() bool {
		return a.c.cluster.size() == 2 && b.c.cluster.size() == 2
	})

	pub := publisher(t, broker.URL)
	const stations, perStation = 7, 100 // odd, so round robin splits each station between the replicas
	base := time.Now().Add(-2 * time.Hour).Truncate(time.Minute)
	spikeAt := 50 // every station jumps from ~30 to 900 µg/m³ in one minute here
	dupAt := 70   // every station sends a second, different reading for this minute
	for i := range perStation {
		for s := range stations {
			v := 30 + i%3
			if i == spikeAt {
				v = 900
			}
			topic := fmt.Sprintf("envmon/p1/st-%d/air", s)
			ts := base.Add(time.Duration(i) * time.Minute).UnixMilli()
			publish(t, pub, topic, fmt.Sprintf(`{"ts":%d,"values":{"pm25":%d}}`, ts, v))
			if i == dupAt {
				publish(t, pub, topic, fmt.Sprintf(`{"ts":%d,"values":{"pm25":%d}}`, ts, v+5))
			}
		}
	}
	total := stations * perStation
	written := func() int {
		n := 0
		for _, st := range []*countingStore{a.store, b.store} {
			st.mu.Lock()
			n += len(st.writes)
			st.mu.Unlock()
		}
		return n
	}
	writes := func() int {
		n := 0
		for _, st := range []*countingStore{a.store, b.store} {
			st.mu.Lock()
			for _, w := range st.writes {
				n += w
			}
			st.mu.Unlock()
		}
		return n
	}
	waitFor(t, "every reading stored", func() bool { return written() >= total && writes() >= total+stations })
	time.Sleep(300 * time.Millisecond) // a second write, if there were one, lands now

	seen := map[string]int{}
	for _, st := range []*countingStore{a.store, b.store} {
		for k, n := range st.writes {
			seen[k] += n
		}
	}
	if len(seen) != total {
		t.Errorf("%d distinct readings stored, want %d", len(seen), total)
	}
	for k, n := range seen {
		want := 1
		if strings.HasSuffix(k, fmt.Sprint(base.Add(time.Duration(dupAt)*time.Minute).UnixNano())) {
			want = 2 // the station sent two messages for that minute
		}
		if n != want {
			t.Errorf("reading %s stored %d times, want %d", k, n, want)
		}
	}
	fwdA, fwdB := testutil.ToFloat64(a.c.m.forwarded), testutil.ToFloat64(b.c.m.forwarded)
	t.Logf("accepted a=%v b=%v", testutil.ToFloat64(a.c.m.messages.WithLabelValues("air", "accepted")), testutil.ToFloat64(b.c.m.messages.WithLabelValues("air", "accepted")))
	if fwdA == 0 || fwdB == 0 {
		t.Errorf("forwarded a=%v b=%v: the broker should hand each replica some of the other's stations", fwdA, fwdB)
	}
	// QC: exactly the spike reading is flagged, on every station, although
	// its neighbours reached the owner by other paths.
	for s := range stations {
		for i := range perStation {
			key := fmt.Sprintf("st-%d %d pm25", s, base.Add(time.Duration(i)*time.Minute).UnixNano())
			f := a.store.flags[key] | b.store.flags[key]
			want := i == spikeAt
			if got := f&reading.FlagSpike != 0; got != want {
				t.Errorf("st-%d reading %d: spike=%v, want %v", s, i, got, want)
			}
			// The conflicting second reading for dupAt is flagged; only the
			// station's owner, seeing both, can tell.
			if got, want := f&reading.FlagDuplicate != 0, i == dupAt; got != want {
				t.Errorf("st-%d reading %d: duplicate=%v, want %v", s, i, got, want)
			}
		}
	}
	// Both replicas' APIs know every station's latest value.
	waitFor(t, "latest values everywhere", func() bool {
		for _, r := range []*replica{a, b} {
			for s := range stations {
				ls, ok := r.reg.Latest(fmt.Sprintf("st-%d", s))
				if !ok || len(ls) == 0 || !ls[0].Time.Equal(base.Add(time.Duration(perStation-1)*time.Minute)) {
					return false
				}
			}
		}
		return true
	})
}

func TestOwnershipSpreadsAndMovesLittle(t *testing.T) {
	t.Parallel()
	two := newCluster("g", "a")
	two.set("a", true)
	two.set("b", true)
	three := newCluster("g", "a")
	for _, m := range []string{"a", "b", "c"} {
		three.set(m, true)
	}
	counts := map[string]int{}
	moved := 0
	const n = 3000
	for i := range n {
		st := fmt.Sprintf("st-%d", i)
		o2, o3 := two.owner(st), three.owner(st)
		counts[o3]++
		if o2 != o3 && o3 != "c" {
			moved++ // a station may only move to the new member
		}
	}
	for m, c := range counts {
		if c < n/3*8/10 || c > n/3*12/10 {
			t.Errorf("member %s owns %d of %d stations, want about a third", m, c, n)
		}
	}
	if moved != 0 {
		t.Errorf("%d stations moved between old members when one joined", moved)
	}
}
