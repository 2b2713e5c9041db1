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
# On two or more CPUs the load (publisher and Mosquitto) gets CPU 0 and
# what is measured (envmon or the bare subscriber, with InfluxDB) the others;
# BENCH_PIN=0 lets every process run anywhere (see servers.sh).
#
# Needs mosquitto and influxd (make tools installs both).
set -euo pipefail
cd "$(dirname "$0")/../.."
export BENCH_PIN=${BENCH_PIN:-1}
N=${1:-200000}
QOS=${2:-"1 0"}
FORMATS=${3:-"json senml"}
. bench/ingest/servers.sh
go build -o "$work/envmon" ./cmd/envmon
go build -o "$work/bench" ./bench/ingest
# Telegraf, when there: `make bench-tools` builds it (Debian does not ship it).
telegraf=${ENVMON_TELEGRAF:-$HOME/.cache/envmon/tools/telegraf}
[ -x "$telegraf" ] || { echo "(no Telegraf at $telegraf: its columns stay empty; make bench-tools builds it)" >&2; telegraf=""; }

echo "machine: $(nproc) cores${load_cpus:+ (load on CPU $load_cpus, envmon or the bare subscriber and InfluxDB on CPU $sut_cpus)}, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(go version | cut -d' ' -f3), $(date -u +%F)"
echo
echo "| QoS | format | envmon stored (fewest in a round) | bare subscriber alone (msg/s) | envmon alone (readings/s) | ratio to bare alone (per round) | p50 | p90 | p99 | same messages: bare subscriber (msg/s) | envmon (readings/s) | ratio, same messages | Telegraf alone (readings/s) | envmon / Telegraf (per round) |"
echo "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"
for qos in $QOS; do
  for format in $FORMATS; do
    i0=$(cpu "$influxd_pid"); m0=$(cpu "$mosquitto_pid")
    "${load[@]}" "$work/bench" --sut-cpus "$sut_cpus" ${telegraf:+--telegraf "$telegraf"} --broker "tcp://127.0.0.1:$mport" --influx-url "http://127.0.0.1:$hport" \
      --envmon "$work/envmon" --messages "$N" --qos "$qos" --format "$format" \
      --influxd-pid "$influxd_pid" --mosquitto-pid "$mosquitto_pid" ${BENCH_FLAGS:-}
    echo "    (CPU seconds in this row: influxd $(echo "$(cpu "$influxd_pid") - $i0" | bc), mosquitto $(echo "$(cpu "$mosquitto_pid") - $m0" | bc))" >&2
  done
done
