// Package mqtt publishes alert notifications on envmon/alerts/{point}/{station}
// at QoS 1, through a small Publisher interface that the service wires to
// its broker or a paho client.
package mqtt

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/envmon/envmon/alerts/notify"
)

// QoS is the quality of service of every publish: at least once.
const QoS = 1

// Publisher publishes one message and returns once the broker has it (for
// QoS 1, its PUBACK).
type Publisher interface {
	Publish(ctx context.Context, topic string, qos byte, retained bool, payload []byte) error
}

// PublisherFunc adapts a function to Publisher.
type PublisherFunc func(ctx context.Context, topic string, qos byte, retained bool, payload []byte) error

// Publish calls f.
func (f PublisherFunc) Publish(ctx context.Context, topic string, qos byte, retained bool, payload []byte) error {
	return f(ctx, topic, qos, retained, payload)
}

// Config configures the MQTT notifier.
type Config struct {
	Name string `yaml:"name"`
	// Prefix of topics; default "envmon/alerts".
	Prefix  string        `yaml:"prefix"`
	Timeout time.Duration `yaml:"timeout"`
}

// Notifier publishes notifications.
type Notifier struct {
	cfg Config
	pub Publisher
}

// New returns a notifier publishing through pub.
func New(cfg Config, pub Publisher) (*Notifier, error) {
	if pub == nil {
		return nil, errors.New("mqtt notifier: no publisher")
	}
	if cfg.Prefix == "" {
		cfg.Prefix = "envmon/alerts"
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = 10 * time.Second
	}
	return &Notifier{cfg: cfg, pub: pub}, nil
}

// Topic returns the topic of a notification about a station at point.
// Characters MQTT topics reserve are replaced by _.
func (m *Notifier) Topic(point, station string) string {
	clean := strings.NewReplacer("/", "_", "+", "_", "#", "_").Replace
	if point == "" {
		point = "_"
	}
	return m.cfg.Prefix + "/" + clean(point) + "/" + clean(station)
}

// Payload is what is published: the notification as JSON.
func Payload(n *notify.Notification) ([]byte, error) {
	return json.Marshal(struct {
		Status string `json:"status"`
		*notify.Notification
	}{n.Status(), n})
}

// Notify publishes n at QoS 1, not retained. Every failure is retried.
func (m *Notifier) Notify(ctx context.Context, n *notify.Notification) (bool, error) {
	b, err := Payload(n)
	if err != nil {
		return false, err
	}
	ctx, cancel := context.WithTimeoutCause(ctx, m.cfg.Timeout, errors.New("mqtt notifier: no PUBACK in time"))
	defer cancel()
	if err := m.pub.Publish(ctx, m.Topic(n.Episode.Point, n.Episode.Station), QoS, false, b); err != nil {
		return true, fmt.Errorf("mqtt notifier: %w", err)
	}
	return false, nil
}
