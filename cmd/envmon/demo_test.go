package main

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"

	"github.com/envmon/envmon/simulators"
	"github.com/envmon/envmon/simulators/scenario"
)

// nullConn is a connection that takes every message.
type nullConn struct{}

func (nullConn) Publish(context.Context, string, byte, bool, []byte) error { return nil }
func (nullConn) Drop()                                                     {}
func (nullConn) Close()                                                    {}

// TestScenariosAvoidDemoIDs: no shipped scenario uses a station id or an
// MQTT client id that the demo's simulated stations use, whatever
// --sim-stations says, nor one another scenario or another run of the same
// scenario uses. Each scenario runs (on a null connection) twice to show
// the client ids it really dials.
func TestScenariosAvoidDemoIDs(t *testing.T) {
	t.Parallel()
	var tr simulators.Transport // the defaults, as demo and envmon sim use them
	demoStations := map[string]bool{}
	demoClients := map[string]bool{}
	for _, st := range simulators.Layout(demoSim("", demoRegistry(), 10_000, 1, nil)) {
		if !strings.HasPrefix(st.ID, "st-") {
			t.Fatalf("demo station %s is outside the demo's namespace st-N", st.ID)
		}
		demoStations[st.ID] = true
		demoClients[tr.ClientID(st.ID)] = true
	}
	if demoStations[demoStation] {
		t.Errorf("the station demo's example publishes as, %s, is one the demo simulates", demoStation)
	}

	owner := map[string]string{} // station id → scenario
	for _, name := range scenario.Names() {
		s, err := scenario.Open(name, nil)
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, p := range s.Points {
			for _, st := range p.Stations {
				ids = append(ids, st.ID)
			}
		}
		for _, id := range ids {
			if !strings.HasPrefix(id, "scn-"+name+"-") {
				t.Errorf("%s: station %s is not in the scenario's namespace scn-%s-N", name, id, name)
			}
			if demoStations[id] || id == demoStation {
				t.Errorf("%s: station %s is also the demo's", name, id)
			}
			if o, ok := owner[id]; ok {
				t.Errorf("%s: station %s is also %s's", name, id, o)
			}
			owner[id] = name
		}

		var runs [2]map[string]bool
		for i := range runs {
			var mu sync.Mutex
			runs[i] = map[string]bool{}
			r, err := scenario.Run(context.Background(), s, scenario.RunConfig{
				Transport: tr, Speed: 1e9, Logger: quietLogger(),
				Dial: func(_ context.Context, clientID, _, _ string) (simulators.Conn, error) {
					mu.Lock()
					runs[i][clientID] = true
					mu.Unlock()
					return nullConn{}, nil
				},
			})
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			r.Close()
		}
		for c := range runs[0] {
			if demoClients[c] {
				t.Errorf("%s: client id %s is also a demo station's", name, c)
			}
			if runs[1][c] {
				t.Errorf("%s: client id %s is used by two runs", name, c)
			}
		}
		if len(runs[0]) < len(ids) {
			t.Errorf("%s: %d client ids for %d stations", name, len(runs[0]), len(ids))
		}
	}
}

func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }
