#!/usr/bin/env bash
# Read cost in Synapse's terms (issue 9): how long Synapse's own query for the full state of a
# group takes, over every group of a room (or a fixed sample), on identical copies of the room:
#   now       as generated (Synapse alone: a snapshot every 100 groups, deltas in between)
#   levels    after compress_room_state(room, method => 'levels')            (levels {100,50,25})
#   fa50      after compress_room_state(room, method => 'fork_aware', max_chain => 50)
#   fa100     ... max_chain => 100 (the default)
#   fa150     ... max_chain => 150
#   fa100m    ... max_chain => 100 with SET synapse_compress.read_budget = median
#   fa100s    ... max_chain => 100 with SET synapse_compress.read_budget = strict
# Each copy is VACUUM ANALYZEd after compressing. The read is Synapse's query for a group's full
# state (synapse/storage/databases/state/bg_updates.py, _get_state_groups_from_groups_txn, on
# PostgreSQL): in a transaction with SET LOCAL enable_seqscan = off, a recursive CTE over
# state_group_edges from the group, then SELECT DISTINCT ON (type, state_key) ... ORDER BY type,
# state_key, state_group DESC. It is timed server-side, one EXECUTE per group, in a PL/pgSQL loop
# with clock_timestamp() around each EXECUTE (planning included, as for Synapse, whose driver
# sends the query text every time); the rows are consumed inside the server (count and the total
# length of event_id), so no client round trip is counted. The durations are kept in memory and
# stored after the loop. Per copy: one unmeasured pass (warm cache), then pass 1 over every
# copy, then pass 2 over every copy; the table reports pass 2 (pass 1 is in the details).
#
# It runs its own throwaway cluster (never the one of scripts/cluster.sh) and never preloads or
# installs the extension: it uses the synapse_compress installed in the system PostgreSQL 15.
#
# Environment:
#   READS_ROOMS       rooms, space separated (default "busy-20k busy-5k")
#                       busy-20k   roomgen busy, 20,000 groups, seed 1, every group read
#                       busy-5k    roomgen busy, 5,000 groups, seed 1, every group read
#                       chain-20k  roomgen chain, 20,000 groups, seed 1, every 10th group read
#   READS_EVERY_CHAIN sample step for chain-20k (default 10)
#   READS_VARIANTS    copies, space separated (default "now levels fa50 fa100 fa150 fa100m fa100s")
#   READS_KEEP=1      keep the reads_* databases afterwards (default: dropped per room)
#   READS_STOP=0      leave the cluster running at the end (default: stopped)
#   PG_CLUSTER_DIR    default target/pg-reads;  PGPORT default 54359
#   READS_SHARED_BUFFERS  shared_buffers of that cluster (default 1GB: every copy of a room stays
#                     in shared memory between its warm-up and pass 2)
# Output: a markdown section (machine, table, details) in target/reads/results-<time>.md and on
# stdout; raw figures in target/reads/results-<time>.tsv. BENCHMARKS.md is not edited.
set -euo pipefail
_here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
export PG_CLUSTER_DIR="${PG_CLUSTER_DIR:-$(dirname "$_here")/target/pg-reads}"
export PGPORT="${PGPORT:-54359}"
# Never preload the extension here: the library file is replaced by installs elsewhere, and a
# server that preloaded it crashes when that happens. CREATE EXTENSION loads it per backend.
export PG_PRELOAD=''
. "$_here/lib.sh"

READS_ROOMS="${READS_ROOMS:-busy-20k busy-5k}"
EVERY_CHAIN="${READS_EVERY_CHAIN:-10}"
SHARED_BUFFERS="${READS_SHARED_BUFFERS:-1GB}"
OUT="$ROOT/target/reads"
STAMP="$(date -u +%Y%m%d-%H%M%S)"
TSV="$OUT/results-$STAMP.tsv"
MD="$OUT/results-$STAMP.md"
VARIANTS=(${READS_VARIANTS:-now levels fa50 fa100 fa150 fa100m fa100s})
[ "$PG_CLUSTER_DIR" != "$ROOT/target/pg" ] || die "PG_CLUSTER_DIR must not be the shared cluster target/pg"

room_spec() { # name -> "shape groups room_id every"
    case "$1" in
        busy-20k) echo "busy 20000 !busy:bench.example.org 1" ;;
        busy-5k) echo "busy 5000 !busy5k:bench.example.org 1" ;;
        chain-20k) echo "chain 20000 !chain20k:bench.example.org $EVERY_CHAIN" ;;
        busy-1k) echo "busy 1000 !busy1k:bench.example.org 1" ;; # smoke test of the script
        *) die "unknown room '$1' (known: busy-20k busy-5k chain-20k busy-1k)" ;;
    esac
}
for r in $READS_ROOMS; do room_spec "$r" >/dev/null; done

