#!/usr/bin/env bash
# The whole-database benchmark of issue 8, at production durability: one database of many rooms
# (chain-20k, busy 20,000 groups, 1,000 small rooms), compressed in 500-group chunks by
#   (a) CALL synapse_compress.compress_largest_rooms(500, 100000, method => 'levels')  -- the existing tool's trees
#   (b) the same with the default method ('fork_aware')
#   (c) one compress_room_state(room, method => 'levels') call per big room, against (a)'s chunks
#   (d) synapse_auto_compressor -c 500 -n 100000, if EXISTING_AUTO_COMPRESSOR names its binary
# each on its own copy (CREATE DATABASE ... TEMPLATE) of the same vacuumed data. Per variant: wall
# time, rows before/after, chunks, peak private memory of the backend (VmHWM − RssShmem sampled
# every 50 ms), the longest write phase of a chunk (the time it holds its row locks) and the
# longest chunk, and whether every room's states are unchanged (state_digest on busy and the
# small rooms; a sample of chain-20k's groups, whose full states hold 200 M entries).
#
# Runs in its own cluster, target/pg-bench on port 54349, with fsync, synchronous_commit and
# full_page_writes on and nothing preloaded (the test cluster preloads the extension's library).
#
# Environment:
#   BENCH_RUNS_SMALL=1   chain 2,000 + busy 2,000 + 50 small rooms: a smoke test of under a minute
#   BENCH_INSTALL=0      do not build and install the extension first (default 1: install, after
#                        stopping this cluster and the test cluster target/pg, which preloads it)
#   BENCH_RECORD=0|1     append a section to BENCHMARKS.md (default 1, 0 with BENCH_RUNS_SMALL=1)
#   BENCH_RELOAD=1       regenerate the template database even if it holds the same rooms
#   BENCH_KEEP=1         keep the variants' databases (the template bench_runs_tpl is always kept)
#   EXISTING_AUTO_COMPRESSOR  path of a synapse_auto_compressor binary (never built here)
# Logs: target/bench-runs/. The cluster is stopped at the end.
set -euo pipefail
export PG_CLUSTER_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/target/pg-bench"
export PGPORT=54349 PG_DURABLE=1 PG_PRELOAD=''
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

if [ "${BENCH_RUNS_SMALL:-0}" = 1 ]; then
    CHAIN_GROUPS=2000 BUSY_GROUPS=2000 SMALL_ROOMS=50 CHAIN_NAME=chain-2k RECORD="${BENCH_RECORD:-0}"
else
    CHAIN_GROUPS=20000 BUSY_GROUPS=20000 SMALL_ROOMS=1000 CHAIN_NAME=chain-20k RECORD="${BENCH_RECORD:-1}"
fi
CHAIN="!chain:bench.example.org" BUSY="!busy:bench.example.org"
CONFIG="chain $CHAIN_GROUPS, busy $BUSY_GROUPS, $SMALL_ROOMS small rooms of 40 groups, seed 1"
TPL=bench_runs_tpl
OUT="$ROOT/target/bench-runs"
REF_S=130.6 # synapse_auto_compressor -c 500 -n 100 on the 20,000-group chain (existing-compressor.md)
mkdir -p "$OUT"

now() { date +%s.%N; }
calc() { awk "BEGIN { printf \"$1\", $2 }"; } # calc FORMAT EXPR
thousands() { awk -v n="$1" 'BEGIN { if (n == "") { print "-"; exit } s = sprintf("%d", n); r = "";
    while (length(s) > 3) { r = "," substr(s, length(s) - 2) r; s = substr(s, 1, length(s) - 3) } print s r }'; }
# q DB SQL: unaligned, fields separated by |; :'chain' and :'busy' name the big rooms.
q() { echo "$2" | psql_db "$1" -At -F '|' -v chain="$CHAIN" -v busy="$BUSY"; }
clone_db() {
    psql_db postgres -c "SET client_min_messages = warning" -c "DROP DATABASE IF EXISTS \"$2\" WITH (FORCE)" \
        -c "CREATE DATABASE \"$2\" TEMPLATE \"$1\" STRATEGY = FILE_COPY"
}
settle() { psql_db postgres -c CHECKPOINT; sync; }
rows_total() { q "$1" "SELECT count(*) FROM state_groups_state"; }
room_rows() { q "$1" "SELECT count(*) FROM state_groups_state s JOIN state_groups g ON g.id = s.state_group WHERE g.room_id = '$2'"; }

