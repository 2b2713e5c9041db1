package sse

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// TestServe: a client of the stream gets the opening comment, then each
// event written, and not the ones the writer leaves out; a subscriber that
// has gone gets nothing more.
func TestServe(t *testing.T) {
	h := new(Hub[int])
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		Serve(w, r, h, "test stream", time.Hour, func(w http.ResponseWriter, n int) {
			if n%2 == 0 {
				fmt.Fprintf(w, "data: %d\n\n", n)
			}
		})
	}))
	defer srv.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", srv.URL, nil)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if ct := res.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Fatalf("Content-Type %q", ct)
	}
	sc := bufio.NewScanner(res.Body)
	// Serve subscribes before it writes the opening comment.
	if !sc.Scan() || sc.Text() != ": test stream" {
		t.Fatalf("first line %q", sc.Text())
	}
	for n := 1; n <= 4; n++ {
		h.Publish(n)
	}
	var got []string
	for sc.Scan() && len(got) < 2 {
		if l := sc.Text(); strings.HasPrefix(l, "data: ") {
			got = append(got, l)
		}
	}
	if strings.Join(got, ",") != "data: 2,data: 4" {
		t.Fatalf("got %v, want data: 2 and data: 4", got)
	}
}

// TestHubDropsForSlowSubscriber: Publish never waits for a subscriber.
func TestHubDropsForSlowSubscriber(t *testing.T) {
	h := new(Hub[int])
	c, done := h.Subscribe()
	for n := range bufferSize * 2 {
		h.Publish(n) // would block here if Publish waited
	}
	if len(c) != bufferSize {
		t.Fatalf("%d buffered, want %d", len(c), bufferSize)
	}
	done()
	h.Publish(-1)
	if len(c) != bufferSize {
		t.Fatal("an ended subscription still got an event")
	}
}