compress_sql() { # variant ROOM -> the compress call (empty for "now")
    case "$1" in
        now) echo "" ;;
        levels) echo "synapse_compress.compress_room_state(:'room', method => 'levels')" ;;
        fa50) echo "synapse_compress.compress_room_state(:'room', method => 'fork_aware', max_chain => 50)" ;;
        fa100) echo "synapse_compress.compress_room_state(:'room', method => 'fork_aware', max_chain => 100)" ;;
        fa150) echo "synapse_compress.compress_room_state(:'room', method => 'fork_aware', max_chain => 150)" ;;
        fa100m | fa100s) echo "synapse_compress.compress_room_state(:'room', method => 'fork_aware', max_chain => 100)" ;;
    esac
}
budget_sql() { # variant -> the session's read budget
    case "$1" in
        fa100m) echo "SET synapse_compress.read_budget = median;" ;;
        fa100s) echo "SET synapse_compress.read_budget = strict;" ;;
        *) echo "" ;;
    esac
}
variant_label() {
    case "$1" in
        now) echo "now (Synapse alone)" ;;
        levels) echo "\`'levels'\` {100,50,25}" ;;
        fa50) echo "\`'fork_aware'\` max_chain 50" ;;
        fa100) echo "\`'fork_aware'\` max_chain 100 (default)" ;;
        fa150) echo "\`'fork_aware'\` max_chain 150" ;;
        fa100m) echo "\`'fork_aware'\` max_chain 100, read_budget median" ;;
        fa100s) echo "\`'fork_aware'\` max_chain 100, read_budget strict" ;;
    esac
}
thousands() { awk -v n="$1" 'BEGIN { if (n == "") { print "-"; exit } s = sprintf("%d", n); r = "";
    while (length(s) > 3) { r = "," substr(s, length(s) - 2) r; s = substr(s, 1, length(s) - 3) } print s r }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "" || b == "" || b + 0 == 0) print "-"; else printf "%.2f", a / b }'; }
loadavg() { cut -d' ' -f1 /proc/loadavg; }

# The timing harness, created in the base database before it is copied (so every copy has the
# same one). reads_bench.sample: the groups read, every EVERY-th group of the room by id.
HARNESS_SQL=$(cat <<'SQL'
DROP SCHEMA IF EXISTS reads_bench CASCADE;
CREATE SCHEMA reads_bench;
CREATE TABLE reads_bench.timing (pass int, state_group bigint, ms float8, nrows int);
CREATE TABLE reads_bench.sample AS
    SELECT id AS state_group FROM (SELECT id, row_number() OVER (ORDER BY id) AS rn FROM state_groups) s
    WHERE (rn - 1) % :every = 0;
-- pass 0: warm-up, not stored. Synapse's full-state read, verbatim but for the bind parameter.
CREATE FUNCTION reads_bench.run(p_pass int) RETURNS bigint LANGUAGE plpgsql AS $fn$
DECLARE
    gs bigint[];
    ms float8[];
    ns int[];
    n int;
    len bigint;
    t0 timestamptz;
    i int := 0;
    q constant text := $q$SELECT count(*)::int, sum(length(event_id)) FROM (
                WITH RECURSIVE sgs(state_group) AS (
                    VALUES($1::bigint)
                    UNION ALL
                    SELECT prev_state_group FROM state_group_edges e, sgs s
                    WHERE s.state_group = e.state_group
                )

                    SELECT DISTINCT ON (type, state_key)
                        type, state_key, event_id
                    FROM state_groups_state
                    WHERE state_group IN (
                        SELECT state_group FROM sgs
                    )
                    ORDER BY type, state_key, state_group DESC
                ) AS synapse_read$q$;
BEGIN
    -- Synapse: txn.execute("SET LOCAL enable_seqscan=off") before its reads.
    SET LOCAL enable_seqscan = off;
    SELECT array_agg(state_group ORDER BY state_group) INTO gs FROM reads_bench.sample;
    ms := array_fill(0::float8, ARRAY[cardinality(gs)]);
    ns := array_fill(0, ARRAY[cardinality(gs)]);
    FOR i IN 1 .. cardinality(gs) LOOP
        t0 := clock_timestamp();
        EXECUTE q INTO n, len USING gs[i];
        ms[i] := extract(epoch FROM clock_timestamp() - t0) * 1000;
        ns[i] := n;
    END LOOP;
    IF p_pass > 0 THEN
        DELETE FROM reads_bench.timing WHERE pass = p_pass;
        INSERT INTO reads_bench.timing SELECT p_pass, g, m, c FROM unnest(gs, ms, ns) AS u(g, m, c);
    END IF;
    RETURN cardinality(gs);
END
$fn$;
SQL
)

