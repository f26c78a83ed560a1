# Shared by scripts/run.sh and scripts/test.sh: installs what is missing and
# starts the local services (PostgreSQL, the moto AWS emulator). Sourced, not
# run. Every tool is pinned to one version known to work; each install step
# checks the installed version first, so a warm machine skips it, and one
# that installed another version earlier gets the pinned one.

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
GATEHOUSE_HOME=${GATEHOUSE_HOME:-$HOME/.local/share/gatehouse}
# cargo-leptos 0.3.11 needs a newer rustc than this workspace's.
CARGO_LEPTOS_VERSION=0.3.10
SQLX_CLI_VERSION=0.8.6
NEXTEST_VERSION=0.9.143
# For release builds (bench/bundle.sh): the crate 0.116.1 builds binaryen 116;
# Debian's binaryen 108 emits WASM that fails to hydrate.
WASM_OPT_VERSION=0.116.1
# Python packages, every one pinned with its dependencies (scripts/pins/).
MOTO_PINS=$ROOT/scripts/pins/moto.txt
SQL_CHECK_PINS=$ROOT/scripts/pins/sql-check.txt
# The IP-to-country database of "Test an IP" (CC BY 4.0, NRO), from npm.
IP_DB_PACKAGE=@ip-location-db/geo-whois-asn-country-mmdb
IP_DB_VERSION=2.3.2026061719
TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
export LEPTOS_OUTPUT_NAME=gatehouse  # as cargo-leptos sets it, so plain cargo builds reuse its artifacts
export PATH="$HOME/.cargo/bin:$PATH"
mkdir -p "$GATEHOUSE_HOME"

STARTED_PIDS=()
STOP_CLUSTER=()

step() { printf '\n\033[1m==> %s\033[0m\n' "$*" >&2; }
die() { printf '\033[31merror:\033[0m %s\n' "$*" >&2; exit 1; }

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
    die "need root to run: $*"
  fi
}

apt_install() {
  step "Installing $* (apt)"
  if [ ! -f "$GATEHOUSE_HOME/.apt-updated" ]; then
    as_root apt-get update -q >&2 && touch "$GATEHOUSE_HOME/.apt-updated"
  fi
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -q "$@" >&2
}

# The wasm32 target, cargo-leptos, and the wasm-bindgen CLI matching Cargo.lock.
# Every `cargo install` builds in a folder of its own (not CARGO_TARGET_DIR,
# which CI keeps between runs): what a tool's install reuses would stand in
# for installing it.
ensure_rust_tools() {
  command -v cargo >/dev/null || die "cargo not found: install Rust with rustup (https://rustup.rs) first"
  if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
    step "Adding the wasm32-unknown-unknown target"
    rustup target add wasm32-unknown-unknown
  fi
  if ! cargo leptos --version 2>/dev/null | grep -q " $CARGO_LEPTOS_VERSION"; then
    step "Installing cargo-leptos $CARGO_LEPTOS_VERSION (about 15 minutes, once)"
    env -u CARGO_TARGET_DIR cargo install cargo-leptos --version "$CARGO_LEPTOS_VERSION" --locked
  fi
  local wbg
  wbg=$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/version = |"/, ""); print; exit }' "$ROOT/Cargo.lock")
  if ! wasm-bindgen --version 2>/dev/null | grep -q " $wbg"; then
    step "Installing wasm-bindgen-cli $wbg (about 2 minutes, once)"
    # Not --locked: the lockfile published with 0.2.130 names webpki-roots
    # 1.0.11, which the registry does not serve; the tool's own version is
    # pinned (to the wasm-bindgen in Cargo.lock, as it must be).
    env -u CARGO_TARGET_DIR cargo install wasm-bindgen-cli --version "$wbg"
  fi
}

ensure_nextest() {
  if ! cargo nextest --version 2>/dev/null | grep -q "^cargo-nextest $NEXTEST_VERSION "; then
    step "Installing cargo-nextest $NEXTEST_VERSION (a few minutes, once)"
    env -u CARGO_TARGET_DIR cargo install cargo-nextest --version "$NEXTEST_VERSION" --locked
  fi
}

