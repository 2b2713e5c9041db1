// Package deploy holds no code: it owns the production configuration that
// docker-compose.yml mounts, such as mosquitto.conf with the persistence
// and in-flight settings docs/MQTT.md explains. It imports nothing.
package deploy
