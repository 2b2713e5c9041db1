package scenario

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Client reads envmon's HTTP API (docs: README, api/stations.go).
type Client struct {
	// Base is the API's base URL, such as http://127.0.0.1:8080.
	Base string
	// HTTP is the client to use; default one with a 10 s timeout.
	HTTP *http.Client
}

// Value is a latest value as the API serves it. QC lists its quality
// control flags; nil or empty means not flagged.
type Value struct {
	Value  float64   `json:"value"`
	Unit   string    `json:"unit"`
	Time   time.Time `json:"time"`
	Medium string    `json:"medium"`
	QC     []string  `json:"qc"`
}

// StationLatest is GET /api/v1/stations/{id}/latest.
type StationLatest struct {
	Station string           `json:"station"`
	Point   string           `json:"point"`
	Status  string           `json:"status"`
	Values  map[string]Value `json:"values"`
}

// Sample is one sample of GET /api/v1/stations/{id}/readings.
type Sample struct {
	Time  time.Time `json:"time"`
	Value float64   `json:"value"`
	QC    []string  `json:"qc"`
}

// ErrNotFound is returned for a station the API does not know.
var ErrNotFound = errors.New("not found")

func (c *Client) get(ctx context.Context, path string, q url.Values, out any) error {
	hc := c.HTTP
	if hc == nil {
		hc = &http.Client{Timeout: 10 * time.Second}
	}
	u := strings.TrimRight(c.Base, "/") + path
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	res, err := hc.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	switch {
	case res.StatusCode == http.StatusNotFound:
		return fmt.Errorf("GET %s: %w", path, ErrNotFound)
	case res.StatusCode != http.StatusOK:
		var p struct {
			Detail string `json:"detail"`
			Title  string `json:"title"`
		}
		_ = json.NewDecoder(res.Body).Decode(&p)
		return fmt.Errorf("GET %s: %s %s", path, res.Status, p.Detail)
	}
	if err := json.NewDecoder(res.Body).Decode(out); err != nil {
		return fmt.Errorf("GET %s: %w", path, err)
	}
	return nil
}

// Latest returns a station's status and latest values.
func (c *Client) Latest(ctx context.Context, station string) (StationLatest, error) {
	var out StationLatest
	err := c.get(ctx, "/api/v1/stations/"+url.PathEscape(station)+"/latest", nil, &out)
	return out, err
}

// Readings returns a station's samples of metric in [from, to).
func (c *Client) Readings(ctx context.Context, station, metric string, from, to time.Time) ([]Sample, error) {
	var out struct {
		Samples []Sample `json:"samples"`
	}
	q := url.Values{"metric": {metric}, "from": {from.UTC().Format(time.RFC3339Nano)}, "to": {to.UTC().Format(time.RFC3339Nano)}}
	if err := c.get(ctx, "/api/v1/stations/"+url.PathEscape(station)+"/readings", q, &out); err != nil {
		return nil, err
	}
	kept := out.Samples[:0]
	for _, s := range out.Samples {
		if !s.Time.Before(from) && s.Time.Before(to) {
			kept = append(kept, s)
		}
	}
	return kept, nil
}
