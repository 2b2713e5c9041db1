// Command ingest measures envmon's ingest end to end: it publishes N
// readings over a real MQTT broker to envmon writing to a real InfluxDB,
// waits until all are stored, and reports readings/s and latency
// percentiles. In the same run it measures the limit: the rate at which a
// bare subscriber on the same broker receives the same messages; and, with
// --telegraf, Telegraf's mqtt_consumer → InfluxDB on the same load.
//
// run.sh starts Mosquitto and InfluxDB 1.8.10 and calls it for each QoS and
// format, with the load on CPU 0 and what is measured (--sut-cpus) on the
// others; see docs/BENCHMARKS.md.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	influxdb2 "github.com/influxdata/influxdb-client-go/v2"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/envmon/envmon/simulators"
)

type options struct {
	broker, influxURL, bucket, envmon string
	cpuprofile                        string
	messages                          int
	rate                              float64
	qos                               uint
	format                            string
	stations, connections             int
	rounds                            int
	influxdPID, mosquittoPID          int
	sutCPUs, telegraf                 string
	bareChild                         string
}

func main() {
	var o options
	flag.StringVar(&o.broker, "broker", "tcp://127.0.0.1:1883", "MQTT broker")
	flag.StringVar(&o.influxURL, "influx-url", "http://127.0.0.1:8086", "InfluxDB URL")
	flag.StringVar(&o.bucket, "influx-bucket", "envmon/autogen", "InfluxDB database and retention policy; each phase gets a new database named after it, dropped after the phase")
	flag.StringVar(&o.envmon, "envmon", "./envmon", "envmon binary")
	flag.IntVar(&o.messages, "messages", 200_000, "readings to publish in each phase at the target rate; the publisher runs for messages/rate seconds, so it sends fewer when the broker holds it back")
	flag.Float64Var(&o.rate, "rate", 50_000, "publisher's target messages per second (it goes as fast as the broker allows)")
	flag.UintVar(&o.qos, "qos", 1, "QoS: 0 or 1")
	flag.StringVar(&o.format, "format", "json", "json or senml")
	flag.StringVar(&o.cpuprofile, "cpuprofile", "", "write envmon's CPU profile while the publisher runs to this file")
	flag.IntVar(&o.stations, "stations", 1000, "simulated stations")
	flag.IntVar(&o.connections, "connections", 4, "publisher connections")
	flag.IntVar(&o.rounds, "rounds", 3, "rounds of the three phases; the row shows medians")
	flag.IntVar(&o.influxdPID, "influxd-pid", 0, "influxd's process id, to report its CPU time per phase")
	flag.IntVar(&o.mosquittoPID, "mosquitto-pid", 0, "the broker's process id, to report its CPU time per phase")
	flag.StringVar(&o.sutCPUs, "sut-cpus", "", "CPUs (a taskset list, such as 1) for the process under test, envmon or the bare subscriber; empty: wherever the kernel puts it")
	flag.StringVar(&o.telegraf, "telegraf", "", "Telegraf binary: for native JSON, each round also measures Telegraf's mqtt_consumer → InfluxDB alone; empty: not")
	flag.StringVar(&o.bareChild, "bare-subscriber", "", "run as the bare subscriber counting the stations with this prefix (the bench starts itself so)")
	flag.Parse()
	if o.bareChild != "" {
		if err := runBare(o, o.bareChild); err != nil {
			fmt.Fprintln(os.Stderr, "bench: bare subscriber:", err)
			os.Exit(1)
		}
		return
	}
	if err := run(context.Background(), o); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, o options) error {
	// The machine is shared and noisy: each round measures the three
	// phases back to back, ratios are taken within a round, and the row
	// shows medians over the rounds.
	var alone, envmon, ratioAlone, bare, same, ratioSame, tele, ratioTele []float64
	var stored, sameStored []int64
	var lat [3][]time.Duration
	for round := range o.rounds {
		a, n, err := bareAlone(ctx, o, round)
		if err != nil {
			return fmt.Errorf("bare subscriber: %w", err)
		}
		e, err := throughEnvmon(ctx, o, round, false)
		if err != nil {
			return fmt.Errorf("envmon: %w", err)
		}
		sm, err := throughEnvmon(ctx, o, round, true)
		if err != nil {
			return fmt.Errorf("envmon beside a bare subscriber: %w", err)
		}
		if o.telegraf != "" && o.format == "json" {
			tg, _, err := throughTelegraf(ctx, o, round)
			if err != nil {
				return fmt.Errorf("telegraf: %w", err)
			}
			fmt.Fprintf(os.Stderr, "    round %d: Telegraf alone %.0f, envmon/Telegraf %.2f\n", round+1, tg, e.envmon/tg)
			tele, ratioTele = append(tele, tg), append(ratioTele, e.envmon/tg)
		}
		fmt.Fprintf(os.Stderr, "    round %d: bare alone %.0f (%d), envmon alone %.0f (%d), ratio %.2f; same messages: bare %.0f, envmon %.0f (%d), ratio %.2f\n",
			round+1, a, n, e.envmon, e.stored, e.envmon/a, sm.bare, sm.envmon, sm.stored, sm.envmon/sm.bare)
		alone, envmon, ratioAlone = append(alone, a), append(envmon, e.envmon), append(ratioAlone, e.envmon/a)
		bare, same, ratioSame = append(bare, sm.bare), append(same, sm.envmon), append(ratioSame, sm.envmon/sm.bare)
		stored, sameStored = append(stored, e.stored), append(sameStored, sm.stored)
		for i := range lat {
			lat[i] = append(lat[i], e.latency[i])
		}
	}
	telegraf := "— | —"
	if len(tele) > 0 {
		telegraf = fmt.Sprintf("%.0f | **%.2f** (%s)", median(tele), median(ratioTele), perRound(ratioTele))
	}
	fmt.Printf("| QoS %d | %s | %d | %.0f | %.0f | **%.2f** (%s) | %s | %s | %s | %.0f | %.0f | **%.2f** | %s |\n",
		o.qos, o.format, slices.Min(stored), median(alone), median(envmon), median(ratioAlone), perRound(ratioAlone),
		fmtDur(median(lat[0])), fmtDur(median(lat[1])), fmtDur(median(lat[2])),
		median(bare), median(same), median(ratioSame), telegraf)
	return nil
}

