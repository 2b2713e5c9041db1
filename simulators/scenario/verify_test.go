package scenario_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/envmon/envmon/app"
	"github.com/envmon/envmon/internal/config"
	"github.com/envmon/envmon/simulators"
	"github.com/envmon/envmon/simulators/scenario"
)

// startEnvmon runs envmon serve in-process: the embedded broker and the
// HTTP API on ports the kernel picks, SQLite in a temporary directory.
func startEnvmon(t *testing.T) *app.App {
	t.Helper()
	cfg := config.Default()
	cfg.HTTP.Addr = "127.0.0.1:0"
	cfg.MQTT.Addr = "127.0.0.1:0"
	cfg.MQTT.OpenRegistration = true // the scenario's stations come without credentials
	cfg.MQTT.OpenRegistration = true // the scenario's stations come without credentials
	cfg.DataDir = t.TempDir()
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	a, err := app.New(context.Background(), cfg, app.Options{Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("envmon: %v", err)
		}
	})
	deadline := time.Now().Add(15 * time.Second)
	for {
		res, err := http.Get(a.HTTPURL() + "/readyz")
		if err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return a
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("envmon not ready after 15s: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestShippedScenariosVerify runs every shipped scenario against an
// embedded envmon serve, at a speed that fits it into a few seconds, and
// checks all its expectations through the API, as
// envmon sim --scenario NAME --verify URL does.
func TestShippedScenariosVerify(t *testing.T) {
	if testing.Short() {
		t.Skip("skipping scenarios against an embedded envmon in -short mode")
	}
	for _, name := range scenario.Names() {
		t.Run(name, func(t *testing.T) {
			s, err := scenario.Open(name, nil)
			if err != nil {
				t.Fatal(err)
			}
			a := startEnvmon(t)
			speed := float64(s.Duration) / float64(5*time.Second)
			ctx := context.Background()
			r, err := scenario.Run(ctx, s, scenario.RunConfig{
				Transport: simulators.Transport{Broker: a.BrokerURL(), QoS: 1, ClientIDPrefix: "test-" + name + "-"},
				Speed:     speed,
				Logger:    slog.New(slog.NewTextHandler(io.Discard, nil)),
			})
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			if r.Errors() > 0 {
				t.Errorf("%d publish errors", r.Errors())
			}
			rep := r.Verify(ctx, a.HTTPURL(), 15*time.Second)
			var b strings.Builder
			rep.WriteTo(&b)
			if rep.Failed() > 0 {
				t.Errorf("published %d messages from %s to %s; expectations not met:\n%s", r.Published(), r.Start.Format(time.RFC3339), r.End.Format(time.RFC3339), b.String())
			} else {
				t.Logf("published %d messages\n%s", r.Published(), b.String())
			}
		})
	}
}