# digests DB FILE: every room's state_digest but the chain's, and the resolved state of a sample
# of the chain's groups (about 160, chunk boundaries among them).
digests() {
    local step=$((CHAIN_GROUPS / 80))
    q "$1" "SELECT r.room_id, d.groups, d.entries, d.digest
            FROM (SELECT DISTINCT room_id FROM state_groups WHERE room_id <> :'chain') r,
                 LATERAL synapse_compress_test.state_digest(r.room_id) d ORDER BY 1" >"$2"
    q "$1" "SELECT g.id, md5(string_agg((s.type, s.state_key, s.event_id)::text, E'\n'
                                        ORDER BY s.type COLLATE \"C\", s.state_key COLLATE \"C\"))
            FROM state_groups g, LATERAL synapse_compress_test.group_state(g.id) s
            WHERE g.room_id = :'chain' AND g.id % $step IN (0, 1)
            GROUP BY g.id ORDER BY g.id" >>"$2"
}
# check_states DB: "yes (R rooms + G groups)", or how many of them differ from the template's.
check_states() {
    digests "$1" "$OUT/$1.digests"
    local rooms groups bad
    rooms=$(grep -c '^!' "$OUT/before.digests")
    groups=$(grep -vc '^!' "$OUT/before.digests")
    bad=$(diff "$OUT/before.digests" "$OUT/$1.digests" | grep -c '^<' || true)
    if [ "$bad" = 0 ]; then echo "yes ($rooms rooms + $groups groups)"; else echo "NO: $bad of $rooms rooms + $groups groups differ"; fi
}

# sample_backend APP PREFIX: samples /proc/PID/status of the backend whose application_name is
# APP every 50 ms until PREFIX.done exists; writes "peak(VmHWM − RssShmem) peak(RssAnon)" in kB.
# A sample whose RssShmem fell is skipped: the exiting backend unmaps shared memory first, and
# VmHWM − RssShmem would then count all of shared_buffers as private.
sample_backend() {
    local app="$1" out="$2" pid="" k v hwm shm anon priv=0 peak=0 peak_anon=0 max_shm=0
    for _ in $(seq 200); do
        pid=$(q postgres "SELECT pid FROM pg_stat_activity WHERE application_name = '$app' LIMIT 1")
        [ -n "$pid" ] && break
        sleep 0.05
    done
    while [ -n "$pid" ] && [ ! -e "$out.done" ]; do
        hwm=0 shm=0 anon=0
        while read -r k v _; do
            case "$k" in VmHWM:) hwm=$v ;; RssShmem:) shm=$v ;; RssAnon:) anon=$v ;; esac
        done <"/proc/$pid/status" 2>/dev/null || break
        [ "$shm" -lt "$max_shm" ] && break
        max_shm=$shm
        priv=$((hwm - shm))
        [ "$priv" -gt "$peak" ] && peak=$priv
        [ "$anon" -gt "$peak_anon" ] && peak_anon=$anon
        sleep 0.05
    done
    echo "$peak $peak_anon" >"$out.mem"
}

# timed VARIANT DB SQL: runs SQL in its own session (application_name bench_runs_VARIANT) on DB,
# sampled; sets WALL (s), PRIV and ANON (peak kB), LOAD (load average before).
timed() {
    local variant="$1" db="$2" sql="$3" t0
    settle
    LOAD=$(cut -d' ' -f1 /proc/loadavg)
    rm -f "$OUT/$variant.done"
    sample_backend "bench_runs_$variant" "$OUT/$variant" &
    local sampler=$!
    t0=$(now)
    PGAPPNAME="bench_runs_$variant" psql_db "$db" -c "$sql" >"$OUT/$variant.log" 2>&1 \
        || { touch "$OUT/$variant.done"; tail "$OUT/$variant.log" >&2; die "$variant failed"; }
    WALL=$(calc %.2f "$(now) - $t0")
    touch "$OUT/$variant.done"
    wait "$sampler"
    read -r PRIV ANON <"$OUT/$variant.mem"
}