ensure_wasm_opt() {
  if ! wasm-opt --version 2>/dev/null | grep -q "version 116"; then
    step "Installing wasm-opt $WASM_OPT_VERSION (binaryen 116, about 10 minutes, once)"
    env -u CARGO_TARGET_DIR cargo install wasm-opt --version "$WASM_OPT_VERSION" --locked
  fi
}

ensure_sqlx_cli() {
  if ! cargo sqlx --version 2>/dev/null | grep -q " $SQLX_CLI_VERSION"; then
    step "Installing sqlx-cli $SQLX_CLI_VERSION (a few minutes, once)"
    env -u CARGO_TARGET_DIR cargo install sqlx-cli --version "$SQLX_CLI_VERSION" --no-default-features --features postgres,rustls --locked
  fi
}

pg_ready() { pg_isready -q -h 127.0.0.1 -p "$1" -t 2 2>/dev/null; }

wait_pg() {
  local port=$1
  for _ in $(seq 1 30); do pg_ready "$port" && return 0; sleep 1; done
  return 1
}

# Sets PG_ADMIN_URL to a PostgreSQL server this machine can use: the one in
# DATABASE_URL when given; else 127.0.0.1:5432 (started if it is the local
# cluster and stopped); else a private cluster under $GATEHOUSE_HOME.
ensure_postgres() {
  if [ -n "${DATABASE_URL:-}" ]; then
    PG_ADMIN_URL=${DATABASE_URL%/*}/postgres
    return
  fi
  command -v pg_isready >/dev/null || apt_install postgresql
  if ! pg_ready 5432 && command -v pg_ctlcluster >/dev/null && [ -d /etc/postgresql ]; then
    local version
    version=$(ls /etc/postgresql | sort -V | tail -n 1)
    if [ -n "$version" ] && [ -d "/etc/postgresql/$version/main" ]; then
      step "Starting the local PostgreSQL cluster $version/main"
      as_root pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
      wait_pg 5432 && STOP_CLUSTER=("$version" main)
    fi
  fi
  if pg_ready 5432; then
    PG_ADMIN_URL=postgres://postgres@127.0.0.1:5432/postgres
    return
  fi
  start_private_postgres
}

start_private_postgres() {
  local bin data port=${GATEHOUSE_PG_PORT:-5439}
  bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
  [ -n "$bin" ] || { apt_install postgresql; bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1); }
  data=$GATEHOUSE_HOME/pgdata
  local run=()
  if [ "$(id -u)" = 0 ]; then run=(runuser -u postgres --); mkdir -p "$data"; chown postgres "$data"; fi
  if [ ! -f "$data/PG_VERSION" ]; then
    step "Creating a private PostgreSQL cluster in $data"
    "${run[@]}" "$bin/initdb" -D "$data" -U postgres --auth=trust >/dev/null
  fi
  step "Starting the private PostgreSQL cluster on port $port"
  "${run[@]}" "$bin/pg_ctl" -D "$data" -l "$data/server.log" -w \
    -o "-p $port -k /tmp -c listen_addresses=127.0.0.1" start >/dev/null
  STOP_PRIVATE_PG=("${run[@]}" "$bin/pg_ctl" -D "$data" -m fast stop)
  PG_ADMIN_URL=postgres://postgres@127.0.0.1:$port/postgres
}

# Creates database $1 on the server of PG_ADMIN_URL unless it exists; with
# "fresh" as $2, drops it first. Prints its URL.
database_url() {
  local name=$1 fresh=${2:-}
  if [ "$fresh" = fresh ]; then
    psql -q "$PG_ADMIN_URL" -c "DROP DATABASE IF EXISTS \"$name\" WITH (FORCE)" >&2
  fi
  if ! psql -tA "$PG_ADMIN_URL" -c "SELECT 1 FROM pg_database WHERE datname = '$name'" | grep -q 1; then
    psql -q "$PG_ADMIN_URL" -c "CREATE DATABASE \"$name\"" >&2
  fi
  echo "${PG_ADMIN_URL%/*}/$name"
}

# Installs the pinned packages of requirement file $2 ($1 names them) into
# the virtualenv under $GATEHOUSE_HOME, replacing any other version there.
ensure_pins() {
  local what=$1 pins=$2 venv=$GATEHOUSE_HOME/venv wrong
  if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv" 2>/dev/null || { apt_install python3-venv; python3 -m venv "$venv"; }
  fi
  if ! wrong=$("$venv/bin/python" "$ROOT/scripts/pins/check.py" "$pins"); then
    step "Installing $what into $venv at the pinned versions (${pins#"$ROOT"/})"
    # What is replaced, as opposed to installed anew.
    grep -v ' missing ' <<<"$wrong" | sed 's/^/    replacing /' >&2 || true
    "$venv/bin/pip" install -q --disable-pip-version-check --no-deps -r "$pins" >&2
    "$venv/bin/python" "$ROOT/scripts/pins/check.py" "$pins" >&2 || die "$what: not at the pinned versions after installing"
  fi
}

ensure_moto() {
  ensure_pins "the moto AWS emulator" "$MOTO_PINS"
  MOTO_SERVER=$GATEHOUSE_HOME/venv/bin/moto_server
}

# sqlglot and DuckDB in the emulator's virtualenv, for the test suite's
# check that Athena SQL means what the imported engine computes.
ensure_sql_check() {
  ensure_moto
  ensure_pins "sqlglot and DuckDB (the Athena SQL check)" "$SQL_CHECK_PINS"
  SQL_CHECK_PYTHON=$GATEHOUSE_HOME/venv/bin/python
  export SQL_CHECK_PYTHON
}

# Prints, one line each, the versions of the tools this run uses (whatever
# of them is installed), so that a log says what a run ran with.
print_versions() {
  local venv=$GATEHOUSE_HOME/venv
  step "Versions in use"
  {
    printf '  %-15s %s\n' rustc "$(rustc --version 2>/dev/null)"
    printf '  %-15s %s\n' cargo-leptos "$(cargo leptos --version 2>/dev/null)"
    printf '  %-15s %s\n' wasm-bindgen "$(wasm-bindgen --version 2>/dev/null)"
    command -v cargo-nextest >/dev/null && printf '  %-15s %s\n' nextest "$(cargo nextest --version 2>/dev/null | head -n 1)"
    command -v sqlx >/dev/null && printf '  %-15s %s\n' sqlx-cli "$(cargo sqlx --version 2>/dev/null)"
    printf '  %-15s %s\n' PostgreSQL "$(psql -tAX "$PG_ADMIN_URL" -c 'SHOW server_version' 2>/dev/null)"
    printf '  %-15s %s\n' python "$("$venv/bin/python" --version 2>&1)"
    printf '  %-15s %s\n' "python pkgs" "$("$venv/bin/python" -c '
import importlib.metadata as m
names = ["moto", "boto3", "botocore", "sqlglot", "duckdb", "numpy"]
found = []
for n in names:
    try:
        found.append(n + " " + m.version(n))
    except m.PackageNotFoundError:
        pass
print(", ".join(found))' 2>/dev/null)"
    [ -n "${GATEHOUSE_IP_COUNTRY_DB:-}" ] && printf '  %-15s %s\n' "IP database" "$IP_DB_PACKAGE@$IP_DB_VERSION"
    if [ -f "$ROOT/end2end/node_modules/@playwright/test/package.json" ]; then
      printf '  %-15s %s\n' node "$(node --version) (npm $(npm --version))"
      printf '  %-15s %s\n' playwright "$(node -p 'require(process.argv[1]).version' "$ROOT/end2end/node_modules/@playwright/test/package.json")"
      printf '  %-15s %s\n' chromium "$(/usr/bin/chromium --version 2>/dev/null) (Debian's package)"
    fi
  } >&2
}

# Starts moto on port $1 and points the AWS SDK at it with dummy credentials.
start_moto() {
  local port=$1 log=$GATEHOUSE_HOME/moto-$1.log
  if curl -sf "http://127.0.0.1:$port/moto-api/" >/dev/null 2>&1; then
    die "port $port is taken (another moto?); set MOTO_PORT to a free port"
  fi
  "$MOTO_SERVER" -H 127.0.0.1 -p "$port" >"$log" 2>&1 &
  STARTED_PIDS+=($!)
  for _ in $(seq 1 60); do
    curl -sf "http://127.0.0.1:$port/moto-api/" >/dev/null 2>&1 && break
    sleep 0.5
  done
  curl -sf "http://127.0.0.1:$port/moto-api/" >/dev/null || die "moto did not start; see $log"
  export AWS_ENDPOINT_URL=http://127.0.0.1:$port
  export AWS_REGION=${AWS_REGION:-us-east-1}
  export AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing
  unset AWS_SESSION_TOKEN AWS_PROFILE
  export AWS_EC2_METADATA_DISABLED=true
}

# Waits until $1 answers 200.
wait_http() {
  for _ in $(seq 1 120); do
    curl -sf -o /dev/null "$1" && return 0
    sleep 0.5
  done
  return 1
}

# Stops everything this script started, newest first.
cleanup() {
  local pid
  for ((i = ${#STARTED_PIDS[@]} - 1; i >= 0; i--)); do
    pid=${STARTED_PIDS[i]}
    kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
  done
  STARTED_PIDS=()
  if [ -n "${STOP_PRIVATE_PG+x}" ]; then "${STOP_PRIVATE_PG[@]}" >/dev/null 2>&1; unset STOP_PRIVATE_PG; fi
  if [ ${#STOP_CLUSTER[@]} -gt 0 ]; then as_root pg_ctlcluster --skip-systemctl-redirect "${STOP_CLUSTER[@]}" stop; STOP_CLUSTER=(); fi
}

ensure_chromium() {
  [ -x /usr/bin/chromium ] || apt_install chromium
}

# Node and the end2end suite's packages (Playwright without its browsers), as
# end2end/package-lock.json pins them: installed again whenever the lockfile
# differs from the one they were installed from.
ensure_end2end_deps() {
  command -v npm >/dev/null || apt_install nodejs npm
  local lock=$ROOT/end2end/package-lock.json stamp=$ROOT/end2end/node_modules/.gatehouse-lock
  if ! cmp -s "$lock" "$stamp" || [ ! -d "$ROOT/end2end/node_modules/@playwright/test" ]; then
    step "Installing the end2end packages (npm ci, from end2end/package-lock.json)"
    (cd "$ROOT/end2end" && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund >&2)
    cp "$lock" "$stamp"
  fi
}

# The IP-to-country database, unpacked once under $GATEHOUSE_HOME; sets
# GATEHOUSE_IP_COUNTRY_DB for the console.
ensure_ip_database() {
  local dir=$GATEHOUSE_HOME/ip-db/$IP_DB_VERSION
  if [ ! -f "$dir/geo-whois-asn-country.mmdb" ]; then
    command -v npm >/dev/null || apt_install nodejs npm
    step "Installing the IP-to-country database ($IP_DB_PACKAGE@$IP_DB_VERSION, npm)"
    local tmp
    tmp=$(mktemp -d)
    (cd "$tmp" && npm pack --silent "$IP_DB_PACKAGE@$IP_DB_VERSION" >/dev/null && tar xzf ./*.tgz)
    mkdir -p "$dir"
    cp "$tmp/package/geo-whois-asn-country.mmdb" "$tmp/package/NRO_LICENSE" "$tmp/package/package.json" "$dir/"
    rm -rf "$tmp"
  fi
  export GATEHOUSE_IP_COUNTRY_DB=$dir/geo-whois-asn-country.mmdb
}

# The audit trail's checkpoints for the local console: a key made once
# under $GATEHOUSE_HOME (readable by this user only) and a checkpoint file
# per database beside it; sets GATEHOUSE_AUDIT__KEY and
# GATEHOUSE_AUDIT__ANCHOR unless they are set already. A real deployment
# keeps the key in its secret store and the checkpoints in S3 under Object
# Lock (README, "The audit trail").
#
# The anchor is optional: when the key cannot be made, the console runs
# without checkpoints and says so.
ensure_audit_anchor() {
  local key=$GATEHOUSE_HOME/audit.key db=${DATABASE_URL##*/}
  if [ -n "${GATEHOUSE_AUDIT__KEY:-}" ]; then
    export GATEHOUSE_AUDIT__ANCHOR=${GATEHOUSE_AUDIT__ANCHOR:-$GATEHOUSE_HOME/audit-checkpoints/${db%%\?*}.json}
    return
  fi
  if [ ! -s "$key" ] && ! (umask 077 && printf 'local-%s' "$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')" >"$key") 2>/dev/null; then
    printf '\033[33mwarning:\033[0m cannot write %s: the audit trail runs without checkpoints\n' "$key" >&2
    return
  fi
  export GATEHOUSE_AUDIT__KEY=$(cat "$key")
  export GATEHOUSE_AUDIT__ANCHOR=${GATEHOUSE_AUDIT__ANCHOR:-$GATEHOUSE_HOME/audit-checkpoints/${db%%\?*}.json}
}

