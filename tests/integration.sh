#!/usr/bin/env bash
# Integration tests through psql against the private cluster, for what a test inside one
# transaction cannot show: a real ROLLBACK, statement_timeout and pg_cancel_backend at any
# moment, and a scheduled call from pg_cron. Ends with the line "N passed, M failed".
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/../scripts/lib.sh"

DB=synapse_it
passed=0
failed=0
pass() { passed=$((passed + 1)); echo "ok   - $*"; }
fail() { failed=$((failed + 1)); echo "FAIL - $*"; }
q() { psql_db "$DB" -t -A -c "$1"; }

# md5 of every row of the three tables (and the deletion queue): "nothing changed" means equal.
tables_md5() {
    q "SELECT md5(string_agg(x, E'\n' ORDER BY x)) FROM (
         SELECT format('g %s %s', id, room_id) AS x FROM state_groups
         UNION ALL SELECT format('e %s %s', state_group, prev_state_group) FROM state_group_edges
         UNION ALL SELECT format('s %s %s %s %s', state_group, type, state_key, event_id) FROM state_groups_state
         UNION ALL SELECT format('p %s %s %s', state_group, sequence_number, insertion_ts) FROM state_groups_pending_deletion) t"
}
digest() { q "SELECT groups || ' ' || entries || ' ' || digest FROM synapse_compress_test.state_digest('$1')"; }

create_db "$DB"
prepare_synapse_db "$DB"
load_room "$DB" '!big:example.org' chain 6000 1
load_room "$DB" '!busy:example.org' busy 3000 100001
q "INSERT INTO state_groups_pending_deletion (state_group, insertion_ts) VALUES (3, 1)" >/dev/null

# 1. BEGIN; compress; ROLLBACK leaves every row as it was.
before=$(tables_md5)
psql_db "$DB" -c "BEGIN" -c "SELECT applied FROM synapse_compress.compress_room_state('!busy:example.org')" -c "ROLLBACK" >/dev/null
[ "$(tables_md5)" = "$before" ] && pass "ROLLBACK leaves the tables identical" || fail "ROLLBACK changed the tables"

# 2. statement_timeout at many moments: an error 57014 and nothing changed.
# timed warm (the first call reads the room from disk), the fastest of three
full_ms=""
for _ in 1 2 3; do
    start=$(date +%s%N)
    psql_db "$DB" -c "BEGIN" -c "SELECT applied FROM synapse_compress.compress_room_state('!big:example.org')" -c "ROLLBACK" >/dev/null 2>&1
    ms=$(( ($(date +%s%N) - start) / 1000000 ))
    if [ -z "$full_ms" ] || [ "$ms" -lt "$full_ms" ]; then full_ms=$ms; fi
done
echo "#    a full call on !big takes ${full_ms} ms"
fired=0
for pct in 2 10 30 50 70 85 95; do
    t=$(( full_ms * pct / 100 )); [ "$t" -ge 1 ] || t=1
    out=$(psql_db "$DB" -v ON_ERROR_STOP=0 -c "BEGIN" -c "SET LOCAL statement_timeout = '${t}ms'" \
            -c "SELECT applied FROM synapse_compress.compress_room_state('!big:example.org')" -c "ROLLBACK" 2>&1 || true)
    if [[ "$out" == *"canceling statement due to statement timeout"* ]]; then
        fired=$((fired + 1))
        [ "$(tables_md5)" = "$before" ] && pass "statement_timeout ${t}ms (${pct}% of a run): cancelled, nothing changed" \
            || fail "statement_timeout ${t}ms left the tables changed"
    elif [[ "$out" == *"applied"* ]]; then
        echo "#    statement_timeout ${t}ms: the call finished first (rolled back)"
    else
        fail "statement_timeout ${t}ms: $out"
    fi
done
[ "$fired" -ge 5 ] && pass "statement_timeout fired in $fired of 7 attempts" || fail "statement_timeout fired only $fired times"

# 3. pg_cancel_backend while it waits for a lock that Synapse's deleter holds (FOR UPDATE on a
#    group it rewrites): the call waits, then is cancelled, and nothing changed.
psql_db "$DB" -c "SET application_name = 'it_deleter'" -c "BEGIN" \
    -c "SELECT id FROM state_groups WHERE id = 201 FOR UPDATE" -c "SELECT pg_sleep(60)" -c "COMMIT" >/dev/null 2>&1 &