# chunk_stats DB: "chunks|outcomes|max write_ms|its room|max duration_ms|its room|chain's chunks s|chain's chunks|all chunks s"
# for the latest run.
chunk_stats() {
    q "$1" "WITH c AS (SELECT * FROM synapse_compress.chunks WHERE run_id = (SELECT max(run_id) FROM synapse_compress.runs)),
                 w AS (SELECT room_id, (details->>'write_ms')::float8 AS ms FROM c ORDER BY 2 DESC NULLS LAST LIMIT 1),
                 d AS (SELECT room_id, duration_ms AS ms FROM c ORDER BY 2 DESC NULLS LAST LIMIT 1)
            SELECT (SELECT count(*) FROM c),
                   (SELECT string_agg(outcome || ':' || n, ',') FROM (SELECT outcome, count(*) n FROM c GROUP BY 1 ORDER BY 1) o),
                   round(w.ms::numeric, 1), w.room_id, round(d.ms::numeric, 1), d.room_id,
                   (SELECT round(sum(duration_ms)::numeric / 1000, 2) FROM c WHERE room_id = :'chain'),
                   (SELECT count(*) FROM c WHERE room_id = :'chain'),
                   (SELECT round(sum(duration_ms)::numeric / 1000, 2) FROM c)
            FROM w, d"
}

# ---------------------------------------------------------------------------------------------
# setup: the cluster and the template database

if [ "${BENCH_INSTALL:-1}" = 1 ]; then
    ensure_deps
    ensure_cargo_pgrx
    ensure_pgrx_init
    # The test cluster (target/pg) preloads the library; a server whose library is replaced crashes.
    (PGDATA="$ROOT/target/pg/data" && stop_before_install)
    install_extension # stops this cluster too
fi
cluster_start
[ -z "${EXISTING_AUTO_COMPRESSOR:-}" ] || [ -x "$EXISTING_AUTO_COMPRESSOR" ] \
    || die "EXISTING_AUTO_COMPRESSOR=$EXISTING_AUTO_COMPRESSOR is not an executable"

if [ "${BENCH_RELOAD:-0}" != 1 ] && db_exists "$TPL" && [ -s "$OUT/before.digests" ] \
    && [ "$(q postgres "SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = '$TPL'")" = "$CONFIG" ]; then
    say "template: reusing $TPL ($CONFIG)"
else
    say "template: generating $TPL ($CONFIG)"
    t0=$(now)
    create_db "$TPL"
    psql_db "$TPL" -f "$ROOT/tests/fixtures/synapse_schema.sql" -f "$ROOT/tests/fixtures/resolve_state.sql"
    load_room "$TPL" "$CHAIN" chain "$CHAIN_GROUPS" 1
    load_room "$TPL" "$BUSY" busy "$BUSY_GROUPS" 100001
    # Small rooms: 40 groups each, a snapshot every 10 groups, each group adding one member.
    psql_db "$TPL" -v n="$SMALL_ROOMS" <<'SQL'
INSERT INTO state_groups SELECT 1000000 + r * 100 + i, '!small' || r || ':bench.example.org', '$e' || r || '_' || i
    FROM generate_series(1, :n) r, generate_series(1, 40) i;
INSERT INTO state_group_edges SELECT 1000000 + r * 100 + i, 1000000 + r * 100 + i - 1
    FROM generate_series(1, :n) r, generate_series(2, 40) i WHERE i % 10 <> 1;
INSERT INTO state_groups_state SELECT 1000000 + r * 100 + i, '!small' || r || ':bench.example.org', 'm.room.member', '@u' || k, '$m' || k
    FROM generate_series(1, :n) r, generate_series(1, 40) i, generate_series(1, i) k WHERE (i % 10 = 1 AND k <= i) OR k = i;
VACUUM (FREEZE, ANALYZE);
SQL
    say "template: loaded in $(calc %.0f "$(now) - $t0") s; digests of every room's states"
    digests "$TPL" "$OUT/before.digests"
    psql_db postgres -c "COMMENT ON DATABASE $TPL IS '$CONFIG'"
