#!/usr/bin/env bash
# The bundle a first visit downloads, page by page: the release site built
# as a deployment builds it (`cargo leptos build --release --split
# --precompress`, wasm-opt 116), served with the demo, each page opened in
# Debian's Chromium with an empty cache (bench/bundle.mjs). Prints each
# page's files and gzipped bytes beside the whole bundle, and the ratio.
#
#   bench/bundle.sh
set -euo pipefail
source "$(dirname "$0")/../scripts/lib.sh"
trap cleanup EXIT

ensure_rust_tools
ensure_postgres
ensure_moto
ensure_chromium
ensure_end2end_deps
ensure_wasm_opt
step "Building the release site (cargo leptos build --release --split --precompress)"
(cd "$ROOT" && cargo leptos build --release --split --precompress >&2)
serve_release_demo gatehouse_bundle "${BUNDLE_PORT:-3063}" "${MOTO_PORT:-5063}"

step "Opening each page with an empty cache"
node "$ROOT/bench/bundle.mjs" "$URL" "$LEPTOS_SITE_ROOT/pkg" \
  /sign-in / /traffic /rules /policies /vpn-countries /reviews "/reviews/$REVIEW" /audit /settings
