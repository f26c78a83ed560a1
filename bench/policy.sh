#!/usr/bin/env bash
# The policy evaluator next to iam-rs on the same policies and requests, one
# core each, and the decision matrix at 50 groups × 200 endpoints; release
# build. Prints the figures and the ratios.
set -euo pipefail
source "$(dirname "$0")/../scripts/lib.sh"
cd "$ROOT"
cargo run --release -q -p policy-bench