fi
ROWS0=$(rows_total "$TPL")
CHAIN0=$(room_rows "$TPL" "$CHAIN")
BUSY0=$(room_rows "$TPL" "$BUSY")
ROOMS=$(q "$TPL" "SELECT count(DISTINCT room_id) FROM state_groups")
SIZE=$(q "$TPL" "SELECT pg_size_pretty(pg_database_size(current_database()))")

# ---------------------------------------------------------------------------------------------
# variants

declare -A R
run_variant() { # run_variant KEY METHOD
    local key="$1" method="$2" db="bench_runs_$1"
    say "($key) CALL compress_largest_rooms(500, 100000, method => '$method') on $db"
    clone_db "$TPL" "$db"
    q "$db" "CREATE EXTENSION synapse_compress" >/dev/null
    timed "$key" "$db" "CALL synapse_compress.compress_largest_rooms(chunk_size => 500, number_of_chunks => 100000, method => '$method')"
    R[$key]="$WALL|$(rows_total "$db")|$(room_rows "$db" "$CHAIN")|$(room_rows "$db" "$BUSY")|$PRIV|$ANON|$LOAD"
    R[$key.chunks]="$(chunk_stats "$db")"
    R[$key.chain_phases]="$(q "$db" "SELECT concat_ws(', ', 'load ' || round(sum((details->>'load_ms')::numeric) / 1000, 2),
                                        'compress ' || round(sum((details->>'compress_ms')::numeric) / 1000, 2),
                                        'verify ' || round(sum((details->>'verify_ms')::numeric) / 1000, 2),
                                        'write ' || round(sum((details->>'write_ms')::numeric) / 1000, 2)) || ' s'
                                      FROM synapse_compress.chunks WHERE room_id = :'chain'")"
    R[$key.busy_skipped]="$(q "$db" "SELECT count(*) FILTER (WHERE outcome = 'skipped') || ' of ' || count(*) FROM synapse_compress.chunks
                                      WHERE room_id = :'busy' AND outcome <> 'done' AND run_id = (SELECT max(run_id) FROM synapse_compress.runs)")"
    say "($key) $WALL s; chunks: ${R[$key.chunks]}; checking states"
    R[$key.states]="$(check_states "$db")"
}
run_variant a levels
run_variant b fork_aware

say "(c) one compress_room_state(method => 'levels') call per big room on bench_runs_c"
clone_db "$TPL" bench_runs_c
q bench_runs_c "CREATE EXTENSION synapse_compress" >/dev/null
timed c bench_runs_c "SELECT message FROM synapse_compress.compress_room_state('$CHAIN', method => 'levels')"
R[c]="$WALL|$(room_rows bench_runs_c "$CHAIN")|$PRIV|$ANON|$LOAD"
c_msg=$(grep -o 'rewrote.*' "$OUT/c.log" | head -1 | sed 's/[[:space:]]*$//')
timed c_busy bench_runs_c "SELECT message FROM synapse_compress.compress_room_state('$BUSY', method => 'levels')"
R[c_busy]="$WALL|$(room_rows bench_runs_c "$BUSY")"

if [ -n "${EXISTING_AUTO_COMPRESSOR:-}" ]; then
    say "(d) $EXISTING_AUTO_COMPRESSOR -c 500 -n 100000 on bench_runs_d"
    clone_db "$TPL" bench_runs_d
    settle
    url="postgresql://postgres@/bench_runs_d?host=$PG_SOCKET_DIR&port=$PGPORT"
    /usr/bin/time -v -o "$OUT/d.time" "$EXISTING_AUTO_COMPRESSOR" -p "$url" -c 500 -n 100000 >"$OUT/d.log" 2>&1 \
        || { tail "$OUT/d.log" >&2; die "the existing auto compressor failed"; }
    d_wall=$(awk -F': ' '/Elapsed \(wall clock\)/ { n = split($2, p, ":"); s = 0; for (i = 1; i <= n; i++) s = s * 60 + p[i]; print s }' "$OUT/d.time")
    d_rss=$(awk -F': ' '/Maximum resident set size/ { print $2 }' "$OUT/d.time")
    R[d]="$d_wall|$(rows_total bench_runs_d)|$(room_rows bench_runs_d "$CHAIN")|$(room_rows bench_runs_d "$BUSY")|$d_rss"
    R[d.states]="$(check_states bench_runs_d)"
