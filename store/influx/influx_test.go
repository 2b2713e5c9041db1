package influx_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	influxdb2 "github.com/influxdata/influxdb-client-go/v2"

	"github.com/envmon/envmon/internal/secret"
	"github.com/envmon/envmon/internal/testenv"
	"github.com/envmon/envmon/reading"
	"github.com/envmon/envmon/store"
	"github.com/envmon/envmon/store/influx"
	"github.com/envmon/envmon/store/storetest"
)

// config returns the Config of a new, empty database on in.
func config(t testing.TB, in *testenv.Influx, n *atomic.Int64) influx.Config {
	t.Helper()
	db := fmt.Sprintf("t%d", n.Add(1))
	in.CreateDatabase(t, db)
	return influx.Config{URL: in.URL, Org: in.Org, Bucket: db + "/autogen", Token: secret.New(in.Token)}
}

func TestConformance(t *testing.T) {
	in := testenv.Influxd(t)
	var n atomic.Int64
	storetest.Run(t, func(t *testing.T) store.Store {
		s, err := influx.New(t.Context(), config(t, in, &n))
		if err != nil {
			t.Fatalf("New: %v", err)
		}
		return s
	})
}

func TestNewFails(t *testing.T) {
	in := testenv.Influxd(t)
	// A server that is down: a port of the test's own where every
	// connection is closed at once, so no other process can answer there.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	down := "http://" + ln.Addr().String()
	tests := []struct {
		name string
		cfg  influx.Config
	}{
		{"no url", influx.Config{Org: "-", Bucket: "envmon/autogen"}},
		{"bad scheme", influx.Config{URL: "ftp://127.0.0.1", Org: "-", Bucket: "envmon/autogen"}},
		{"credentials in url", influx.Config{URL: "http://u:hunter2@127.0.0.1:1", Org: "-", Bucket: "envmon/autogen"}},
		{"no org", influx.Config{URL: in.URL, Bucket: "envmon/autogen"}},
		{"no bucket", influx.Config{URL: in.URL, Org: "-"}},
		{"server down", influx.Config{URL: down, Org: "-", Bucket: "envmon/autogen", Token: secret.New("u:hunter2")}},
		{"no such database", influx.Config{URL: in.URL, Org: "-", Bucket: "nowhere/autogen", Token: secret.New("u:hunter2")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := influx.New(t.Context(), tt.cfg)
			if err == nil {
				s.Close()
				t.Fatal("New succeeded")
			}
			t.Logf("New: %v", err)
			if strings.Contains(err.Error(), "hunter2") {
				t.Errorf("the error shows the password: %v", err)
			}
		})
	}
}

// TestServerDown checks that every method fails, without the token in its
// error, while the server is down, and works again once it is back.
func TestServerDown(t *testing.T) {
	in := testenv.Influxd(t)
	var n atomic.Int64
	cfg := config(t, in, &n)
	cfg.Token = secret.New("user:hunter2") // ignored: authentication is off
	cfg.Timeout = 5 * time.Second
	s, err := influx.New(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	rs := storetest.Readings("p1", "s1", reading.Air, []string{"pm25"}, time.Now().Add(-time.Minute), time.Second, 3)

	in.Stop(t)
	ctx := t.Context()
	errs := []error{
		s.Ping(ctx),
		s.Write(ctx, rs),
		func() error { _, err := s.Query(ctx, store.Query{Station: "s1", Metric: "pm25"}); return err }(),
		func() error { _, err := s.Latest(ctx); return err }(),
	}
	for i, err := range errs {
		if err == nil {
			t.Errorf("call %d succeeded while the server was down", i)
		} else if strings.Contains(err.Error(), "hunter2") {
			t.Errorf("call %d: the error shows the token: %v", i, err)
		}
	}

	in.Start(t)
	if err := s.Write(ctx, rs); err != nil {
		t.Fatalf("Write after restart: %v", err)
	}
	got, err := s.Query(ctx, store.Query{Station: "s1", Metric: "pm25"})
	if err != nil || len(got) != 3 {
		t.Errorf("Query after restart = %v, %v; want 3 samples", got, err)
	}
}

func TestTimeout(t *testing.T) {
	in := testenv.Influxd(t)
	var n atomic.Int64
	s, err := influx.New(t.Context(), config(t, in, &n))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx, cancel := context.WithDeadline(t.Context(), time.Now().Add(-time.Second))
	defer cancel()
	if err := s.Ping(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Ping past its deadline = %v, want context.DeadlineExceeded", err)
	}
}

// BenchmarkWrite writes batches of 1000 readings of 6 values each.
func BenchmarkWrite(b *testing.B) {
	in := testenv.Influxd(b)
	var n atomic.Int64
	s, err := influx.New(b.Context(), config(b, in, &n))
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	storetest.BenchmarkWrite(b, s, time.Now().Add(-240*time.Hour))
}

// TestLatestSkipsForeignFields: a string field that is not the flags (the
// per-metric "<metric>_qc" of envmon's first versions, or another
// writer's) does not stop Latest, which rebuilds envmon's view at start.
func TestLatestSkipsForeignFields(t *testing.T) {
	in := testenv.Influxd(t)
	var n atomic.Int64
	cfg := config(t, in, &n)
	s, err := influx.New(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	at := time.Now().Add(-time.Minute).Truncate(time.Second)
	old := fmt.Sprintf(`air,point=p1,station=s1 pm25=12,pm25_qc="range" %d`, at.UnixNano())
	client := influxdb2.NewClient(in.URL, in.Token)
	defer client.Close()
	if err := client.WriteAPIBlocking(in.Org, cfg.Bucket).WriteRecord(t.Context(), old); err != nil {
		t.Fatal(err)
	}
	latest, err := s.Latest(t.Context())
	if err != nil {
		t.Fatalf("Latest: %v", err)
	}
	if len(latest) != 1 || latest[0].Metric != "pm25" || latest[0].Value != 12 {
		t.Errorf("Latest = %+v, want only pm25 = 12", latest)
	}
}

// BenchmarkScan scans 360,000 values of 100 stations.
func BenchmarkScan(b *testing.B) {
	in := testenv.Influxd(b)
	var n atomic.Int64
	s, err := influx.New(b.Context(), config(b, in, &n))
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	storetest.BenchmarkScan(b, s, time.Now().Add(-240*time.Hour))
}
