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
. bench/ingest/servers.sh
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
