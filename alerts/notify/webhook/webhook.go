// Package webhook posts alert notifications as JSON in Alertmanager's
// webhook version 4 shape, with envmon's own fields, signed with
// HMAC-SHA256 in the X-Envmon-Signature header.
package webhook

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/envmon/envmon/alerts/notify"
	"github.com/envmon/envmon/internal/secret"
)

// Headers set on every request.
const (
	SignatureHeader   = "X-Envmon-Signature"
	IdempotencyHeader = "Idempotency-Key"
)

// DefaultTimeout bounds one request.
const DefaultTimeout = 10 * time.Second

// Config configures one webhook receiver.
type Config struct {
	Name    string        `yaml:"name"`
	URL     string        `yaml:"url"`
	Secret  secret.String `yaml:"secret"`
	Timeout time.Duration `yaml:"timeout"`
	// Client is the HTTP client; a default one when nil.
	Client *http.Client `yaml:"-"`
	// Now is the clock of the signature's timestamp; time.Now when nil.
	Now func() time.Time `yaml:"-"`
}

// Validate names the first bad key.
func (c Config) Validate() error {
	u, err := url.Parse(c.URL)
	switch {
	case c.Name == "":
		return errors.New("name: required")
	case err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "":
		return fmt.Errorf("receivers.%s.url: want an http(s) URL", c.Name)
	case c.Secret.IsZero():
		return fmt.Errorf("receivers.%s.secret: required, to sign the requests", c.Name)
	}
	return nil
}

// Notifier posts to one webhook.
type Notifier struct{ cfg Config }