else
    say "(d) existing auto compressor: not run (set EXISTING_AUTO_COMPRESSOR); reference: $REF_S s for chain-20k alone"
fi

if [ "${BENCH_KEEP:-0}" != 1 ]; then
    for db in bench_runs_a bench_runs_b bench_runs_c bench_runs_d; do
        psql_db postgres -c "SET client_min_messages = warning" -c "DROP DATABASE IF EXISTS $db WITH (FORCE)"
    done
fi

# ---------------------------------------------------------------------------------------------
# report

mb() { calc %.1f "$1 / 1024"; }
table="| variant | wall s (Σ chunks s) | rows before → after | $CHAIN_NAME rows after | busy rows after | chunks | peak private MB (VmHWM − RssShmem) | peak RssAnon MB | longest write phase ms (room) | longest chunk ms (room) | $CHAIN_NAME chunks: count, sum s | states unchanged |
|---|---:|---:|---:|---:|---|---:|---:|---|---|---|---|"
for key in a b; do
    IFS='|' read -r wall rows chain busy priv anon load <<<"${R[$key]}"
    IFS='|' read -r n outcomes wms wroom dms droom chain_s chain_n all_s <<<"${R[$key.chunks]}"
    label="(a) \`compress_largest_rooms\`, \`method => 'levels'\`"
    [ "$key" = b ] && label="(b) \`compress_largest_rooms\`, default \`'fork_aware'\`"
    table+=$'\n'"| $label | $wall ($all_s) | $(thousands "$ROWS0") → $(thousands "$rows") | $(thousands "$chain") | $(thousands "$busy") | $n ($outcomes) | $(mb "$priv") | $(mb "$anon") | $wms (${wroom%%:*}) | $dms (${droom%%:*}) | $chain_n, $chain_s | ${R[$key.states]} |"
    R[$key.load]=$load
done
IFS='|' read -r c_wall c_chain c_priv c_anon c_load <<<"${R[c]}"
IFS='|' read -r cb_wall cb_busy <<<"${R[c_busy]}"
table+=$'\n'"| (c) one \`compress_room_state(method => 'levels')\` call on $CHAIN_NAME (busy: a second call) | $c_wall (busy $cb_wall) | - | $(thousands "$c_chain") | $(thousands "$cb_busy") | - | $(mb "$c_priv") | $(mb "$c_anon") | - | - | - | (verified inside the call) |"
if [ -n "${R[d]:-}" ]; then
    IFS='|' read -r d_wall d_rows d_chain d_busy d_rss <<<"${R[d]}"
    table+=$'\n'"| (d) \`synapse_auto_compressor -c 500 -n 100000\` | $d_wall | $(thousands "$ROWS0") → $(thousands "$d_rows") | $(thousands "$d_chain") | $(thousands "$d_busy") | - | max RSS $(mb "$d_rss") (client) | - | - | - | - | ${R[d.states]} |"
else
    table+=$'\n'"| (d) \`synapse_auto_compressor -c 500 -n 100000\` | not run (no EXISTING_AUTO_COMPRESSOR); reference: $REF_S s and 37 MB for the 20,000-group chain alone | | | | | | | | | | |"
fi

met() { if awk "BEGIN { exit !($1) }"; then echo met; else echo "NOT met"; fi; }
IFS='|' read -r a_wall a_rows a_chain a_busy a_priv _ <<<"${R[a]}"
IFS='|' read -r b_wall _ _ _ b_priv _ <<<"${R[b]}"
IFS='|' read -r _ _ _ _ _ _ a_chain_s a_chain_n _ <<<"${R[a.chunks]}"
peak=$(( a_priv > b_priv ? a_priv : b_priv ))
targets="- Rows: (a)'s 500-group chunks leave $CHAIN_NAME with $(thousands "$a_chain") rows, one call $(thousands "$c_chain"): $( [ "$a_chain" = "$c_chain" ] && echo met || echo "NOT met")"
if [ "$CHAIN_GROUPS" = 20000 ]; then
    targets+=" (the existing auto compressor: 54,503 on its room, whose snapshots lack roomgen's m.room.create key: 54,506 here: $( [ "$a_chain" = 54506 ] && echo met || echo "NOT met"))"
    targets+=$'\n'"- At least 30× faster than the existing auto compressor's $REF_S s for chain-20k alone: chain-20k's chunks took $a_chain_s s ($(calc %.0f "$REF_S / $a_chain_s")×): $(met "$REF_S / $a_chain_s >= 30"); the whole database (3 rooms of 20k groups and more) took $a_wall s with 'levels' ($(calc %.0f "$REF_S / $a_wall")×) and $b_wall s with 'fork_aware' ($(calc %.0f "$REF_S / $b_wall")×)"
