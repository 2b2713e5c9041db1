#!/usr/bin/env bash
# CPU cost of ingest per message: envmon's and InfluxDB's CPU seconds per
# stored message, which a shared machine disturbs far less than it disturbs
# rates. Real Mosquitto and InfluxDB 1.8.10, envmon built from this tree,
# the `envmon sim --load` publisher, QoS 1, six values a message.
#
#   bench/ingest/cpu.sh live  [messages [rate [format]]]
#       envmon runs while messages are published at rate (default 15000/s):
#       the steady state of a busy network.
#   bench/ingest/cpu.sh drain [messages [format]]
#       messages are queued on the broker for envmon's session first, then
#       envmon starts and stores them all as fast as it can.
#
# It also prints the spool's fsyncs and the store's writes, which show how
# well the collector batches. ENVMON_* variables reach envmon, e.g.
# ENVMON_INGEST_ACK_LINGER=0 to compare settings.
set -euo pipefail
cd "$(dirname "$0")/../.."
MODE=${1:-live}
N=${2:-150000}
if [ "$MODE" = live ]; then RATE=${3:-15000}; FORMAT=${4:-json}; else RATE=20000; FORMAT=${3:-json}; fi
. bench/ingest/servers.sh
eport=$(freeport)
go build -o "$work/envmon" ./cmd/envmon

stored() { curl -sf "http://127.0.0.1:$eport/metrics" 2>/dev/null | awk '/^envmon_ingest_readings_total/ {s += $2} END {printf "%d", s}'; }
serve() {
  "$work/envmon" serve --http-addr "127.0.0.1:$eport" --mqtt-broker "tcp://127.0.0.1:$mport" --mqtt-client-id cpu-bench \
    --data-dir "$work/data" --influx-url "http://127.0.0.1:$hport" --influx-bucket envmon/autogen --influx-org - \
    --log-level warn >> "$work/envmon.log" 2>&1 &
  envmon_pid=$!
  for _ in $(seq 100); do curl -sf "http://127.0.0.1:$eport/readyz" >/dev/null && break; sleep 0.1; done
}
publish() {
  "$work/envmon" sim --load --broker "tcp://127.0.0.1:$mport" --stations 1000 --rate "$1" --duration "$(( N / $1 ))s" \
    --connections 4 --format "$FORMAT" --values 6 --qos 1 > "$work/sim.log" 2>&1 || true
  grep -oE '^messages [0-9]+' "$work/sim.log" | tail -1 | cut -d' ' -f2
}

serve
if [ "$MODE" = drain ]; then
  kill -INT "$envmon_pid"; wait "$envmon_pid" || true # its session now queues for it
  sent=$(publish "$RATE")
  i0=$(cpu "$influxd_pid"); start=$(date +%s.%N)
  serve
else
  i0=$(cpu "$influxd_pid"); start=$(date +%s.%N)
  sent=$(publish "$RATE")
fi
until [ "$(stored)" -ge "$sent" ]; do sleep 0.05; done
secs=$(echo "$(date +%s.%N) - $start" | bc)
e=$(cpu "$envmon_pid"); i=$(echo "$(cpu "$influxd_pid") - $i0" | bc)
echo "$MODE, $FORMAT: $sent messages stored in ${secs%??????} s"
echo "  envmon  $e CPU s = $(echo "scale=1; $e * 1000000 / $sent" | bc) us a message"
echo "  influxd $i CPU s = $(echo "scale=1; $i * 1000000 / $sent" | bc) us a message"
curl -sf "http://127.0.0.1:$eport/metrics" | awk '
  /^envmon_spool_fsync_duration_seconds_count/ {f = $2}
  /^envmon_store_write_batch_size_count/ {w = $2}
  /^envmon_store_write_batch_size_sum/ {s = $2}
  END {printf "  spool fsyncs %d; store writes %d of %.0f readings on average\n", f, w, (w ? s / w : 0)}'
kill -INT "$envmon_pid"; wait "$envmon_pid" || true
