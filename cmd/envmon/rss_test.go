package main

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/envmon/envmon/internal/testenv"
)

// stalledRSSBound is the RSS docs/GUARANTEES.md promises with 10,000
// registered stations and 100 HTTP clients that request the station list
// and never read the answer. (Unpaginated, with no write timeout, envmon
// grew from 107 MB to 2.6 GB; listing a page copied the whole registry,
// 10,000 stations a request, and peaked at 338 MB.) Each stalled client
// holds at most one page (1,000 stations, about 1 MB of JSON); the rest is
// the garbage collector's headroom, which grows when the machine is busy.
const stalledRSSBound = 300 << 20

// TestStalledReadersRSS runs envmon serve with 10,000 registered stations,
// sends 100 requests for /api/v1/stations (half at the largest page) on
// connections that never read, and checks that envmon's peak RSS, once
// every request has been taken up, stays under stalledRSSBound.
func TestStalledReadersRSS(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "stations.yaml")
	var b strings.Builder
	b.WriteString("points:\n")
	for i := range 500 {
		fmt.Fprintf(&b, "  - {id: p%03d, name: Point %d, type: comprehensive, grid: {county: County %d}}\n", i, i, i%10)
	}
	b.WriteString("stations:\n")
	for i := range 10_000 {
		fmt.Fprintf(&b, "  - {id: st-%05d, point: p%03d, name: Station %d, lat: 30.6, lon: 104.1, media: [air, noise], noise_zone: \"2\"}\n", i, i%500, i)
	}
	if err := os.WriteFile(file, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	e := testenv.StartEnvmon(t, "--stations", file, "--data-dir", filepath.Join(dir, "data"))
	pid := e.Cmd.Process.Pid
	before, _, err := testenv.RSS(pid)
	if err != nil {
		t.Fatal(err)
	}

	const clients = 100
	host := strings.TrimPrefix(e.HTTP, "http://")
	for i := range clients {
		c, err := net.Dial("tcp", host)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		if tc, ok := c.(*net.TCPConn); ok {
			tc.SetReadBuffer(4 << 10) // a reader that stalls holds little in its kernel buffer
		}
		path := "/api/v1/stations"
		if i%2 == 1 {
			path += "?limit=1000"
		}
		if _, err := fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: %s\r\n\r\n", path, host); err != nil {
			t.Fatal(err)
		}
	}

	// Wait until envmon has taken up every request: each is answered or in
	// progress (its metrics say so), so its memory has been allocated.
	deadline := time.Now().Add(2 * time.Minute)
	for {
		answered, inFlight := stationRequests(t, e.HTTP)
		if answered+inFlight-1 >= clients { // -1: the /metrics request itself
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after 2 minutes envmon has taken up %d of %d requests:\n%s", answered+inFlight-1, clients, e.LogTail())
		}
		time.Sleep(100 * time.Millisecond)
	}
	now, peak, err := testenv.RSS(pid)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("RSS %d MB before, %d MB now, peak %d MB (bound %d MB)", before>>20, now>>20, peak>>20, stalledRSSBound>>20)
	if peak > stalledRSSBound {
		t.Errorf("peak RSS %d MB exceeds the bound of %d MB", peak>>20, stalledRSSBound>>20)
	}
	if res, err := http.Get(e.HTTP + "/healthz"); err != nil || res.StatusCode != 200 {
		t.Errorf("envmon stopped answering: %v", err)
	} else {
		res.Body.Close()
	}
}

var (
	stationsLine = regexp.MustCompile(`^envmon_http_requests_total\{code="\d+",route="/api/v1/stations/?"\} (\S+)$`)
	inFlightLine = regexp.MustCompile(`^envmon_http_requests_in_flight (\S+)$`)
)

// stationRequests reads from /metrics how many station-list requests have
// been answered and how many requests are in progress.
func stationRequests(t *testing.T, base string) (answered, inFlight int) {
	t.Helper()
	res, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	sc := bufio.NewScanner(res.Body)
	for sc.Scan() {
		if m := stationsLine.FindStringSubmatch(sc.Text()); m != nil {
			n, _ := strconv.ParseFloat(m[1], 64)
			answered += int(n)
		}
		if m := inFlightLine.FindStringSubmatch(sc.Text()); m != nil {
			n, _ := strconv.ParseFloat(m[1], 64)
			inFlight = int(n)
		}
	}
	io.Copy(io.Discard, res.Body)
	return answered, inFlight
}

// hugePublishRSSBound is the RSS docs/GUARANTEES.md promises when a client
// sends a 100 MB PUBLISH. (The embedded broker used to read it whole: RSS
// grew from 19 to 533 MB.)
const hugePublishRSSBound = 100 << 20

// TestHugePublishRSS sends envmon serve's embedded broker a PUBLISH that
// announces 100 MB and streams its bytes. The broker closes the connection
// at the header, before reading the body, and envmon's peak RSS stays
// under hugePublishRSSBound.
func TestHugePublishRSS(t *testing.T) {
	e := testenv.StartEnvmon(t, "--data-dir", t.TempDir(), "--mqtt-open-registration")
	c, err := net.Dial("tcp", strings.TrimPrefix(e.MQTT, "tcp://"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	// CONNECT, MQTT 3.1.1, clean session, client id "huge".
	connect := []byte{0x10, 16, 0, 4, 'M', 'Q', 'T', 'T', 4, 0x02, 0, 60, 0, 4, 'h', 'u', 'g', 'e'}
	if _, err := c.Write(connect); err != nil {
		t.Fatal(err)
	}
	ack := make([]byte, 4)
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.ReadFull(c, ack); err != nil || ack[0] != 0x20 || ack[3] != 0 {
		t.Fatalf("CONNACK %x: %v", ack, err)
	}
	const size = 100 << 20
	topic := "envmon/p1/st-1/air"
	var hdr []byte
	hdr = append(hdr, 0x32) // PUBLISH, QoS 1
	for n := size + 2 + len(topic) + 2; ; {
		b := byte(n % 128)
		if n /= 128; n > 0 {
			b |= 0x80
		}
		hdr = append(hdr, b)
		if n == 0 {
			break
		}
	}
	hdr = append(hdr, 0, byte(len(topic)))
	hdr = append(hdr, topic...)
	hdr = append(hdr, 0, 1)
	sent := 0
	chunk := make([]byte, 1<<20)
	c.SetWriteDeadline(time.Now().Add(time.Minute))
	if _, err := c.Write(hdr); err == nil {
		for sent < size {
			n, err := c.Write(chunk)
			sent += n
			if err != nil {
				break
			}
		}
	}
	_, peak, err := testenv.RSS(e.Cmd.Process.Pid)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("sent %d MB of the body before the broker closed; peak RSS %d MB (bound %d MB)", sent>>20, peak>>20, hugePublishRSSBound>>20)
	if sent >= size {
		t.Errorf("the broker read the whole 100 MB body")
	}
	if peak > hugePublishRSSBound {
		t.Errorf("peak RSS %d MB exceeds the bound of %d MB", peak>>20, hugePublishRSSBound>>20)
	}
}
