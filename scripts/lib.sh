#!/usr/bin/env bash
# Shared helpers for the synapse_compress scripts. Source it:  . "$(dirname "$0")/lib.sh"
#
# Variables (all may be read by callers):
#   ROOT           repository root
#   PG_CONFIG      /usr/lib/postgresql/15/bin/pg_config
#   PGBIN          /usr/lib/postgresql/15/bin
#   PG_CLUSTER_DIR $ROOT/target/pg unless set in the environment (owned by postgres)
#   PGDATA         $PG_CLUSTER_DIR/data
#   PG_SOCKET_DIR  $PG_CLUSTER_DIR/socket   (mode 0700: only postgres and root connect)
#   PG_LOG         $PG_CLUSTER_DIR/log      (server log file)
#   PGPORT         54329 unless set in the environment
#   PG_DURABLE     0 unless set: fsync, synchronous_commit, full_page_writes off (a throwaway
#                  cluster); 1: all three on, as in production (benchmarks)
#   PG_PRELOAD     shared_preload_libraries, 'pg_cron,synapse_compress' unless set (may be '')
#   PGUSER         postgres
#   PG_CRON_DB     synapse_demo             (cron.database_name)
# Functions:
#   ensure_deps ensure_cargo_pgrx ensure_pgrx_init
#   cluster_start cluster_stop cluster_status cluster_running
#   psql_db DB [psql args...]   create_db DB   db_exists DB
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PG_CONFIG=/usr/lib/postgresql/15/bin/pg_config
PGBIN=/usr/lib/postgresql/15/bin
PG_CLUSTER_DIR="${PG_CLUSTER_DIR:-$ROOT/target/pg}"
PGDATA="$PG_CLUSTER_DIR/data"
PG_SOCKET_DIR="$PG_CLUSTER_DIR/socket"
PG_LOG="$PG_CLUSTER_DIR/log"
PGPORT="${PGPORT:-54329}"
PG_DURABLE="${PG_DURABLE:-0}"
PG_PRELOAD="${PG_PRELOAD-pg_cron,synapse_compress}"
PGUSER=postgres
PG_CRON_DB=synapse_demo
PGRX_VERSION=0.18.1
PGRX_CONFIG="${PGRX_HOME:-$HOME/.pgrx}/config.toml"
# Build into this checkout's own target/ whatever the caller's environment says (the scripts
# run binaries from there, and a fresh clone must not reuse another tree's build).
export CARGO_TARGET_DIR="$ROOT/target"

DEPS=(postgresql-15 postgresql-server-dev-15 postgresql-15-cron clang libclang-dev sudo
      build-essential pkg-config libssl-dev curl ca-certificates)

say() { echo "==> $*" >&2; }
die() { echo "error: $*" >&2; exit 1; }

# Install (apt) only the packages of DEPS that are missing; apt-get update only if needed.
ensure_deps() {
    local missing=() p
    for p in "${DEPS[@]}"; do
        if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
            missing+=("$p")
        fi
    done
    if [ "${#missing[@]}" -eq 0 ]; then
        say "deps: all ${#DEPS[@]} packages installed"
        return 0
    fi
    say "deps: installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}"
}

# cargo-pgrx at exactly $PGRX_VERSION.
ensure_cargo_pgrx() {
    local have
    have="$(cargo pgrx --version 2>/dev/null || true)"
    if [[ "$have" == *" $PGRX_VERSION"* ]]; then
        say "cargo-pgrx: $have"
        return 0
    fi
    say "cargo-pgrx: have '${have:-none}', installing $PGRX_VERSION (takes a few minutes)"
    cargo install cargo-pgrx --version "$PGRX_VERSION" --locked
}

# pgrx configured for the system PostgreSQL 15 (never lets pgrx download its own).
ensure_pgrx_init() {
    if [ -f "$PGRX_CONFIG" ] && grep -Eq '^[[:space:]]*pg15[[:space:]]*=' "$PGRX_CONFIG"; then
        say "pgrx: pg15 configured in $PGRX_CONFIG"
        return 0
    fi
    [ -x "$PG_CONFIG" ] || die "$PG_CONFIG missing (run ensure_deps)"
    say "pgrx: cargo pgrx init --pg15 $PG_CONFIG"
    cargo pgrx init --pg15 "$PG_CONFIG"
}

