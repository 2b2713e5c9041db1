#!/usr/bin/env bash
# Load /api/v1/aqi (N stations) and /api/v1/stations/{id}/latest with wrk at
# 64 connections, with and without gzip and ETag revalidation; print
# requests/s and latency percentiles, and the server's RSS.
#
#   bench/api/run.sh [stations=1000] [duration=10s]
set -euo pipefail
cd "$(dirname "$0")/../.."
N=${1:-1000}
DUR=${2:-10s}
ADDR=127.0.0.1:${PORT:-18080}
command -v wrk >/dev/null || apt-get install -y wrk
go build -o /tmp/envmon-bench-api ./bench/api
/tmp/envmon-bench-api -stations "$N" -addr "$ADDR" &
PID=$!
trap 'kill $PID 2>/dev/null || true' EXIT
for _ in $(seq 1 600); do curl -sf "http://$ADDR/api/v1/aqi" -o /dev/null && break; sleep 0.2; done
SIZE=$(curl -s "http://$ADDR/api/v1/aqi" | wc -c)
GZSIZE=$(curl -s -H 'Accept-Encoding: gzip' "http://$ADDR/api/v1/aqi" | wc -c)
ETAG=$(curl -sI "http://$ADDR/api/v1/aqi" | tr -d '\r' | awk -F': ' 'tolower($1)=="etag"{print $2}')
GZETAG=$(curl -sI -H 'Accept-Encoding: gzip' "http://$ADDR/api/v1/aqi" | tr -d '\r' | awk -F': ' 'tolower($1)=="etag"{print $2}')
echo "stations=$N body=${SIZE}B gzip=${GZSIZE}B"
bench() {
	local name=$1; shift
	local out
	out=$(wrk -t2 -c64 -d"$DUR" --latency "$@")
	local rps p50 p90 p99
	rps=$(awk '/Requests\/sec/{print $2}' <<<"$out")
	p50=$(awk '$1=="50%"{print $2}' <<<"$out")
	p90=$(awk '$1=="90%"{print $2}' <<<"$out")
	p99=$(awk '$1=="99%"{print $2}' <<<"$out")
	printf '%-34s %10s req/s  p50 %-8s p90 %-8s p99 %s\n' "$name" "$rps" "$p50" "$p90" "$p99"
}
bench "aqi identity" "http://$ADDR/api/v1/aqi"
bench "aqi gzip" -H 'Accept-Encoding: gzip' "http://$ADDR/api/v1/aqi"
bench "aqi If-None-Match (304)" -H "If-None-Match: $ETAG" "http://$ADDR/api/v1/aqi"
bench "aqi gzip If-None-Match (304)" -H 'Accept-Encoding: gzip' -H "If-None-Match: $GZETAG" "http://$ADDR/api/v1/aqi"
bench "stations/{id}/latest" "http://$ADDR/api/v1/stations/st-0001/latest"
bench "stations/{id}/latest gzip" -H 'Accept-Encoding: gzip' "http://$ADDR/api/v1/stations/st-0001/latest"
echo "server RSS: $(awk '/VmRSS/{print $2, $3}' /proc/$PID/status)"
