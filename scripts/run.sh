#!/usr/bin/env bash
# Runs the console with the embedded default (SPEC §8): installs what is
# missing, starts PostgreSQL and the moto AWS emulator, provisions the demo
# resources, serves the console and prints the URL and the demo sign-ins.
# Ctrl-C stops everything it started.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT"
trap cleanup EXIT
trap 'exit 130' INT TERM

ensure_rust_tools
ensure_postgres
DATABASE_URL=${DATABASE_URL:-$(database_url gatehouse)}
export DATABASE_URL
ensure_audit_anchor
ensure_moto
ensure_ip_database
print_versions
start_moto "${MOTO_PORT:-5055}"

step "Building the console (cargo leptos build --split)"
cargo leptos build --split

export LEPTOS_SITE_ROOT=$ROOT/target/site
export LEPTOS_SITE_ADDR=${LEPTOS_SITE_ADDR:-127.0.0.1:3000}
step "Provisioning the demo resources"
demo_text=$("$TARGET_DIR/debug/gatehouse" demo)

"$TARGET_DIR/debug/gatehouse" serve &
STARTED_PIDS+=($!)
wait_http "http://$LEPTOS_SITE_ADDR/healthz" || die "the console did not come up"
printf '\n%s\n' "$demo_text"
printf '\nAWS emulator: %s   Database: %s\nPress Ctrl-C to stop.\n' "$AWS_ENDPOINT_URL" "$DATABASE_URL"
wait "${STARTED_PIDS[-1]}"