# Shape of the tree for the sampled groups (untimed): groups walked and rows read per read.
SHAPE_SQL=$(cat <<'SQL'
WITH RECURSIVE c(g, sg) AS (
    SELECT state_group, state_group FROM reads_bench.sample
    UNION ALL
    SELECT c.g, e.prev_state_group FROM c JOIN state_group_edges e ON e.state_group = c.sg
), cnt AS (
    SELECT state_group, count(*) AS n FROM state_groups_state GROUP BY state_group
), per AS (
    SELECT c.g, count(*) AS walked, coalesce(sum(cnt.n), 0) AS rows_read
    FROM c LEFT JOIN cnt ON cnt.state_group = c.sg GROUP BY c.g
)
SELECT (SELECT count(*) FROM state_groups_state),
       (SELECT max(walked) FROM per),
       concat_ws('/', percentile_disc(0.5) WITHIN GROUP (ORDER BY walked),
                      percentile_disc(0.99) WITHIN GROUP (ORDER BY walked), max(walked)),
       concat_ws('/', percentile_disc(0.5) WITHIN GROUP (ORDER BY rows_read),
                      percentile_disc(0.99) WITHIN GROUP (ORDER BY rows_read), max(rows_read)),
       pg_size_pretty(pg_total_relation_size('state_groups_state'))
FROM per;
SQL
)

# p50|p99|max|mean (ms, 3 decimals) and the result rows p50 of pass P.
STATS_SQL="SELECT concat_ws('|', round(percentile_cont(0.5) WITHIN GROUP (ORDER BY ms)::numeric, 3),
    round(percentile_cont(0.99) WITHIN GROUP (ORDER BY ms)::numeric, 3), round(max(ms)::numeric, 3),
    round(avg(ms)::numeric, 3), count(*), percentile_disc(0.5) WITHIN GROUP (ORDER BY nrows))
  FROM reads_bench.timing WHERE pass = :pass"

# ---------------------------------------------------------------------------------------------
mkdir -p "$OUT"
cluster_start
if [ "$(psql_db postgres -Atc 'SHOW shared_buffers')" != "$SHARED_BUFFERS" ]; then
    psql_db postgres -c "ALTER SYSTEM SET shared_buffers = '$SHARED_BUFFERS'"
    cluster_stop
    cluster_start
fi
PG_VERSION="$(psql_db postgres -Atc 'SHOW server_version')"
JIT="$(psql_db postgres -Atc 'SHOW jit')"
NPROC="$(nproc)"
MEM_GIB="$(awk '/^MemTotal:/ { printf "%.1f", $2 / 1048576 }' /proc/meminfo)"
CPU="$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)"
COMMIT="$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)"
EXT_SO=/usr/lib/postgresql/15/lib/synapse_compress.so
EXT_DATE="$(date -u -r "$EXT_SO" '+%Y-%m-%d %H:%M UTC' 2>/dev/null || echo unknown)"

printf 'room\tvariant\tgroups_read\trows_after\tchanged\tmax_chain_after_fn\tlongest_chain\twalked\trows_read\ttable_size\tp1\tp2\tload1\tload2\tmessage\n' >"$TSV"