deleter=$!
psql_db "$DB" -v ON_ERROR_STOP=0 -c "SET application_name = 'it_cancel'" \
    -c "SELECT applied FROM synapse_compress.compress_room_state('!big:example.org')" >"$ROOT/target/it_cancel.out" 2>&1 &
bg=$!
waiting=0
for _ in $(seq 1 300); do
    waiting=$(q "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'it_cancel' AND wait_event_type = 'Lock'")
    [ "$waiting" = 1 ] && break
    sleep 0.05
done
q "SELECT pg_cancel_backend(pid) FROM pg_stat_activity WHERE application_name = 'it_cancel'" >/dev/null
wait "$bg" || true
q "SELECT pg_cancel_backend(pid) FROM pg_stat_activity WHERE application_name = 'it_deleter'" >/dev/null
wait "$deleter" || true
if [ "$waiting" = 1 ] && grep -q "canceling statement due to user request" "$ROOT/target/it_cancel.out" \
    && [ "$(tables_md5)" = "$before" ]; then
    pass "waits for the deleter's lock; pg_cancel_backend then leaves nothing changed"
else
    fail "pg_cancel_backend (waiting on lock: $waiting): $(cat "$ROOT/target/it_cancel.out")"
fi

# 4. The races with Synapse's deleter, writers and purge, a deadlock, and two compressions are the
# deterministic isolation specs of tests/isolation (run by scripts/test.sh).

# 5. A real compression of both rooms keeps every state (plain-SQL resolver digest).
busy_before=$(digest '!busy:example.org')
out=$(q "SELECT applied, rows_before, rows_after FROM synapse_compress.compress_room_state('!busy:example.org')")
[[ "$out" == t\|* ]] && [ "$(digest '!busy:example.org')" = "$busy_before" ] \
    && pass "busy room compressed ($out), every group resolves the same" || fail "busy room: $out"
out=$(q "SELECT applied, state_groups_changed FROM synapse_compress.compress_room_state('!busy:example.org')")
[ "$out" = "f|0" ] && pass "second run changes nothing" || fail "second run: $out"

# 6. Faults while a call runs on !big (load, verify and write take about $full_ms ms): the
#    backend is terminated, killed with SIGKILL, or the server stops immediately, at several
#    moments. Nothing is half-written, and a new run afterwards completes.
before=$(tables_md5)
for fault in terminate sigkill immediate; do
    for pct in 20 60 90; do
        t=$(( full_ms * pct / 100 ))
        # in a transaction that would roll back anyway, so a call that ends before the fault
        # cannot commit either: whatever the moment, nothing may be left half-written
        psql_db "$DB" -v ON_ERROR_STOP=0 -c "SET application_name = 'it_fault'" -c "BEGIN" \
            -c "SELECT applied FROM synapse_compress.compress_room_state('!big:example.org')" \
            -c "SELECT pg_sleep(5)" -c "ROLLBACK" >/dev/null 2>&1 &
        caller=$!
        sleep "$(awk "BEGIN { print $t / 1000 }")"
        pid=$(q "SELECT pid FROM pg_stat_activity WHERE application_name = 'it_fault'")
        case "$fault" in
            terminate) q "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'it_fault'" >/dev/null ;;
            sigkill) [ -z "$pid" ] || kill -9 "$pid" ;;
            immediate) runuser -u postgres -- "$PGBIN/pg_ctl" -D "$PGDATA" -m immediate -w stop >/dev/null ;;
        esac
        wait "$caller" || true
        if ! cluster_running; then cluster_start >/dev/null 2>&1; fi
        for _ in $(seq 1 100); do q "SELECT 1" >/dev/null 2>&1 && break; sleep 0.1; done
        if [ "$(tables_md5)" = "$before" ]; then
            pass "$fault at ${pct}% of a run: nothing half-written"
        else
            fail "$fault at ${pct}% of a run changed the tables"
        fi
    done
done
big_before=$(digest '!big:example.org')
out=$(q "SELECT applied FROM synapse_compress.compress_room_state('!big:example.org')")
[ "$out" = t ] && [ "$(digest '!big:example.org')" = "$big_before" ] \
    && pass "after the faults a run completes and every group resolves the same" || fail "after the faults: $out"