# postgres_dir DIR: creates DIR owned by postgres and lets postgres traverse its parents.
postgres_dir() {
    mkdir -p "$1"
    local d="$1"
    while d="$(dirname "$d")"; [ "$d" != / ]; do
        if ! runuser -u postgres -- test -x "$d"; then
            say "chmod o+x $d (so postgres can traverse it)"
            chmod o+x "$d"
        fi
    done
    chown postgres:postgres "$1"
}

_pg_dirs() {
    postgres_dir "$PG_CLUSTER_DIR"
    mkdir -p "$PGDATA" "$PG_SOCKET_DIR"
    chown postgres:postgres "$PG_CLUSTER_DIR" "$PGDATA" "$PG_SOCKET_DIR"
    chmod 0700 "$PGDATA" "$PG_SOCKET_DIR"
    touch "$PG_LOG"
    chown postgres:postgres "$PG_LOG"
}

_pg_ctl() { runuser -u postgres -- "$PGBIN/pg_ctl" -D "$PGDATA" "$@"; }

cluster_running() {
    [ -s "$PGDATA/PG_VERSION" ] && _pg_ctl status >/dev/null 2>&1
}

# Settings, rewritten at every start (so a changed PGPORT, PG_DURABLE or PG_PRELOAD takes effect).
_pg_write_conf() {
    local conf="$PGDATA/synapse_compress.conf" durable=off durable_note="A throwaway test cluster: durability is not needed."
    if [ "$PG_DURABLE" = 1 ]; then
        durable=on
        durable_note="PG_DURABLE=1: production durability."
    fi
    cat >"$conf" <<EOF
# Written by scripts/lib.sh at every cluster_start; edit lib.sh instead.
port = $PGPORT
listen_addresses = ''
unix_socket_directories = '$PG_SOCKET_DIR'
shared_preload_libraries = '$PG_PRELOAD'
cron.database_name = '$PG_CRON_DB'
# jobs run in background workers: the cluster does not listen on TCP
cron.use_background_workers = on
max_worker_processes = 16
# $durable_note
fsync = $durable
synchronous_commit = $durable
full_page_writes = $durable
shared_buffers = 256MB
max_wal_size = 4GB
maintenance_work_mem = 256MB
logging_collector = off
log_min_messages = warning
EOF
    chown postgres:postgres "$conf"
    if ! grep -q "^include_if_exists = 'synapse_compress.conf'" "$PGDATA/postgresql.conf"; then
        echo "include_if_exists = 'synapse_compress.conf'" >>"$PGDATA/postgresql.conf"
    fi
}

cluster_start() {
    if cluster_running; then
        local port
        port="$(sed -n 4p "$PGDATA/postmaster.pid" 2>/dev/null || true)"
        if [ -n "$port" ] && [ "$port" != "$PGPORT" ]; then
            die "cluster already running on port $port, not $PGPORT (scripts/cluster.sh stop first)"
        fi
        say "cluster: running (port $PGPORT, socket $PG_SOCKET_DIR)"
        return 0
    fi
    _pg_dirs
    if [ ! -s "$PGDATA/PG_VERSION" ]; then
        say "cluster: initdb $PGDATA"
        runuser -u postgres -- "$PGBIN/initdb" -D "$PGDATA" -U "$PGUSER" --auth=trust \
            -E UTF8 --locale=C.UTF-8 >"$PG_CLUSTER_DIR/initdb.log" 2>&1 \
            || { cat "$PG_CLUSTER_DIR/initdb.log" >&2; die "initdb failed"; }
    fi
    _pg_write_conf
    say "cluster: starting (port $PGPORT, socket $PG_SOCKET_DIR, log $PG_LOG)"
    if ! _pg_ctl -l "$PG_LOG" -w -t 60 start >/dev/null; then
        tail -n 20 "$PG_LOG" >&2
        die "postgres did not start"
    fi
    # pg_cron's launcher connects to cron.database_name; give it a database.
    if ! db_exists "$PG_CRON_DB"; then
        say "cluster: creating database $PG_CRON_DB"
        psql_db postgres -c "CREATE DATABASE $PG_CRON_DB"
    fi
}

cluster_stop() {
    if ! cluster_running; then
        say "cluster: not running"
        return 0
    fi
    say "cluster: stopping"
    _pg_ctl -m fast -w -t 60 stop >/dev/null
}

cluster_status() {
    if cluster_running; then
        say "cluster: running (port $PGPORT, socket $PG_SOCKET_DIR, data $PGDATA)"
    else
        say "cluster: not running (data $PGDATA)"
        return 3
    fi
}

