package ingest

import (
	"errors"
	"fmt"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
)

// mqttClient is the part of paho's client the collector uses with an
// external broker. paho.Client satisfies it; tests give the collector a
// fake through Config's newClient, to drive each path of the connection's
// life without a broker.
type mqttClient interface {
	Connect() paho.Token
	Disconnect(quiesce uint)
	IsConnectionOpen() bool
	Publish(topic string, qos byte, retained bool, payload any) paho.Token
	Subscribe(topic string, qos byte, callback paho.MessageHandler) paho.Token
	AddRoute(topic string, callback paho.MessageHandler)
}

// newPahoClient is the default client factory.
func newPahoClient(o *paho.ClientOptions) mqttClient { return paho.NewClient(o) }

// reconnectInterval bounds the wait between reconnection attempts, so
// that the collector subscribes again within about this long of the
// broker's return. paho doubles its wait from a second up to this bound.
const reconnectInterval = 500 * time.Millisecond

// tokenTimeout bounds the wait for a broker's answer to a SUBSCRIBE or a
// PUBLISH.
const tokenTimeout = 10 * time.Second

// errSubscriptionRefused is a SUBACK whose return code is a failure: the
// broker's ACL refused the filter.
var errSubscriptionRefused = errors.New("broker refused the subscription")

// subscribe subscribes to filter and checks the broker's SUBACK: a return
// code of 0x80 or above (MQTT 3.1.1 §3.9.3, MQTT 5 §3.9.3) is a refusal,
// not a subscription.
func subscribe(c mqttClient, filter string, qos byte, h paho.MessageHandler) error {
	tok := c.Subscribe(filter, qos, h)
	if !tok.WaitTimeout(tokenTimeout) {
		return fmt.Errorf("subscribe to %s: no SUBACK within %s", filter, tokenTimeout)
	}
	if err := tok.Error(); err != nil {
		return fmt.Errorf("subscribe to %s: %w", filter, err)
	}
	if st, ok := tok.(interface{ Result() map[string]byte }); ok {
		if code, ok := st.Result()[filter]; ok && code >= 0x80 {
			return fmt.Errorf("subscribe to %s: %w (SUBACK return code %#02x)", filter, errSubscriptionRefused, code)
		}
	}
	return nil
}
