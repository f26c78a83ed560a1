#!/usr/bin/env bash
# The console under load: the release build serving the demo on loopback,
# signed in, each page hit by wrk (Debian's) at 1 connection and at 200,
# printing p50 / p99 latency, requests per second, failed responses, and
# the AWS calls the console made meanwhile (counted at its client,
# GET /api/v1/aws/calls) next to the requests it served.
#
#   bench/load.sh [SECONDS]      each run lasts SECONDS (default 10)
#
# The console logs at `warn` here: at `info` it writes a line per request,
# which at these rates is most of the work.
set -euo pipefail
source "$(dirname "$0")/../scripts/lib.sh"
trap cleanup EXIT
SECS=${1:-10}

ensure_postgres
ensure_moto
command -v wrk >/dev/null || apt_install wrk
step "Building gatehouse (release)"
cargo build --release -p gatehouse >&2
# The pages' HTML is what is measured; the bundle they load is not fetched.
serve_release_demo gatehouse_load "${LOAD_PORT:-3061}" "${MOTO_PORT:-5061}"

PAGES=(/ /traffic /rules /reviews "/reviews/$REVIEW" /audit /policies /api/v1/web-acls /healthz)

calls() {
  curl -sf -H "Cookie: $COOKIE" "$URL/api/v1/aws/calls" |
    python3 -c 'import json,sys; print(sum(json.load(sys.stdin).values()))'
}

# wrk's latency in milliseconds.
ms() {
  awk -v v="$1" 'BEGIN {
    n = v + 0; u = v; sub(/^[0-9.]+/, "", u)
    if (u == "us") n /= 1000; else if (u == "s") n *= 1000; else if (u == "m") n *= 60000
    printf "%.1f", n }'
}

# One wrk run: prints "p50 p99 req/s failed requests".
run() {
  local conns=$1 page=$2 threads=2 out
  [ "$conns" -gt 1 ] || threads=1
  out=$(wrk -t"$threads" -c"$conns" -d"${SECS}s" --latency --timeout 30s \
    -H "Cookie: $COOKIE" "$URL$page")
  local p50 p99 rps total failed socket
  p50=$(awk '$1 == "50%" { print $2 }' <<<"$out")
  p99=$(awk '$1 == "99%" { print $2 }' <<<"$out")
  rps=$(awk '/^Requests\/sec:/ { printf "%.0f", $2 }' <<<"$out")
  total=$(awk '/requests in/ { print $1 }' <<<"$out")
  failed=$(awk '/Non-2xx or 3xx responses:/ { print $5 }' <<<"$out")
  socket=$(awk '/Socket errors:/ { gsub(",", ""); print $4 + $6 + $8 + $10 }' <<<"$out")
  failed=$((${failed:-0} + ${socket:-0}))
  echo "$(ms "$p50") $(ms "$p99") $rps ${failed} $total"
}

step "Load: ${SECS}s per run, pages answered for the signed-in demo admin"
printf '%-22s %10s | %10s %10s %9s | %7s %9s %9s\n' page "1 conn p50" "200 p50" "200 p99" "req/s" failed requests "AWS calls"
for page in "${PAGES[@]}"; do
  status=$(curl -s -o /dev/null -w '%{http_code}' -H "Cookie: $COOKIE" "$URL$page")
  [ "$status" = 200 ] || die "$page answers $status, not 200"
  before=$(calls)
  read -r one_p50 _ _ one_failed one_total < <(run 1 "$page")
  read -r p50 p99 rps failed total < <(run 200 "$page")
  after=$(calls)
  label=$page
  [ "$page" = "/reviews/$REVIEW" ] && label=/reviews/{id}
  printf '%-22s %8s ms | %7s ms %7s ms %9s | %7s %9s %9s\n' "$label" "$one_p50" "$p50" "$p99" "$rps" \
    "$((one_failed + failed))" "$((one_total + total))" "$((after - before))"
done
echo "AWS calls: made by the console during each page's two runs ($((2 * SECS)) s), whatever the number of views."