// perRound lists ratios, one per round.
func perRound(xs []float64) string {
	s := make([]string, len(xs))
	for i, x := range xs {
		s[i] = strconv.FormatFloat(x, 'f', 2, 64)
	}
	return strings.Join(s, ", ")
}

// median returns the median of xs, the mean of the middle two if even.
func median[T int64 | float64 | time.Duration](xs []T) T {
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func load(ctx context.Context, o options, prefix string) (simulators.Summary, error) {
	return simulators.Load(ctx, simulators.LoadConfig{
		Transport:   simulators.Transport{Broker: o.broker, QoS: byte(o.qos), ClientIDPrefix: "bench-" + prefix},
		Stations:    o.stations,
		Prefix:      prefix,
		Rate:        o.rate,
		Duration:    time.Duration(float64(o.messages) / o.rate * float64(time.Second)),
		Connections: o.connections,
		Format:      simulators.Format(o.format),
		Values:      6,
		Seed:        1,
	}, nil)
}

// wait waits for the publisher's messages and returns how many arrived and
// at what rate since start: from the first publish to the last delivery.
func (b *bareSub) wait(sum simulators.Summary, o options, start time.Time) (float64, int64, error) {
	waitQuiet(func() int64 { n, _ := b.counts(); return n }, sum.Messages)
	n, last := b.counts()
	if n < sum.Messages && o.qos > 0 {
		return 0, 0, fmt.Errorf("bare subscriber received %d of %d at QoS %d", n, sum.Messages, o.qos)
	}
	return float64(n) / time.Duration(last-start.UnixNano()).Seconds(), n, nil
}

// bareAlone returns the rate at which a bare subscriber receives the
// publisher's messages with nothing else subscribed.
func bareAlone(ctx context.Context, o options, round int) (float64, int64, error) {
	prefix := fmt.Sprintf("bare%d%s%d-", o.qos, o.format, round)
	b, err := subscribeBare(o, prefix)
	if err != nil {
		return 0, 0, err
	}
	defer b.close()
	start, cpu := time.Now(), o.cpuNow(b.pid())
	sum, err := load(ctx, o, prefix)
	if err != nil {
		return 0, 0, err
	}
	fmt.Fprintf(os.Stderr, "    (publisher, bare subscriber alone: %d messages at %.0f/s)\n", sum.Messages, sum.Rate)
	rate, n, err := b.wait(sum, o, start)
	fmt.Fprintf(os.Stderr, "    (CPU seconds: %s)\n", cpu.since())
	return rate, n, err
}

// waitQuiet waits until count reaches want or stops moving for 5 s.
func waitQuiet(count func() int64, want int64) {
	prev, since := int64(-1), time.Now()
	for count() < want && time.Since(since) < 5*time.Second {
		if c := count(); c != prev {
			prev, since = c, time.Now()
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// result is what throughEnvmon measured.
type result struct {
	stored  int64            // readings envmon stored
	envmon  float64          // readings/s stored, first publish to last stored
	bare    float64          // messages/s a bare subscriber received meanwhile
	latency [3]time.Duration // p50, p90, p99 from station timestamp to stored
}

// throughEnvmon runs envmon serve against the broker and InfluxDB and
// measures it; withBare adds a bare subscriber on the same broker,
// receiving the same messages, and measures it too.
func throughEnvmon(ctx context.Context, o options, round int, withBare bool) (result, error) {
	var res result
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return res, err
	}
	addr := ln.Addr().String()
	ln.Close()
	// Each phase writes to a new database, dropped after it, so that
	// InfluxDB's compactions of an earlier phase's data, and envmon's
	// start-up rebuild of its windows from the store, do not weigh on this
	// one. (The name says the row: run.sh runs this program once a row.)
	{
		db, rp, _ := strings.Cut(o.bucket, "/")
		db = fmt.Sprintf("%s_q%d%s_%d", db, o.qos, o.format, phase.Add(1))
		if err := influxQL(ctx, o, "CREATE DATABASE "+strconv.Quote(db)); err != nil {
			return res, err
		}
		defer influxQL(ctx, o, "DROP DATABASE "+strconv.Quote(db))
		o.bucket = db + "/" + rp
	}
	dir, err := os.MkdirTemp("", "envmon-bench-")
	if err != nil {
		return res, err
	}
	defer os.RemoveAll(dir)
	clientID := fmt.Sprintf("bench-envmon-%d", time.Now().UnixNano())
	cmd := o.sutCommand(o.envmon, "serve", "--http-addr", addr, "--mqtt-broker", o.broker,
		"--mqtt-client-id", clientID, "--data-dir", dir,
		"--influx-url", o.influxURL, "--influx-bucket", o.bucket, "--influx-org", "-", "--log-level", "warn",
		"--admin-token", profileToken,
		// Every phase registers its own 1,000 stations on first sight, and
		// the broker keeps the earlier phases' retained statuses.
		"--max-unregistered-stations", "1000000")
	logf, _ := os.Create(filepath.Join(dir, "envmon.log"))
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		return res, err
	}
	defer func() {
		cmd.Process.Signal(os.Interrupt)
		cmd.Wait()
		// envmon's session is persistent: left behind, the broker would
		// queue every later phase's messages for it too.
		endSession(o.broker, clientID)
	}()
	base := "http://" + addr
	deadline := time.Now().Add(30 * time.Second)
	for !ready(base) {
		if time.Now().After(deadline) {
			logs, _ := os.ReadFile(logf.Name())
			return res, fmt.Errorf("envmon not ready:\n%s", logs)
		}
		time.Sleep(50 * time.Millisecond)
	}
	before, _, err := scrape(base)
	if err != nil {
		return res, err
	}
	prefix := fmt.Sprintf("e2e%d%s%d-", o.qos, o.format, round)
	var bare *bareSub
	if withBare {
		prefix = fmt.Sprintf("same%d%s%d-", o.qos, o.format, round)
		if bare, err = subscribeBare(o, prefix); err != nil {
			return res, fmt.Errorf("bare subscriber: %w", err)
		}
		defer bare.close()
	}
	start, cpu := time.Now(), o.cpuNow(bare.pid())
	profiled := make(chan error, 1)
	if o.cpuprofile != "" && !withBare && round == 0 {
		go func() { profiled <- profile(ctx, base, o) }()
	} else {
		profiled <- nil
	}
	sum, err := load(ctx, o, prefix)
	if err != nil {
		return res, err
	}
	if err := <-profiled; err != nil {
		return res, err
	}
	fmt.Fprintf(os.Stderr, "    (publisher, envmon with bare subscriber %v: %d messages at %.0f/s)\n", withBare, sum.Messages, sum.Rate)
	if bare != nil {
		if res.bare, _, err = bare.wait(sum, o, start); err != nil {
			return res, err
		}
	}
	var stored float64
	var fams map[string]*dto.MetricFamily
	doneAt := time.Now()
	for prev, since := -1.0, time.Now(); time.Since(since) < 10*time.Second; time.Sleep(20 * time.Millisecond) {
		stored, fams, err = scrape(base)
		if err != nil {
			return res, err
		}
		if stored != prev {
			prev, since, doneAt = stored, time.Now(), time.Now()
		}
		if stored-before >= float64(sum.Messages) {
			break
		}
	}
	n := stored - before
	fmt.Fprintf(os.Stderr, "    (CPU seconds: envmon %.1f, %s)\n", cpuSeconds(cmd.Process.Pid), cpu.since())
	if n < float64(sum.Messages) {
		if res, err := http.Get(base + "/metrics"); err == nil {
			b, _ := io.ReadAll(res.Body)
			res.Body.Close()
			for _, l := range strings.Split(string(b), "\n") {
				if strings.HasPrefix(l, "envmon_ingest_messages") || strings.HasPrefix(l, "envmon_spool") || strings.HasPrefix(l, "envmon_ingest_queued") || strings.HasPrefix(l, "envmon_store_write_errors") || strings.HasPrefix(l, "envmon_ingest_readings") {
					fmt.Fprintln(os.Stderr, "   ", l)
				}
			}
		}
		logs, _ := os.ReadFile(logf.Name())
		if len(logs) > 8<<10 {
			logs = logs[len(logs)-8<<10:]
		}
		fmt.Fprintf(os.Stderr, "envmon log:\n%s\nload summary: %+v\n", logs, sum)
	}
	if o.qos > 0 && n != float64(sum.Messages) {
		return res, fmt.Errorf("envmon stored %.0f of %d readings at QoS %d", n, sum.Messages, o.qos)
	}
	if err := checkInflux(ctx, o, start, prefix, int64(n)); err != nil {
		return res, err
	}
	for i, q := range []float64{0.5, 0.9, 0.99} {
		res.latency[i] = quantile(fams["envmon_ingest_latency_seconds"], q)
	}
	res.stored, res.envmon = int64(n), n/doneAt.Sub(start).Seconds()
	return res, nil
}

// endSession removes the broker's persistent session for clientID by
// connecting with a clean session.
func endSession(broker, clientID string) {
	c := paho.NewClient(paho.NewClientOptions().AddBroker(broker).SetClientID(clientID).SetCleanSession(true))
	if tok := c.Connect(); tok.WaitTimeout(10*time.Second) && tok.Error() == nil {
		c.Disconnect(100)
		return
	}
	fmt.Fprintf(os.Stderr, "    (could not end session %s; the broker keeps queueing for it)\n", clientID)
}

// cpuTimes are the CPU seconds used so far by this process (the
// publisher), the bare subscriber's, InfluxDB and the broker.
type cpuTimes struct {
	o                             options
	barePID                       int
	self, bare, influx, mosquitto float64
}

func (o options) cpuNow(barePID int) cpuTimes {
	return cpuTimes{o, barePID, cpuSeconds(os.Getpid()), cpuSeconds(barePID), cpuSeconds(o.influxdPID), cpuSeconds(o.mosquittoPID)}
}

// since describes the CPU time used since c.
func (c cpuTimes) since() string {
	now := c.o.cpuNow(c.barePID)
	bare := ""
	if c.barePID > 0 {
		bare = fmt.Sprintf(", bare subscriber %.1f", now.bare-c.bare)
	}
	return fmt.Sprintf("publisher %.1f%s, influxd %.1f, mosquitto %.1f",
		now.self-c.self, bare, now.influx-c.influx, now.mosquitto-c.mosquitto)
}

// cpuSeconds returns the user and system CPU seconds process pid has used,
// 0 if it cannot tell.
func cpuSeconds(pid int) float64 {
	if pid <= 0 {
		return 0
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// The command name, in parentheses, may hold spaces: count from after it.
	_, rest, _ := strings.Cut(string(b), ") ")
	f := strings.Fields(rest)
	if len(f) < 13 {
		return 0
	}
	ut, _ := strconv.ParseFloat(f[11], 64)
	st, _ := strconv.ParseFloat(f[12], 64)
	return (ut + st) / 100 // USER_HZ, 100 on Linux
}

// profileToken is the admin token the bench gives envmon, for its profile.
const profileToken = "bench"

// profile writes envmon's CPU profile for the publisher's run to
// o.cpuprofile.
func profile(ctx context.Context, base string, o options) error {
	seconds := max(1, int(float64(o.messages)/o.rate))
	req, err := http.NewRequestWithContext(ctx, "GET", fmt.Sprintf("%s/debug/pprof/profile?seconds=%d", base, seconds), nil)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+profileToken)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("cpu profile: %w", err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return fmt.Errorf("cpu profile: %s", res.Status)
	}
	f, err := os.Create(o.cpuprofile)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, res.Body); err != nil {
		f.Close()
		return fmt.Errorf("cpu profile: %w", err)
	}
	return f.Close()
}

func ready(base string) bool {
	res, err := http.Get(base + "/readyz")
	if err != nil {
		return false
	}
	res.Body.Close()
	return res.StatusCode == 200
}

// scrape returns envmon's stored readings so far and all its metrics.
func scrape(base string) (float64, map[string]*dto.MetricFamily, error) {
	res, err := http.Get(base + "/metrics")
	if err != nil {
		return 0, nil, err
	}
	defer res.Body.Close()
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(res.Body)
	if err != nil && !errors.Is(err, io.EOF) {
		return 0, nil, err
	}
	var n float64
	if f := fams["envmon_ingest_readings_total"]; f != nil {
		for _, m := range f.Metric {
			n += m.GetCounter().GetValue()
		}
	}
	return n, fams, nil
}

// quantile estimates a quantile from a histogram, interpolating in the
// bucket that holds it, as Prometheus's histogram_quantile does.
func quantile(f *dto.MetricFamily, q float64) time.Duration {
	if f == nil || len(f.Metric) == 0 {
		return 0
	}
	h := f.Metric[0].GetHistogram()
	total := float64(h.GetSampleCount())
	bs := h.GetBucket()
	sort.Slice(bs, func(i, j int) bool { return bs[i].GetUpperBound() < bs[j].GetUpperBound() })
	rank, lo, prev := q*total, 0.0, 0.0
	for _, b := range bs {
		c := float64(b.GetCumulativeCount())
		if c >= rank {
			hi := b.GetUpperBound()
			if math.IsInf(hi, 1) {
				return time.Duration(lo * float64(time.Second))
			}
			frac := (rank - prev) / math.Max(c-prev, 1)
			return time.Duration((lo + (hi-lo)*frac) * float64(time.Second))
		}
		lo, prev = b.GetUpperBound(), c
	}
	return time.Duration(lo * float64(time.Second))
}

// phase numbers the envmon phases.
var phase atomic.Int64

// influxQL runs an InfluxQL statement on InfluxDB 1.x.
func influxQL(ctx context.Context, o options, q string) error {
	req, err := http.NewRequestWithContext(ctx, "POST", o.influxURL+"/query", strings.NewReader(url.Values{"q": {q}}.Encode()))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("InfluxDB %s: %w", q, err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return fmt.Errorf("InfluxDB %s: %s", q, res.Status)
	}
	return nil
}

// checkInflux counts the points the run wrote, as a Flux query sees them:
// exactly want.
func checkInflux(ctx context.Context, o options, since time.Time, prefix string, want int64) error {
	c := influxdb2.NewClient(o.influxURL, "")
	defer c.Close()
	q := fmt.Sprintf(`from(bucket: %q) |> range(start: %s) |> filter(fn: (r) => r._measurement == "air" and r._field == "pm25" and r.station =~ /^%s/) |> group() |> count()`,
		o.bucket, since.Add(-time.Minute).UTC().Format(time.RFC3339), regexp.QuoteMeta(prefix))
	res, err := c.QueryAPI("-").Query(ctx, q)
	if err != nil {
		return fmt.Errorf("count in InfluxDB: %w", err)
	}
	var n int64
	for res.Next() {
		if v, ok := res.Record().Value().(int64); ok {
			n += v
		}
	}
	if n != want {
		return fmt.Errorf("InfluxDB holds %d points, envmon reported %d stored", n, want)
	}
	return nil
}

func fmtDur(d time.Duration) string {
	switch {
	case d >= time.Second:
		return strconv.FormatFloat(d.Seconds(), 'f', 2, 64) + " s"
	default:
		return strconv.FormatFloat(float64(d)/float64(time.Millisecond), 'f', 1, 64) + " ms"
	}
}
