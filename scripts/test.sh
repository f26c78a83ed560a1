#!/usr/bin/env bash
# The whole test suite, as CI runs it: formatting, clippy for the server
# (ssr) and browser (hydrate) builds, the .sqlx/ query data, every Rust test
# (unit, and integration tests against real PostgreSQL and a moto server),
# and the end2end suite in Debian's Chromium against the built console.
# Installs what is missing first, and stops what it started.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT"
trap cleanup EXIT
trap 'exit 130' INT TERM

MOTO_TEST_PORT=${MOTO_TEST_PORT:-5056}
E2E_ADDR=${E2E_ADDR:-127.0.0.1:3100}
LOGS=$GATEHOUSE_HOME/test-logs
mkdir -p "$LOGS"
started=$SECONDS

ensure_rust_tools
ensure_nextest
ensure_sqlx_cli
ensure_postgres
ensure_moto
ensure_sql_check
ensure_chromium
ensure_end2end_deps
ensure_ip_database
print_versions

step "cargo fmt --check"
cargo fmt --all -- --check

DATABASE_URL=$(database_url gatehouse_test fresh)
export DATABASE_URL
step "Migrations, and the .sqlx/ query data against them"
cargo sqlx migrate run --source migrations
cargo sqlx prepare --workspace --check

step "clippy, server build (ssr)"
cargo clippy -p gatehouse -p app --all-targets -- -D warnings
step "clippy, browser build (hydrate)"
cargo clippy -p frontend -p app --target wasm32-unknown-unknown -- -D warnings

start_moto "$MOTO_TEST_PORT"
# The forged-token tests sign with moto's own key, through its Python.
export MOTO_PYTHON=$GATEHOUSE_HOME/venv/bin/python
step "Rust tests (unit; integration against PostgreSQL and moto)"
# nextest runs each test in a process of its own and stops one that hangs
# (.config/nextest.toml).
cargo nextest run -p app -p gatehouse 2>&1 | tee "$LOGS/cargo-test.log"

step "Building the console (cargo leptos build --split)"
cargo leptos build --split

step "end2end in Chromium"
curl -sf -X POST "$AWS_ENDPOINT_URL/moto-api/reset" >/dev/null
e2e_db=$(database_url gatehouse_e2e fresh)
export LEPTOS_SITE_ROOT=$ROOT/target/site
DATABASE_URL=$e2e_db LEPTOS_SITE_ADDR=$E2E_ADDR "$TARGET_DIR/debug/gatehouse" demo >/dev/null
DATABASE_URL=$e2e_db LEPTOS_SITE_ADDR=$E2E_ADDR "$TARGET_DIR/debug/gatehouse" serve >"$LOGS/e2e-server.log" 2>&1 &
STARTED_PIDS+=($!)
wait_http "http://$E2E_ADDR/healthz" || die "the console did not come up; see $LOGS/e2e-server.log"
(cd end2end && GATEHOUSE_URL=http://$E2E_ADDR CONSOLE_BIN="$TARGET_DIR/debug/gatehouse" DATABASE_URL=$e2e_db PLAYWRIGHT_JSON_OUTPUT_NAME="$LOGS/e2e.json" \
  npx playwright test --reporter=list,json)
step "The audit chain the browser tests wrote"
DATABASE_URL=$e2e_db "$TARGET_DIR/debug/gatehouse" audit verify

# One closing line for the whole suite.
rust=$(sed -n 's/.* tests run: \([0-9]*\) passed\(, \([0-9]*\) failed\)\?.*/\1 \3/p' "$LOGS/cargo-test.log" | tail -n 1)
rust=${rust:-0 0}
e2e=$(node -e 'const s = require(process.argv[1]).stats; console.log(s.expected, s.unexpected + s.flaky)' "$LOGS/e2e.json")
read -r rust_passed rust_failed <<<"$rust"
read -r e2e_passed e2e_failed <<<"$e2e"
printf '\nSuite finished in %d s.\nsuite: %d passed, %d failed\n' "$((SECONDS - started))" \
  "$((rust_passed + e2e_passed))" "$((rust_failed + e2e_failed))"