fi
targets+=$'\n'"- busy: chunked $(thousands "$a_busy") rows, one call $(thousands "$cb_busy"): they differ where a chunk is skipped (it would not save rows; ${R[a.busy_skipped]} of busy's chunks), because a skipped chunk restarts the levels after it, as the existing auto compressor does"
targets+=$'\n'"- Backend private memory bounded by the chunk (≤ 64 MB on every room): peak VmHWM − RssShmem over the whole run $(mb "$a_priv") MB ('levels') and $(mb "$b_priv") MB ('fork_aware'): $(met "$peak <= 65536") (one call on the whole $CHAIN_NAME room: $(mb "$c_priv") MB)"
targets+=$'\n'"- Chunked $CHAIN_NAME within 1.5× of one call: $a_chain_n chunks, $a_chain_s s (sum of their duration_ms) vs $c_wall s: $(calc %.2f "$a_chain_s / $c_wall")×: $(met "$a_chain_s <= 1.5 * $c_wall")"

DATE=$(date -u '+%Y-%m-%d %H:%M UTC')
COMMIT=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)
settings=$(q postgres "SELECT string_agg(name || ' ' || current_setting(name), ', ' ORDER BY name) FROM pg_settings
                       WHERE name IN ('fsync', 'synchronous_commit', 'full_page_writes', 'shared_buffers', 'jit', 'wal_level')")
section="## $DATE — Whole-database runs (issue 8), production durability — commit $COMMIT

\`scripts/bench_runs.sh\`$( [ "${BENCH_RUNS_SMALL:-0}" = 1 ] && echo ' (BENCH_RUNS_SMALL=1)'). \
Machine: $(nproc) CPUs ($(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)), \
$(awk '/^MemTotal:/ { printf "%.1f", $2 / 1048576 }' /proc/meminfo) GiB RAM, load average $(cut -d" " -f1-3 /proc/loadavg) at the end; \
PostgreSQL $(q postgres 'SHOW server_version') in its own cluster (target/pg-bench): $settings. \
Database: $CONFIG ($ROOMS rooms, $(thousands "$ROWS0") rows in state_groups_state of which $CHAIN_NAME $(thousands "$CHAIN0") and busy $(thousands "$BUSY0"); $SIZE), \
vacuumed and copied with CREATE DATABASE ... TEMPLATE for every variant; CHECKPOINT and sync before every timed step; \
load average before (a) ${R[a.load]}, (b) ${R[b.load]}, (c) $c_load.

$table

Targets:
$targets

Phases of $CHAIN_NAME's chunks, summed: (a) ${R[a.chain_phases]}; (b) ${R[b.chain_phases]}; \
(c) one call: \`$c_msg\`.

Notes: wall = the psql session of the CALL (or the call), including the commit after every chunk; \
Σ chunks = the sum of the chunks' duration_ms, without those commits. \
Peak private = the largest VmHWM − RssShmem of the backend, sampled every 50 ms from /proc (shared_buffers pages are RssShmem; \
file pages of the postgres binary and the extension's library, ~15 MB, count as private). \
The write phase (details->>'write_ms' of synapse_compress.chunks) is when a chunk's row locks are taken and held until its commit. \
States: synapse_compress_test.state_digest of every room but $CHAIN_NAME, and the resolved state of $((CHAIN_GROUPS * 2 / (CHAIN_GROUPS / 80))) sampled $CHAIN_NAME groups \
(every $((CHAIN_GROUPS / 80))th and the next, so the chunk boundaries), compared with the template's.
"
echo
echo "$section"
if [ "$RECORD" = 1 ]; then
    printf '\n%s' "$section" >>"$ROOT/BENCHMARKS.md"
    say "appended to BENCHMARKS.md"
fi
cluster_stop
