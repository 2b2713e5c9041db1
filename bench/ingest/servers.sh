# Sourced by the ingest benchmarks: starts a real Mosquitto (nothing
# dropped: max_queued_messages 0) and a real InfluxDB 1.8.10 with database
# envmon on free ports in a temporary directory, and stops them on exit.
# Sets work, mport, hport, mosquitto_pid, influxd_pid; defines cpu and
# freeport. Needs mosquitto and influxd (make tools installs both).
#
# With BENCH_PIN=1 (run.sh's default on two or more CPUs) the machine is
# split: the load — the publisher and Mosquitto — runs on CPU 0
# ($load_cpus), and what is measured — envmon or the bare subscriber, with
# InfluxDB — on the others ($sut_cpus), as if the stations and the broker
# were other machines. $load and $sut prefix a command to pin it.
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
load=(); sut=(); load_cpus=""; sut_cpus=""
if [ "${BENCH_PIN:-0}" = 1 ] && [ "$(nproc)" -ge 2 ]; then
  load_cpus=0; sut_cpus=1-$(($(nproc) - 1))
  load=(taskset -c "$load_cpus"); sut=(taskset -c "$sut_cpus")
fi

cat > "$work/mosquitto.conf" <<CONF
listener $mport 127.0.0.1
allow_anonymous true
persistence false
max_inflight_messages 0
max_queued_messages 0
CONF
[ "$(id -u)" = 0 ] && echo "user root" >> "$work/mosquitto.conf"
"${load[@]}" "$MOSQUITTO" -c "$work/mosquitto.conf" > "$work/mosquitto.log" 2>&1 & pids+=($!)
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
"${sut[@]}" "$INFLUXD" run -config "$work/influxd.conf" > "$work/influxd.log" 2>&1 & pids+=($!)
influxd_pid=$!
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$hport/ping" >/dev/null && break; sleep 0.1; done
curl -sf -XPOST "http://127.0.0.1:$hport/query" --data-urlencode "q=CREATE DATABASE envmon" >/dev/null
