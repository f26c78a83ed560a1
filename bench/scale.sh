#!/usr/bin/env bash
# The imported engine's reach on this machine, for the README's "which log
# source" figures: for each SCALE (4 ≈ 1 M records a day, 40 ≈ 10 M), a
# generated day imported into a fresh database — records per second,
# PostgreSQL bytes per million records, gzip bytes per record (what Athena
# would scan) — and the median of three runs of `traffic top` and
# `traffic recommend` over the day.
#
#   bench/scale.sh [SCALE...]      default: 4 40
set -euo pipefail
source "$(dirname "$0")/../scripts/lib.sh"
trap cleanup EXIT
SCALES=("${@:-4}")
[ $# -gt 0 ] || SCALES=(4 40)
DAY=(--from 2026-11-22T00:00:00Z --to 2026-11-23T00:00:00Z)
export RUST_LOG=error

# Seconds of the median of three runs of gatehouse with the arguments.
median_of_three() {
  local runs=()
  for _ in 1 2 3; do
    local start=$EPOCHREALTIME
    env -u GATEHOUSE_CONFIG "$TARGET_DIR/release/gatehouse" "$@" >/dev/null
    runs+=("$(echo "$EPOCHREALTIME - $start" | bc)")
  done
  printf '%s\n' "${runs[@]}" | sort -n | sed -n 2p
}

rows=()
for scale in "${SCALES[@]}"; do
  bench_prepare "$scale"
  export DATABASE_URL
  DATABASE_URL=$(database_url "gatehouse_scale_$scale" fresh)
  "$TARGET_DIR/release/gatehouse" migrate >&2
  size() { psql -qtA "$DATABASE_URL" -c 'SELECT pg_database_size(current_database())'; }
  before=$(size)
  step "Importing scale $scale ($(du -sh "$BENCH_DATA" | cut -f1) of gzip files)"
  env -u GATEHOUSE_CONFIG /usr/bin/time -f '%e %M' -o "$GATEHOUSE_HOME/scale.time" \
    "$TARGET_DIR/release/gatehouse" logs import --json "$BENCH_DATA" >"$GATEHOUSE_HOME/scale.json"
  read -r seconds peak_kb <"$GATEHOUSE_HOME/scale.time"
  records=$(sed -E 's/.*"records":([0-9]+).*/\1/' "$GATEHOUSE_HOME/scale.json")
  psql -qtA "$DATABASE_URL" -c 'VACUUM ANALYZE' >/dev/null
  after=$(size)
  gz=$(find "$BENCH_DATA" -name '*.gz' -printf '%s\n' | awk '{s += $1} END {print s}')
  step "Analysing scale $scale"
  top=$(median_of_three traffic top "${DAY[@]}" --window 300 --format json)
  sliding=$(median_of_three traffic top "${DAY[@]}" --window 60 --sliding --format json)
  recommend=$(median_of_three traffic recommend "${DAY[@]}" --window 300 --format json)
  rows+=("$(awk -v r="$records" -v s="$seconds" -v b="$((after - before))" -v g="$gz" -v m="$peak_kb" \
    -v t="$top" -v l="$sliding" -v c="$recommend" 'BEGIN {
      printf "| %.1f M | %.1f s | %.0f k/s | %.0f MB | %.0f MB | %.0f B | %.3f s | %.3f s | %.3f s |",
        r / 1e6, s, r / s / 1e3, m / 1024, b / (r / 1e6) / 1e6, g / r, t, l, c }')")
done

echo
echo "| records (a day) | import | records/s | import peak | PostgreSQL per M records | gzip per record | top 300 s | top 60 s sliding | recommend |"
echo "|---|---|---|---|---|---|---|---|---|"
printf '%s\n' "${rows[@]}"