// New returns the notifier of cfg.
func New(cfg Config) (*Notifier, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.Client == nil {
		cfg.Client = &http.Client{}
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Notifier{cfg: cfg}, nil
}

// Message is the body: Alertmanager's webhook v4 fields, then envmon's.
type Message struct {
	Version           string            `json:"version"`
	GroupKey          string            `json:"groupKey"`
	TruncatedAlerts   int               `json:"truncatedAlerts"`
	Status            string            `json:"status"`
	Receiver          string            `json:"receiver"`
	GroupLabels       map[string]string `json:"groupLabels"`
	CommonLabels      map[string]string `json:"commonLabels"`
	CommonAnnotations map[string]string `json:"commonAnnotations"`
	ExternalURL       string            `json:"externalURL"`
	Alerts            []Alert           `json:"alerts"`
	Envmon            Envmon            `json:"envmon"`
}

// Alert is one alert of Message.
type Alert struct {
	Status       string            `json:"status"`
	Labels       map[string]string `json:"labels"`
	Annotations  map[string]string `json:"annotations"`
	StartsAt     time.Time         `json:"startsAt"`
	EndsAt       time.Time         `json:"endsAt"`
	GeneratorURL string            `json:"generatorURL"`
	Fingerprint  string            `json:"fingerprint"`
}

// Envmon holds envmon's fields.
type Envmon struct {
	EpisodeID      string          `json:"episode_id"`
	IdempotencyKey string          `json:"idempotency_key"`
	Kind           string          `json:"kind"`
	Rule           string          `json:"rule"`
	Station        string          `json:"station"`
	Point          string          `json:"point"`
	Severity       string          `json:"severity"`
	Evidence       json.RawMessage `json:"evidence,omitempty"`
}

// Body returns the JSON body for n.
func Body(n *notify.Notification) ([]byte, error) {
	e := n.Episode
	gl := map[string]string{"alertname": e.Rule, "station": e.Station}
	m := Message{
		Version:           "4",
		GroupKey:          fmt.Sprintf("{}:{alertname=%q, station=%q}", e.Rule, e.Station),
		Status:            n.Status(),
		Receiver:          n.Receiver,
		GroupLabels:       gl,
		CommonLabels:      e.Labels,
		CommonAnnotations: e.Annotations,
		ExternalURL:       n.URL,
		Alerts: []Alert{{
			Status: n.Status(), Labels: e.Labels, Annotations: e.Annotations,
			StartsAt: e.StartsAt, EndsAt: e.EndsAt, GeneratorURL: n.URL, Fingerprint: e.Fingerprint,
		}},
		Envmon: Envmon{
			EpisodeID: e.ID, IdempotencyKey: n.Key, Kind: string(n.Kind), Rule: e.Rule,
			Station: e.Station, Point: e.Point, Severity: e.Severity, Evidence: e.Evidence,
		},
	}
	return json.Marshal(m)
}

// Sign returns the signature header value for body at t:
// "t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">".
func Sign(key secret.String, t time.Time, body []byte) string {
	ts := strconv.FormatInt(t.Unix(), 10)
	mac := hmac.New(sha256.New, []byte(key.Reveal()))
	mac.Write([]byte(ts))
	mac.Write([]byte("."))
	mac.Write(body)
	return "t=" + ts + ",v1=" + hex.EncodeToString(mac.Sum(nil))
}

// Verify checks a signature header against body: the MAC must match and
// the timestamp be within tolerance of now, against replays.
func Verify(key secret.String, header string, body []byte, now time.Time, tolerance time.Duration) error {
	var ts, sig string
	for _, part := range strings.Split(header, ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(part), "=")
		switch k {
		case "t":
			ts = v
		case "v1":
			sig = v
		}
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || sig == "" {
		return errors.New("malformed signature header")
	}
	t := time.Unix(sec, 0)
	if d := now.Sub(t); d > tolerance || d < -tolerance {
		return fmt.Errorf("signature timestamp %s is outside %v of now", t.UTC().Format(time.RFC3339), tolerance)
	}
	want := Sign(key, t, body)
	if !hmac.Equal([]byte(want), []byte("t="+ts+",v1="+sig)) {
		return errors.New("signature does not match")
	}
	return nil
}

// Notify posts n. 5xx, 429 and transport errors are retried; other
// refusals are not.
func (w *Notifier) Notify(ctx context.Context, n *notify.Notification) (bool, error) {
	body, err := Body(n)
	if err != nil {
		return false, err
	}
	ctx, cancel := context.WithTimeoutCause(ctx, w.cfg.Timeout, fmt.Errorf("webhook %s: no answer in %v", w.cfg.Name, w.cfg.Timeout))
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.cfg.URL, bytes.NewReader(body))
	if err != nil {
		return false, fmt.Errorf("webhook %s: %w", w.cfg.Name, err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "envmon-alerts")
	req.Header.Set(IdempotencyHeader, n.Key)
	req.Header.Set(SignatureHeader, Sign(w.cfg.Secret, w.cfg.Now(), body))
	res, err := w.cfg.Client.Do(req)
	if err != nil {
		return true, fmt.Errorf("webhook %s: %s", w.cfg.Name, redact(err, w.cfg.URL))
	}
	io.Copy(io.Discard, io.LimitReader(res.Body, 1<<16))
	res.Body.Close()
	switch {
	case res.StatusCode/100 == 2:
		return false, nil
	case res.StatusCode/100 == 5 || res.StatusCode == http.StatusTooManyRequests || res.StatusCode == http.StatusRequestTimeout:
		return true, fmt.Errorf("webhook %s: %s", w.cfg.Name, res.Status)
	}
	return false, fmt.Errorf("webhook %s: refused: %s", w.cfg.Name, res.Status)
}

// redact keeps the URL's query and user info, which may hold tokens, out
// of the error.
func redact(err error, raw string) string {
	msg := err.Error()
	if u, perr := url.Parse(raw); perr == nil {
		safe := u.Scheme + "://" + u.Host + u.Path
		msg = strings.ReplaceAll(msg, raw, safe)
		msg = strings.ReplaceAll(msg, strconv.Quote(raw), strconv.Quote(safe))
	}
	return msg
}