for r in $READS_ROOMS; do
    read -r shape groups room every <<<"$(room_spec "$r")"
    base=reads_base
    say "room $r: generating and loading ($shape, $groups groups, seed 1)"
    create_db "$base"
    prepare_synapse_db "$base"
    load_room "$base" "$room" "$shape" "$groups" 1 1
    psql_db "$base" -c "VACUUM (FREEZE, ANALYZE) state_groups, state_group_edges, state_groups_state"
    psql_db "$base" -v every="$every" <<<"$HARNESS_SQL"
    declare -A changed=() fnchain=() msg=() shapes=() p1=() p2=() l1=() l2=()
    for v in "${VARIANTS[@]}"; do
        db="reads_$v"
        psql_db postgres -c "SET client_min_messages = warning" \
            -c "DROP DATABASE IF EXISTS \"$db\" WITH (FORCE)" \
            -c "CREATE DATABASE \"$db\" TEMPLATE \"$base\" STRATEGY = FILE_COPY"
        call="$(compress_sql "$v")"
        if [ -n "$call" ]; then
            say "room $r: compressing copy $v"
            res="$(psql_db "$db" -qAt -F '|' -v room="$room" <<<"LOAD 'synapse_compress'; $(budget_sql "$v") SELECT state_groups_changed, max_chain_after, applied, message FROM $call")"
            IFS='|' read -r changed[$v] fnchain[$v] applied msg[$v] <<<"$res"
            [ "$applied" = t ] || say "room $r: $v not applied: ${msg[$v]}"
        else
            changed[$v]=0 fnchain[$v]=- msg[$v]='as generated'
        fi
        psql_db "$db" -c "VACUUM ANALYZE state_groups, state_group_edges, state_groups_state"
        shapes[$v]="$(psql_db "$db" -At -F '|' -c "$SHAPE_SQL")"
    done
    for v in "${VARIANTS[@]}"; do
        say "room $r: warm-up pass on $v"
        psql_db "reads_$v" -Atc "SELECT reads_bench.run(0)" >/dev/null
    done
    for pass in 1 2; do
        for v in "${VARIANTS[@]}"; do
            la="$(loadavg)"
            say "room $r: pass $pass on $v (load average $la)"
            psql_db "reads_$v" -Atc "SELECT reads_bench.run($pass)" >/dev/null
            st="$(psql_db "reads_$v" -At -v pass="$pass" <<<"$STATS_SQL")"
            if [ "$pass" = 1 ]; then p1[$v]="$st" l1[$v]="$la"; else p2[$v]="$st" l2[$v]="$la"; fi
        done
    done
    for v in "${VARIANTS[@]}"; do
        IFS='|' read -r rows longest walked rowsread size <<<"${shapes[$v]}"
        printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$r" "$v" "$(cut -d'|' -f5 <<<"${p2[$v]}")" \
            "$rows" "${changed[$v]}" "${fnchain[$v]}" "$longest" "$walked" "$rowsread" "$size" \
            "${p1[$v]}" "${p2[$v]}" "${l1[$v]}" "${l2[$v]}" "${msg[$v]}" >>"$TSV"
    done
    unset changed fnchain msg shapes p1 p2 l1 l2
    if [ "${READS_KEEP:-0}" != 1 ]; then
        for v in "${VARIANTS[@]}" base; do
            psql_db postgres -c "SET client_min_messages = warning" -c "DROP DATABASE IF EXISTS \"reads_$v\" WITH (FORCE)"
        done
    fi
done

# ---------------------------------------------------------------------------------------------
# The markdown section.
{
    echo "## $(date -u '+%Y-%m-%d %H:%M UTC') — Read cost in Synapse's terms (issue 9) (commit $COMMIT, \`scripts/bench_reads.sh\`)"
    echo
    echo "Machine: $NPROC CPUs ($CPU), $MEM_GIB GiB RAM, load average $(cut -d' ' -f1-3 /proc/loadavg) at the end; PostgreSQL $PG_VERSION (own throwaway cluster: shared_buffers $SHARED_BUFFERS, jit $JIT, fsync off, no preloaded library); synapse_compress as installed in the system PostgreSQL ($EXT_SO of $EXT_DATE)."
    echo
    echo "| room | copy | rows after | longest chain | read ms p50 | p99 | max | mean | p50 ÷ now | p99 ÷ now | mean ÷ now | rows read p50/p99/max | groups walked p50/p99/max |"
    echo "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---|"
    awk -F'\t' 'NR > 1 { print }' "$TSV" | while IFS=$'\t' read -r r v n rows changed fnchain longest walked rowsread size p1 p2 la1 la2 message; do
        IFS='|' read -r p50 p99 max mean cnt res50 <<<"$p2"
        if [ "$v" = now ]; then now50="$p50" now99="$p99" nowmean="$mean"; fi
        sample="every group"
        [ "$n" = "$(room_spec "$r" | cut -d' ' -f2)" ] || sample="$(thousands "$n") groups"
        echo "| $r ($sample) | $(variant_label "$v") | $(thousands "$rows") | $longest | $p50 | $p99 | $max | $mean | $(ratio "$p50" "$now50") | $(ratio "$p99" "$now99") | $(ratio "$mean" "$nowmean") | $rowsread | $walked |"
    done
    echo
    echo "Details (pass 1 = the first measured pass, p50/p99/max/mean ms; load average before each pass):"
    echo
    awk -F'\t' 'NR > 1 { print }' "$TSV" | while IFS=$'\t' read -r r v n rows changed fnchain longest walked rowsread size p1 p2 la1 la2 message; do
        IFS='|' read -r a b c d _ res50 <<<"$p1"
        echo "- $r $v: groups changed $changed, state_groups_state $size after VACUUM; pass 1 $a/$b/$c/$d (load $la1), pass 2 load $la2; result rows per read p50 $res50; \`$message\`"
    done
} >"$MD"
cat "$MD"
say "results: $MD ($TSV)"

if [ "${READS_STOP:-1}" = 1 ]; then
    cluster_stop
fi
