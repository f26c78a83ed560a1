#!/usr/bin/env bash
# Peak memory of `gatehouse logs import` over a large amount of logs: SCALE
# 20 generates about 5 M records, about 5 GB of JSON once decompressed.
# Prints the records, the bytes read and the import's peak resident memory.
#
#   bench/memory.sh [SCALE]
set -euo pipefail
source "$(dirname "$0")/../scripts/lib.sh"
trap cleanup EXIT
SCALE=${1:-20}

bench_prepare "$SCALE"
DATA=$BENCH_DATA
export DATABASE_URL
DATABASE_URL=$(database_url gatehouse_bench_memory fresh)
"$TARGET_DIR/release/gatehouse" migrate >&2
bytes=$(find "$DATA" -name '*.gz' -exec cat {} + | gzip -dc | wc -c)
step "Importing $(du -sh "$DATA" | cut -f1) of gzip files, $((bytes / 1000000)) MB of JSON lines"
env -u GATEHOUSE_CONFIG RUST_LOG=error /usr/bin/time -f '%M %e' -o "$GATEHOUSE_HOME/memory-bench.time" \
  "$TARGET_DIR/release/gatehouse" logs import --json "$DATA" >"$GATEHOUSE_HOME/memory-bench.json"
read -r peak_kb seconds <"$GATEHOUSE_HOME/memory-bench.time"
records=$(sed -E 's/.*"records":([0-9]+).*/\1/' "$GATEHOUSE_HOME/memory-bench.json")
echo "$records records, $((bytes / 1000000)) MB of JSON lines imported in ${seconds}s; peak memory $((peak_kb / 1024)) MB"
