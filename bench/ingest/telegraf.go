package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
)

// telegrafConf is a Telegraf configuration that does what envmon does for
// native JSON: mqtt_consumer subscribed to the air topics at the bench's
// QoS with a persistent session (so that a message is acknowledged only
// once Telegraf has it), the point and station taken from the topic, the
// station's timestamp, and InfluxDB 1.x output. Its batching matches
// envmon's defaults: batches of 5000, flushed every 100 ms; its queue of
// unacknowledged messages is envmon's queue size (4 batches).
const telegrafConf = `[agent]
  interval = "10s"
  flush_interval = "100ms"
  flush_jitter = "0s"
  metric_batch_size = 5000
  metric_buffer_limit = 1000000
  omit_hostname = true
  quiet = true

[[outputs.influxdb]]
  urls = [%q]
  database = %q

[[inputs.mqtt_consumer]]
  servers = [%q]
  topics = ["envmon/+/+/air"]
  qos = %d
  client_id = %q
  persistent_session = true
  max_undelivered_messages = 20000
  data_format = "json"
  json_time_key = "ts"
  json_time_format = "unix_ms"
  [[inputs.mqtt_consumer.topic_parsing]]
    topic = "envmon/+/+/air"
    measurement = "_/_/_/measurement"
    tags = "_/point/station/_"
`

// throughTelegraf runs Telegraf (o.telegraf) against the broker and a new
// InfluxDB database and returns the readings/s it stored, from the first
// publish to the last point stored, and how many it stored.
func throughTelegraf(ctx context.Context, o options, round int) (float64, int64, error) {
	db := fmt.Sprintf("telegraf_q%d%s_%d", o.qos, o.format, phase.Add(1))
	if err := influxQL(ctx, o, "CREATE DATABASE "+strconv.Quote(db)); err != nil {
		return 0, 0, err
	}
	defer influxQL(ctx, o, "DROP DATABASE "+strconv.Quote(db))
	dir, err := os.MkdirTemp("", "telegraf-bench-")
	if err != nil {
		return 0, 0, err
	}
	defer os.RemoveAll(dir)
	clientID := fmt.Sprintf("bench-telegraf-%d", time.Now().UnixNano())
	conf := filepath.Join(dir, "telegraf.conf")
	if err := os.WriteFile(conf, fmt.Appendf(nil, telegrafConf, o.influxURL, db, o.broker, o.qos, clientID), 0o644); err != nil {
		return 0, 0, err
	}
	logf, _ := os.Create(filepath.Join(dir, "telegraf.log"))
	defer logf.Close()
	cmd := o.sutCommand(o.telegraf, "--config", conf)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		return 0, 0, err
	}
	defer func() {
		cmd.Process.Signal(os.Interrupt)
		cmd.Wait()
		endSession(o.broker, clientID)
	}()
	// Telegraf says nothing when it has subscribed: wait until the broker
	// has its session, which a probe message on a topic it takes shows.
	if err := waitTelegraf(ctx, o, db); err != nil {
		logs, _ := os.ReadFile(logf.Name())
		return 0, 0, fmt.Errorf("%w\n%s", err, logs)
	}
	prefix := fmt.Sprintf("tg%d%s%d-", o.qos, o.format, round)
	start, cpu := time.Now(), o.cpuNow(0)
	sum, err := load(ctx, o, prefix)
	if err != nil {
		return 0, 0, err
	}
	fmt.Fprintf(os.Stderr, "    (publisher, Telegraf: %d messages at %.0f/s)\n", sum.Messages, sum.Rate)
	var n int64
	doneAt := time.Now()
	for prev, since := int64(-1), time.Now(); time.Since(since) < 10*time.Second; time.Sleep(50 * time.Millisecond) {
		c, err := countPoints(ctx, o, db, prefix)
		if err != nil {
			return 0, 0, err
		}
		if n = c; c != prev {
			prev, since, doneAt = c, time.Now(), time.Now()
		}
		if n >= sum.Messages {
			break
		}
	}
	fmt.Fprintf(os.Stderr, "    (CPU seconds: Telegraf %.1f, %s)\n", cpuSeconds(cmd.Process.Pid), cpu.since())
	if o.qos > 0 && n != sum.Messages {
		logs, _ := os.ReadFile(logf.Name())
		return 0, 0, fmt.Errorf("Telegraf stored %d of %d readings at QoS %d\n%s", n, sum.Messages, o.qos, logs)
	}
	return float64(n) / doneAt.Sub(start).Seconds(), n, nil
}

// waitTelegraf publishes a probe reading until Telegraf has stored one.
func waitTelegraf(ctx context.Context, o options, db string) error {
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if err := publishProbe(o); err != nil {
			return err
		}
		time.Sleep(200 * time.Millisecond)
		if n, err := countPoints(ctx, o, db, "probe"); err == nil && n > 0 {
			return nil
		}
	}
	return fmt.Errorf("Telegraf stored nothing in 30 s")
}

// countPoints counts the points of the air measurement's pm25 field in db,
// of the stations whose id starts with prefix.
func countPoints(ctx context.Context, o options, db, prefix string) (int64, error) {
	q := url.Values{"db": {db}, "q": {fmt.Sprintf(`SELECT count("values_pm25") FROM "air" WHERE "station" =~ /^%s/`, regexp.QuoteMeta(prefix))}}
	req, err := http.NewRequestWithContext(ctx, "GET", o.influxURL+"/query?"+q.Encode(), nil)
	if err != nil {
		return 0, err
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer res.Body.Close()
	var body struct {
		Results []struct {
			Series []struct {
				Values [][]json.RawMessage `json:"values"` // time, count
			} `json:"series"`
			Error string `json:"error"`
		} `json:"results"`
	}
	if err := json.NewDecoder(res.Body).Decode(&body); err != nil {
		return 0, fmt.Errorf("count in InfluxDB: %w", err)
	}
	var n int64
	for _, r := range body.Results {
		if r.Error != "" && !strings.Contains(r.Error, "not found") {
			return 0, fmt.Errorf("count in InfluxDB: %s", r.Error)
		}
		for _, s := range r.Series {
			for _, v := range s.Values {
				var c int64
				if len(v) == 2 && json.Unmarshal(v[1], &c) == nil {
					n += c
				}
			}
		}
	}
	return n, nil
}

// publishProbe publishes one reading of station probe-1 at the bench's QoS.
func publishProbe(o options) error {
	c := paho.NewClient(paho.NewClientOptions().AddBroker(o.broker).SetClientID(fmt.Sprintf("bench-probe-%d", time.Now().UnixNano())))
	if tok := c.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		return fmt.Errorf("probe: connect: %v", tok.Error())
	}
	defer c.Disconnect(100)
	payload := fmt.Sprintf(`{"ts":%d,"values":{"pm25":1}}`, time.Now().UnixMilli())
	if tok := c.Publish("envmon/probe/probe-1/air", byte(o.qos), false, payload); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		return fmt.Errorf("probe: publish: %v", tok.Error())
	}
	return nil
}
