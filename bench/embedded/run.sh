#!/usr/bin/env bash
# Embedded-broker benchmark: envmon serve on the embedded defaults (its own
# MQTT broker, SQLite) against the external path (Mosquitto, then envmon
# subscribing to it, with the same SQLite store), on the same machine in
# one run. For each, `envmon sim --load` publishes QoS 1 readings of 1,000
# stations over 4 connections and over 1,000 (one per station) as fast as
# the broker acknowledges them; the script reports the acknowledged rate
# and the rate at which every reading reached the store (it waits until
# envmon's readings counter has them all). docs/BENCHMARKS.md.
#
#   bench/embedded/run.sh [seconds-per-run [rounds]]   (defaults: 20, 3)
#
# Needs mosquitto (make tools installs it).
set -euo pipefail
cd "$(dirname "$0")/../.."
SECS=${1:-20}
ROUNDS=${2:-3}
MOSQUITTO=$(command -v mosquitto || echo /usr/sbin/mosquitto)
work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
freeport() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }
go build -o "$work/envmon" ./cmd/envmon

# readings prints envmon's stored readings so far.
readings() { curl -sf "http://127.0.0.1:$1/metrics" | awk '/^envmon_ingest_readings_total/ {s += $2} END {printf "%d", s}'; }

# run MODE CONNS: one measurement; prints "acked/s stored/s".
run() {
  local mode=$1 conns=$2 hport bport data broker_pid=""
  hport=$(freeport); bport=$(freeport); data="$work/data-$mode-$conns-$RANDOM"
  local args=(serve --data-dir "$data" --http-addr "127.0.0.1:$hport" --log-level warn)
  if [ "$mode" = embedded ]; then
    args+=(--mqtt-addr "127.0.0.1:$bport" --mqtt-open-registration)
  else
    cat > "$work/mosquitto.conf" <<CONF
listener $bport 127.0.0.1
allow_anonymous true
persistence false
max_inflight_messages 1000
max_queued_messages 0
max_connections -1
CONF
    [ "$(id -u)" = 0 ] && echo "user root" >> "$work/mosquitto.conf"
    "$MOSQUITTO" -c "$work/mosquitto.conf" > "$work/mosquitto.log" 2>&1 & broker_pid=$!
    pids+=($broker_pid)
    for _ in $(seq 50); do (echo > /dev/tcp/127.0.0.1/$bport) 2>/dev/null && break; sleep 0.1; done
    args+=(--mqtt-broker "tcp://127.0.0.1:$bport" --mqtt-client-id "envmon-bench-$RANDOM")
  fi
  "$work/envmon" "${args[@]}" > "$work/envmon-$mode.log" 2>&1 & local envmon_pid=$!
  pids+=($envmon_pid)
  for _ in $(seq 100); do curl -sf "http://127.0.0.1:$hport/readyz" >/dev/null && break; sleep 0.1; done
  local t0 out acked t1
  t0=$(date +%s.%N)
  out=$("$work/envmon" sim --load --broker "tcp://127.0.0.1:$bport" --stations 1000 --connections "$conns" \
    --rate 200000 --duration "${SECS}s" --qos 1 --max-inflight 256 --client-id-prefix "bench-$RANDOM-" 2>&1 || true)
  acked=$(echo "$out" | awk '/^messages / {print $2}')
  local ackrate; ackrate=$(echo "$out" | awk '/^messages / {sub("/s", "", $5); print $5}')
  if [ -z "$acked" ]; then echo "sim failed: $out" >&2; acked=0; ackrate=0; fi
  for _ in $(seq 600); do [ "$(readings "$hport")" -ge "$acked" ] && break; sleep 0.1; done
  t1=$(date +%s.%N)
  local stored; stored=$(readings "$hport")
  kill "$envmon_pid" 2>/dev/null; wait "$envmon_pid" 2>/dev/null || true
  [ -n "$broker_pid" ] && { kill "$broker_pid" 2>/dev/null; wait "$broker_pid" 2>/dev/null || true; }
  awk -v ar="$ackrate" -v a="$acked" -v s="$stored" -v t0="$t0" -v t1="$t1" 'BEGIN {printf "%.0f %.0f %d %d\n", ar, s/(t1-t0), a, s}'
}

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(go version | cut -d' ' -f3), $(date -u +%F)"
echo
echo "| connections | round | embedded: acknowledged/s | embedded: stored/s | external (Mosquitto): acknowledged/s | external: stored/s | stored ratio embedded/external |"
echo "|---|---|---|---|---|---|---|"
for conns in 4 1000; do
  for r in $(seq "$ROUNDS"); do
    read -r ea es en esn < <(run embedded "$conns")
    read -r xa xs xn xsn < <(run external "$conns")
    [ "$esn" -ge "$en" ] || echo "embedded stored $esn of $en acknowledged!" >&2
    [ "$xsn" -ge "$xn" ] || echo "external stored $xsn of $xn acknowledged!" >&2
    awk -v c="$conns" -v r="$r" -v ea="$ea" -v es="$es" -v xa="$xa" -v xs="$xs" 'BEGIN {printf "| %d | %d | %d | %d | %d | %d | %.2f |\n", c, r, ea, es, xa, xs, es/xs}'
  done
done
