#!/usr/bin/env bash
# Ingest benchmark: real Mosquitto, real InfluxDB 1.8.10, envmon built from
# this tree. For QoS 0 and 1, native JSON and SenML, three phases one after
# the other: a bare subscriber alone; envmon alone (end-to-end stored rate
# and latency); and envmon beside a bare subscriber receiving the same
# messages at the same time. It prints one Markdown row each
# (docs/BENCHMARKS.md).
#
#   bench/ingest/run.sh [messages-per-phase [qos [format]]]
#   (defaults: 200000, both QoS 1 and 0, both json and senml)
#   BENCH_FLAGS="--cpuprofile /tmp/envmon.prof" passes flags to the Go bench.
#
# Needs mosquitto and influxd (make tools installs both).
set -euo pipefail
cd "$(dirname "$0")/../.."
N=${1:-200000}
QOS=${2:-"1 0"}
FORMATS=${3:-"json senml"}
INFLUXD=${ENVMON_INFLUXD:-$HOME/.cache/envmon/tools/influxd}
MOSQUITTO=$(command -v mosquitto || echo /usr/sbin/mosquitto)
work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT

freeport() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }
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
mosquitto_pid=${pids[0]}
# CPU seconds a process has used so far (user + system).
cpu() { awk -v hz="$(getconf CLK_TCK)" '{printf "%.1f", ($14 + $15) / hz}' "/proc/$1/stat"; }
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$hport/ping" >/dev/null && break; sleep 0.1; done
curl -sf -XPOST "http://127.0.0.1:$hport/query" --data-urlencode "q=CREATE DATABASE envmon" >/dev/null

go build -o "$work/envmon" ./cmd/envmon
go build -o "$work/bench" ./bench/ingest

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(go version | cut -d' ' -f3), $(date -u +%F)"
echo
echo "| QoS | format | envmon stored (fewest in a round) | bare subscriber alone (msg/s) | envmon alone (readings/s) | ratio to bare alone | p50 | p90 | p99 | same messages: bare subscriber (msg/s) | envmon (readings/s) | ratio, same messages |"
echo "|---|---|---|---|---|---|---|---|---|---|---|---|"
for qos in $QOS; do
  for format in $FORMATS; do
    i0=$(cpu "$influxd_pid"); m0=$(cpu "$mosquitto_pid")
    "$work/bench" --broker "tcp://127.0.0.1:$mport" --influx-url "http://127.0.0.1:$hport" \
      --envmon "$work/envmon" --messages "$N" --qos "$qos" --format "$format" \
      --influxd-pid "$influxd_pid" --mosquitto-pid "$mosquitto_pid" ${BENCH_FLAGS:-}
    echo "    (CPU seconds in this row: influxd $(echo "$(cpu "$influxd_pid") - $i0" | bc), mosquitto $(echo "$(cpu "$mosquitto_pid") - $m0" | bc))" >&2
  done
done
