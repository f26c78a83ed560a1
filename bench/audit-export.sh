#!/usr/bin/env bash
# The audit export's memory: the release build serving a trail of EVENTS
# audit events (default 1 M), exported whole as CSV by a signed-in viewer;
# prints the console's peak resident memory before the export and after
# it, next to the size of the file it sent.
#
#   bench/audit-export.sh [EVENTS]
set -euo pipefail
source "$(dirname "$0")/../scripts/lib.sh"
trap cleanup EXIT
EVENTS=${1:-1000000}

ensure_postgres
ensure_moto
step "Building gatehouse (release)"
cargo build --release -p gatehouse >&2
BIN=$TARGET_DIR/release/gatehouse
export DATABASE_URL
DATABASE_URL=$(database_url gatehouse_export fresh)
start_moto "${MOTO_PORT:-5062}"
export LEPTOS_SITE_ADDR=127.0.0.1:${EXPORT_PORT:-3062} LEPTOS_SITE_ROOT=$ROOT/target/site
URL=http://$LEPTOS_SITE_ADDR
"$BIN" demo >/dev/null
step "Writing $EVENTS audit events"
# Hashes that make no chain: the export does not read them.
psql -q "$DATABASE_URL" -c "
  INSERT INTO audit_events (occurred_at, actor_username, action, target, after, client_ip,
                            user_agent, prev_hash, hash)
  SELECT now() - g * interval '1 second', 'user' || (g % 50), 'auth.sign_in', 'session/' || g,
         '{\"groups\":[\"gatehouse-viewers\"],\"n\":' || g || '}', '192.0.2.' || (g % 250),
         'Mozilla/5.0 (bench)', md5(g::text) || md5((g + 1)::text), md5((g + 1)::text) || md5(g::text)
    FROM generate_series(1, $EVENTS) AS g"
RUST_LOG=warn "$BIN" serve &
server=$!
STARTED_PIDS+=("$server")
wait_http "$URL/healthz" || die "the console did not come up"
COOKIE=$(demo_cookie "$URL" viewer)
peak() { awk '/^VmHWM:/ { printf "%d", $2 / 1024 }' "/proc/$server/status"; }
before=$(peak)
step "Exporting"
read -r bytes seconds < <(curl -sf -o /dev/null -w '%{size_download} %{time_total}\n' -H "Cookie: $COOKIE" "$URL/audit/export.csv")
after=$(peak)
rows=$(psql -tA "$DATABASE_URL" -c "SELECT count(*) FROM audit_events")
echo "$rows events exported as $((bytes / 1000000)) MB of CSV in ${seconds}s; the console's peak memory: ${before} MB before, ${after} MB after"