# 7. The documented export recipe (psql -XAt ... > file, then psql -f file) on a room whose id,
#    keys and events hold backslashes, tabs, CR/LF, quotes and $$: applying the file makes
#    exactly the change a call would make.
HOSTILE=$'!h\\o\tst\r\nile\'$$:x'
psql_db "$DB" -v room="$HOSTILE" <<'SQL' >/dev/null
INSERT INTO state_groups SELECT i, :'room', '$e' || i FROM generate_series(900001, 900030) i;
INSERT INTO state_group_edges SELECT i, i - 1 FROM generate_series(900002, 900030) i WHERE i % 3 <> 0;
INSERT INTO state_groups_state
    SELECT i, :'room', E'm.room.\\member\t', E'@u\r\n' || k || E'\\:x''$$', E'$ev\\' || k || E'\n'
    FROM generate_series(900001, 900030) i, generate_series(900001, i) k WHERE i % 3 = 0 OR k = i;
SQL
hostile_q() { psql_db "$DB" -t -A -v room="$HOSTILE" <<<"$1"; }
hostile_before=$(hostile_q "SELECT digest FROM synapse_compress_test.state_digest(:'room')")
hostile_rows=$(hostile_q "SELECT count(*) FROM state_groups_state WHERE room_id = :'room'")
"$PGBIN/psql" -h "$PG_SOCKET_DIR" -p "$PGPORT" -U "$PGUSER" -d "$DB" -XAt -v room="$HOSTILE" \
    <<<"SELECT * FROM synapse_compress.compress_room_state_sql(:'room')" >"$ROOT/target/it_hostile.sql"
"$PGBIN/psql" -h "$PG_SOCKET_DIR" -p "$PGPORT" -U "$PGUSER" -d "$DB" -X -q -v ON_ERROR_STOP=1 \
    -f "$ROOT/target/it_hostile.sql" >"$ROOT/target/it_hostile.out" 2>&1 && applied=yes || applied=no
again=$(hostile_q "SELECT state_groups_changed FROM synapse_compress.compress_room_state(:'room')")
hostile_after_rows=$(hostile_q "SELECT count(*) FROM state_groups_state WHERE room_id = :'room'")
if [ "$applied" = yes ] && [ "$(hostile_q "SELECT digest FROM synapse_compress_test.state_digest(:'room')")" = "$hostile_before" ] \
    && [ "$again" = 0 ] && [ "$hostile_after_rows" -lt "$hostile_rows" ] \
    && [ "$(hostile_q "SELECT count(*) FROM synapse_compress_test.graph_problems(:'room')")" = 0 ]; then
    pass "export recipe on hostile strings: applied file keeps every state, rows $hostile_rows -> $hostile_after_rows, a call finds nothing left"
else
    fail "export recipe on hostile strings: applied=$applied, again=$again, rows $hostile_rows -> $hostile_after_rows: $(cat "$ROOT/target/it_hostile.out")"
fi

# 8. A script generated, then Synapse's deleter removes a group the script uses as a new
#    predecessor, then the script is applied: it fails with 40001 and changes nothing.
load_room "$DB" '!late:example.org' chain 1000 400001
psql_db "$DB" -XAt -c "SELECT * FROM synapse_compress.compress_room_state_sql('!late:example.org')" >"$ROOT/target/it_late.sql"
psql_db "$DB" <<'SQL' >/dev/null
BEGIN;
CREATE TEMP TABLE dedelta AS SELECT * FROM synapse_compress_test.group_state(400102);
DELETE FROM state_group_edges WHERE state_group = 400102;
DELETE FROM state_groups_state WHERE state_group = 400102;
INSERT INTO state_groups_state SELECT 400102, '!late:example.org', type, state_key, event_id FROM dedelta;
DELETE FROM state_groups_state WHERE state_group = 400101;
DELETE FROM state_group_edges WHERE state_group = 400101;
DELETE FROM state_groups WHERE id = 400101;
COMMIT;
SQL
late_before=$(tables_md5)
out=$("$PGBIN/psql" -h "$PG_SOCKET_DIR" -p "$PGPORT" -U "$PGUSER" -d "$DB" -X -q -v ON_ERROR_STOP=1 -f "$ROOT/target/it_late.sql" 2>&1 || true)
if [[ "$out" == *"the room changed since this script was generated"*"state group 400101 no longer exists"* ]] \
    && [ "$(tables_md5)" = "$late_before" ]; then
    pass "a script applied after the deleter removed its new predecessor fails and changes nothing"
else
    fail "late script: $out"
fi