# psql as role postgres on the private socket. Runs as the calling OS user (root), so
# `\copy` and -f can read any file; local connections use trust auth, and the socket directory
# is 0700, so only root and postgres can connect.
psql_db() {
    local db="$1"
    shift
    "$PGBIN/psql" -h "$PG_SOCKET_DIR" -p "$PGPORT" -U "$PGUSER" -d "$db" -v ON_ERROR_STOP=1 -X -q "$@"
}

db_exists() {
    [ "$(psql_db postgres -tAc "SELECT 1 FROM pg_database WHERE datname = '$1'")" = 1 ]
}

# Drops (terminating its sessions, e.g. pg_cron's) and recreates database DB.
create_db() {
    local db="$1"
    say "db: recreating $db"
    psql_db postgres -c "SET client_min_messages = warning" \
        -c "DROP DATABASE IF EXISTS \"$db\" WITH (FORCE)" \
        -c "CREATE DATABASE \"$db\""
}

# Stops this checkout's cluster if it runs: it preloads the extension's library, and a running
# server whose library file is overwritten in place crashes.
stop_before_install() {
    if cluster_running; then
        say "cluster: stopping before the extension's library is replaced"
        cluster_stop
    fi
}

# Builds (release) and installs the extension into the system PostgreSQL 15 (stopping this
# checkout's cluster first; callers start it again).
install_extension() {
    stop_before_install
    say "extension: cargo pgrx install --release"
    mkdir -p "$ROOT/target"
    (cd "$ROOT" && cargo pgrx install --release --pg-config "$PG_CONFIG" >"$ROOT/target/pgrx-install.log" 2>&1) \
        || { tail -n 30 "$ROOT/target/pgrx-install.log" >&2; die "cargo pgrx install failed"; }
}

# Creates Synapse's tables (schema fixture), the test resolver and the extension in DB.
prepare_synapse_db() {
    local db="$1"
    psql_db "$db" -f "$ROOT/tests/fixtures/synapse_schema.sql" -f "$ROOT/tests/fixtures/resolve_state.sql" \
        -c "SET client_min_messages = warning" -c "CREATE EXTENSION IF NOT EXISTS synapse_compress"
}

# run_regress TOOL DB INPUTDIR OUTDIR TEST...: PostgreSQL's test driver TOOL
# (regress/pg_regress or isolation/pg_isolation_regress, from PGXS) on the existing database DB
# of this cluster, with INPUTDIR's sql/ or specs/ and expected/; prints the diffs when a test
# fails, and returns the driver's status.
run_regress() {
    local tool="$1" db="$2" input="$3" out="$4" bin status=0
    shift 4
    bin="$PGBIN/../lib/pgxs/src/test/$tool"
    [ -x "$bin" ] || bin="/usr/lib/postgresql/15/lib/pgxs/src/test/$tool"
    rm -rf "$out"
    mkdir -p "$out"
    say "$(basename "$tool"): $*"
    "$bin" --use-existing --dbname="$db" --host="$PG_SOCKET_DIR" --port="$PGPORT" --user="$PGUSER" \
        --inputdir="$input" --outputdir="$out" "$@" || status=$?
    if [ "$status" -ne 0 ] && [ -f "$out/regression.diffs" ]; then
        cat "$out/regression.diffs"
    fi
    return "$status"
}

# load_room DB ROOM SHAPE GROUPS FIRST_ID [SEED]: generates a room with synapse-roomgen and
# loads it into DB with COPY.
load_room() {
    local db="$1" room="$2" shape="$3" groups="$4" first="$5" seed="${6:-1}"
    local out="$ROOT/target/rooms/$shape-$groups-$first-$seed"
    (cd "$ROOT" && cargo build -q --release -p roomgen)
    mkdir -p "$out"
    "$ROOT/target/release/synapse-roomgen" --room "$room" --shape "$shape" --groups "$groups" \
        --first-id "$first" --seed "$seed" --out-dir "$out"
    psql_db "$db" -c "\\copy state_groups FROM '$out/state_groups.tsv'" \
        -c "\\copy state_group_edges FROM '$out/state_group_edges.tsv'" \
        -c "\\copy state_groups_state FROM '$out/state_groups_state.tsv'" \
        -c "ANALYZE state_groups, state_group_edges, state_groups_state"
    rm -rf "$out"
}
