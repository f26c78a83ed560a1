#!/usr/bin/env bash
# Gatehouse against DuckDB on the same generated WAF logs, in the same run:
# the import, and each analysis next to DuckDB answering the equivalent SQL
# over the raw files, both with 2 threads; prints the ratios.
#
#   bench/run.sh [SCALE]     SCALE 4 ≈ 1 M records (the default)
set -euo pipefail
source "$(dirname "$0")/../scripts/lib.sh"
trap cleanup EXIT
SCALE=${1:-4}

bench_prepare "$SCALE"
DATA=$BENCH_DATA
# DuckDB at the version the Athena SQL check pins (scripts/pins/sql-check.txt).
ensure_sql_check
export DATABASE_URL
DATABASE_URL=$(database_url gatehouse_bench fresh)
"$TARGET_DIR/release/gatehouse" migrate >&2
step "Running"
"$SQL_CHECK_PYTHON" "$ROOT/bench/bench.py" "$TARGET_DIR/release/gatehouse" "$DATA"