# Signs in to the console at $1 as demo user $2; prints the Cookie header's
# value.
demo_cookie() {
  local url=$1 user=$2 jar cookie
  jar=$(mktemp)
  curl -sf -o /dev/null -c "$jar" -H "Origin: $url" \
    --data-urlencode "username=$user" --data-urlencode password=Gatehouse-demo-1 \
    --data-urlencode next=/ "$url/auth/sign-in" || die "cannot sign in as the demo's $user"
  cookie=$(awk '{ sub(/^#HttpOnly_/, "") } !/^#/ && NF >= 7 { printf "%s=%s; ", $6, $7 }' "$jar")
  rm -f "$jar"
  [ -n "$cookie" ] || die "no session cookie after signing in as $user"
  echo "$cookie"
}

# The benchmarks' console: the release build serving the demo, provisioned
# into database $1, on 127.0.0.1:$2 with a moto of its own on port $3,
# logging at `warn`. Sets URL, COOKIE (the demo admin's session) and REVIEW
# (a change request of the demo's).
serve_release_demo() {
  local bin=$TARGET_DIR/release/gatehouse
  export DATABASE_URL LEPTOS_SITE_ADDR=127.0.0.1:$2 LEPTOS_SITE_ROOT=$ROOT/target/site
  DATABASE_URL=$(database_url "$1" fresh)
  start_moto "$3"
  URL=http://$LEPTOS_SITE_ADDR
  step "Provisioning the demo"
  "$bin" demo >/dev/null
  RUST_LOG=warn "$bin" serve &
  STARTED_PIDS+=($!)
  wait_http "$URL/healthz" || die "the console did not come up"
  COOKIE=$(demo_cookie "$URL" admin)
  REVIEW=$(curl -sf -H "Cookie: $COOKIE" "$URL/api/v1/changes" |
    python3 -c 'import json,sys; c=json.load(sys.stdin); print(c[0]["id"] if c else "")')
  [ -n "$REVIEW" ] || die "the demo has no change request to review"
}

# For bench/: the release build, and a generated day of logs at scale $1
# (kept under $GATEHOUSE_HOME for the next run); sets BENCH_DATA.
bench_prepare() {
  local scale=$1
  ensure_postgres
  [ -x /usr/bin/time ] || apt_install time
  step "Building gatehouse (release)"
  cargo build --release -p gatehouse >&2
  BENCH_DATA=$GATEHOUSE_HOME/bench-logs-$scale
  if [ ! -d "$BENCH_DATA" ]; then
    step "Generating a day of logs at scale $scale into $BENCH_DATA"
    "$TARGET_DIR/release/gatehouse" logs generate "$BENCH_DATA" --start 2026-11-22T00:00:00Z --scale "$scale" >&2
  fi
}
