# Sourced by the ingest benchmarks: starts a real Mosquitto (nothing
# dropped: max_queued_messages 0) and a real InfluxDB 1.8.10 with database
# envmon on free ports in a temporary directory, and stops them on exit.
# Sets work, mport, hport, mosquitto_pid, influxd_pid; defines cpu and
# freeport. Needs mosquitto and influxd (make tools installs both).
INFLUXD=${ENVMON_INFLUXD:-$HOME/.cache/envmon/tools/influxd}
MOSQUITTO=$(command -v mosquitto || echo /usr/sbin/mosquitto)
work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT

freeport() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }
# cpu prints the CPU seconds process $1 has used so far (user + system).
cpu() { awk -v hz="$(getconf CLK_TCK)" '{printf "%.2f", ($14 + $15) / hz}' "/proc/$1/stat"; }
mport=$(freeport); hport=$(freeport); rport=$(freeport)

cat > "$work/mosquitto.conf" <<CONF
listener $mport 127.0.0.1
allow_anonymous true
persistence false
max_inflight_messages 0
max_queued_messages 0
CONF
[ "$(id -u)" = 0 ] && echo "user root" >> "$work/mosquitto.conf"
"$MOSQUITTO" -c "$work/mosquitto.conf" > "$work/mosquitto.log" 2>&1 & pids+=($!)
mosquitto_pid=$!

cat > "$work/influxd.conf" <<CONF
reporting-disabled = true
bind-address = "127.0.0.1:$rport"
[meta]
  dir = "$work/influx/meta"
[data]
  dir = "$work/influx/data"
  wal-dir = "$work/influx/wal"
  query-log-enabled = false
[http]
  bind-address = "127.0.0.1:$hport"
  flux-enabled = true
  log-enabled = false
[logging]
  level = "error"
CONF
"$INFLUXD" run -config "$work/influxd.conf" > "$work/influxd.log" 2>&1 & pids+=($!)
influxd_pid=$!
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$hport/ping" >/dev/null && break; sleep 0.1; done
curl -sf -XPOST "http://127.0.0.1:$hport/query" --data-urlencode "q=CREATE DATABASE envmon" >/dev/null