# 9. The extension owns its schema: DROP EXTENSION removes it, and CREATE EXTENSION refuses a
#    schema that someone created beforehand.
q "DROP EXTENSION synapse_compress" >/dev/null
gone=$(q "SELECT count(*) FROM pg_namespace WHERE nspname = 'synapse_compress'")
q "SET client_min_messages = warning; DROP ROLE IF EXISTS it_squatter; CREATE ROLE it_squatter; CREATE SCHEMA synapse_compress AUTHORIZATION it_squatter" >/dev/null
out=$(q "CREATE EXTENSION synapse_compress" 2>&1 || true)
q "DROP SCHEMA synapse_compress; DROP ROLE it_squatter; CREATE EXTENSION synapse_compress" >/dev/null
if [ "$gone" = 0 ] && [[ "$out" == *'schema "synapse_compress" already exists'* ]] \
    && [ "$(q "SELECT count(*) FROM pg_proc WHERE pronamespace = 'synapse_compress'::regnamespace AND proname = 'compress_room_state'")" = 1 ]; then
    pass "DROP EXTENSION removes the schema; a schema created beforehand is refused"
else
    fail "schema ownership: left behind=$gone, create over an existing schema: $out"
fi

# 10. pg_cron runs the nightly job on a schedule (cron.database_name is the demo database;
#     Debian's pg_cron schedules by the minute): one job calls compress_room_state on one room,
#     the other the procedure over every room, which commits after each chunk.
CRON_DB="$PG_CRON_DB"
create_db "$CRON_DB"
prepare_synapse_db "$CRON_DB"
psql_db "$CRON_DB" -c "SET client_min_messages = warning" -c "CREATE EXTENSION IF NOT EXISTS pg_cron"
cluster_stop   # dropping its database stopped pg_cron's scheduler; a restart brings it back
cluster_start
load_room "$CRON_DB" '!cron:example.org' chain 1500 1
load_room "$CRON_DB" '!cron-busy:example.org' busy 2000 100001
load_room "$CRON_DB" '!cron-chain:example.org' chain 2000 200001
cq() { psql_db "$CRON_DB" -t -A -c "$1"; }
cron_digest() { cq "SELECT md5(string_agg(d.digest, ',' ORDER BY r.room_id)) FROM (SELECT DISTINCT room_id FROM state_groups) r,
                    LATERAL synapse_compress_test.state_digest(r.room_id) d"; }
cron_before=$(cron_digest)
rows_before=$(cq "SELECT count(*) FROM state_groups_state WHERE room_id = '!cron:example.org'")
all_before=$(cq "SELECT count(*) FROM state_groups_state")
cq "SELECT cron.schedule('compress-cron-room', '* * * * *', \$\$SELECT * FROM synapse_compress.compress_room_state('!cron:example.org', method => 'levels')\$\$)" >/dev/null
cq "SELECT cron.schedule('synapse-compress', '* * * * *', \$\$CALL synapse_compress.compress_largest_rooms(chunk_size => 500, number_of_chunks => 100)\$\$)" >/dev/null
statuses=""
for _ in $(seq 1 120); do
    statuses=$(cq "SELECT string_agg(DISTINCT j.jobname || '=' || d.status, ',' ORDER BY j.jobname || '=' || d.status)
                   FROM cron.job_run_details d JOIN cron.job j USING (jobid) WHERE d.status IN ('succeeded', 'failed')")
    [[ "$statuses" == *compress-cron-room=* && "$statuses" == *synapse-compress=* ]] && break
    sleep 1
done
cq "SELECT cron.unschedule('compress-cron-room'); SELECT cron.unschedule('synapse-compress')" >/dev/null
rows_after=$(cq "SELECT count(*) FROM state_groups_state WHERE room_id = '!cron:example.org'")
all_after=$(cq "SELECT count(*) FROM state_groups_state")
chunks=$(cq "SELECT count(*) || ' ' || (count(DISTINCT xmin::text) = count(*)) FROM synapse_compress.chunks WHERE outcome = 'compressed'")
if [ "$statuses" = "compress-cron-room=succeeded,synapse-compress=succeeded" ] && [ "$rows_after" -lt "$rows_before" ] \
    && [ "$all_after" -lt "$all_before" ] && [ "$(cron_digest)" = "$cron_before" ] && [[ "$chunks" == *" true" ]] \
    && [ "$(cq "SELECT count(*) FROM state_compressor_progress")" -ge 2 ]; then
    pass "pg_cron jobs compressed the rooms ($all_before -> $all_after rows; ${chunks% true} chunks each committed on its own), states identical"
else
    fail "pg_cron: jobs '$statuses', rows $all_before -> $all_after, chunks '$chunks', digest equal: $([ "$(cron_digest)" = "$cron_before" ] && echo yes || echo no)"
fi

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
