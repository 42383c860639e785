#!/usr/bin/env bash
# The background worker (issue 8), in the private cluster, which preloads synapse_compress:
# enabled with ALTER SYSTEM and a reload it compresses a database by itself as the owner of
# Synapse's tables; a settings change reaches it on SIGHUP; between runs it holds no database
# connection (CREATE DATABASE ... TEMPLATE and DROP DATABASE work); pg_terminate_backend stops a
# run mid-chunk within about a second with nothing half-written; a killed launcher comes back.
# Every check ends by comparing every group's resolved state. Prints "N passed, M failed".
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/../scripts/lib.sh"

DB=synapse_worker
ROLE=synapse_worker_owner
passed=0
failed=0
pass() { passed=$((passed + 1)); echo "ok   - $*"; }
fail() { failed=$((failed + 1)); echo "FAIL - $*"; }
q() { psql_db "$DB" -t -A -c "$1"; }
qp() { psql_db postgres -t -A -c "$1"; }
digest() { q "SELECT md5(string_agg(d.digest, ',' ORDER BY r.room_id)) FROM (SELECT DISTINCT room_id FROM state_groups) r,
               LATERAL synapse_compress_test.state_digest(r.room_id) d"; }
set_worker() { qp "ALTER SYSTEM SET synapse_compress.$1 = '$2'" >/dev/null; }
reload() { qp "SELECT pg_reload_conf()" >/dev/null; }
worker_pid() { qp "SELECT pid FROM pg_stat_activity WHERE backend_type = 'synapse_compress worker'"; }
# wait_for SECONDS SQL: until SQL (in $DB) prints t
wait_for() {
    local i
    for i in $(seq 1 $(($1 * 10))); do
        [ "$(q "$2" 2>/dev/null)" = t ] && return 0
        sleep 0.1
    done
    return 1
}
cleanup() {
    for s in worker_enabled database worker_role naptime worker_chunk_size worker_chunks; do
        qp "ALTER SYSTEM RESET synapse_compress.$s" >/dev/null 2>&1 || true
    done
    reload || true
}
trap cleanup EXIT

create_db "$DB"
prepare_synapse_db "$DB"
load_room "$DB" '!busy:example.org' busy 3000 1
load_room "$DB" '!chain:example.org' chain 3000 100001
# Synapse's own role owns its tables and the schema; it is allowed to run the extension.
q "SET client_min_messages = warning; DROP ROLE IF EXISTS $ROLE" >/dev/null 2>&1 || true
psql_db "$DB" >/dev/null <<SQL
SET client_min_messages = warning;
CREATE ROLE $ROLE LOGIN;
ALTER SCHEMA public OWNER TO $ROLE;
ALTER TABLE state_groups OWNER TO $ROLE;
ALTER TABLE state_group_edges OWNER TO $ROLE;
ALTER TABLE state_groups_state OWNER TO $ROLE;
ALTER TABLE state_groups_pending_deletion OWNER TO $ROLE;
ALTER TABLE background_updates OWNER TO $ROLE;
GRANT USAGE ON SCHEMA synapse_compress TO $ROLE;
GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA synapse_compress TO $ROLE;
GRANT EXECUTE ON ALL PROCEDURES IN SCHEMA synapse_compress TO $ROLE;
GRANT SELECT, INSERT, UPDATE, DELETE ON synapse_compress.runs, synapse_compress.chunks TO $ROLE;
SQL
before=$(digest)
rows_before=$(q "SELECT count(*) FROM state_groups_state")

# 1. Enabled: it compresses the database by itself, with the settings of its role in the database.
q "ALTER ROLE $ROLE IN DATABASE $DB SET synapse_compress.read_budget = median" >/dev/null
launcher=$(qp "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'synapse_compress launcher' AND datname IS NULL")
set_worker database "$DB"
set_worker worker_role "$ROLE"
set_worker naptime 1
set_worker worker_chunk_size 500
set_worker worker_chunks 1000
set_worker worker_enabled on
reload
if wait_for 60 "SELECT count(*) > 0 FROM synapse_compress.runs WHERE source = 'worker' AND finished_at IS NOT NULL"; then
    rows_after=$(q "SELECT count(*) FROM state_groups_state")
    owner=$(q "SELECT tableowner FROM pg_tables WHERE tablename = 'state_compressor_progress'")
    budgets=$(q "SELECT string_agg(DISTINCT coalesce(details->>'read_budget', 'none'), ',') FROM synapse_compress.chunks
                 WHERE outcome IN ('compressed', 'unchanged', 'skipped')")
    if [ "$launcher" = 1 ] && [ "$(digest)" = "$before" ] && [ "$rows_after" -lt "$rows_before" ] && [ "$owner" = "$ROLE" ] \
        && [ "$budgets" = median ]; then
        pass "the worker compressed the database by itself as $ROLE ($rows_before -> $rows_after rows, read budget of its role: $budgets), every state the same"
    else
        fail "worker run: launcher $launcher, rows $rows_before -> $rows_after, progress owner $owner, read budgets $budgets"
    fi
    q "ALTER ROLE $ROLE IN DATABASE $DB RESET synapse_compress.read_budget" >/dev/null
else
    fail "no worker run finished within 60 s: $(tail -n 5 "$PG_LOG")"
fi

# 2. A settings change reaches the launcher and the next worker on SIGHUP.
set_worker worker_chunk_size 77
reload
q "INSERT INTO state_groups SELECT 200000 + i, '!chain:example.org', '\$n' FROM generate_series(1, 200) i;
   INSERT INTO state_groups_state SELECT 200000 + i, '!chain:example.org', 'm.room.member', '@n' || k, '\$n' || k
   FROM generate_series(1, 200) i, generate_series(1, i) k" >/dev/null
before=$(digest)
if wait_for 30 "SELECT count(*) > 0 FROM synapse_compress.runs WHERE source = 'worker' AND chunk_size = 77 AND finished_at IS NOT NULL AND chunks > 0" \
    && [ "$(digest)" = "$before" ]; then
    pass "after SIGHUP the next run uses worker_chunk_size 77 and compresses the new groups"
else
    fail "SIGHUP: $(q "SELECT run_id, chunk_size, chunks, finished_at FROM synapse_compress.runs ORDER BY run_id DESC LIMIT 3")"
fi

# 3. Between runs no connection: a template copy and a DROP DATABASE of another database.
set_worker naptime 3600
reload
for _ in $(seq 1 100); do [ -z "$(worker_pid)" ] && break; sleep 0.1; done
qp "DROP DATABASE IF EXISTS synapse_worker_copy" >/dev/null
qp "CREATE DATABASE synapse_worker_other" >/dev/null
if qp "CREATE DATABASE synapse_worker_copy TEMPLATE $DB" >/dev/null 2>&1 && qp "DROP DATABASE synapse_worker_other" >/dev/null 2>&1 \
    && [ "$(qp "SELECT count(*) FROM pg_stat_activity WHERE backend_type LIKE 'synapse_compress%' AND datname IS NOT NULL")" = 0 ]; then
    pass "between runs nothing is connected: CREATE DATABASE ... TEMPLATE and DROP DATABASE succeed"
else
    fail "a connection blocks database commands: $(qp "SELECT backend_type, datname FROM pg_stat_activity WHERE backend_type LIKE 'synapse_compress%'")"
fi
qp "DROP DATABASE IF EXISTS synapse_worker_copy" >/dev/null

# 4. pg_terminate_backend mid-chunk: the worker stops within about a second, the open chunk is
#    rolled back, nothing is half-written. One chunk of the whole 20,000-group room takes a
#    few seconds.
load_room "$DB" '!big:example.org' chain 20000 1000001
big_rows=$(q "SELECT count(*) FROM state_groups_state WHERE room_id = '!big:example.org'")
big_md5=$(q "SELECT md5(string_agg(format('%s %s %s %s', state_group, type, state_key, event_id), ',' ORDER BY state_group, type, state_key))
             FROM state_groups_state WHERE room_id = '!big:example.org'")
set_worker worker_chunk_size 20000
set_worker naptime 1
reload
pid=""
for _ in $(seq 1 300); do
    pid=$(qp "SELECT pid FROM pg_stat_activity WHERE backend_type = 'synapse_compress worker' AND query LIKE '%compress_room_chunk%' AND state = 'active'")
    [ -n "$pid" ] && break
    sleep 0.05
done
set_worker naptime 3600
reload
sleep 0.3
start=$(date +%s%N)
[ -z "$pid" ] || qp "SELECT pg_terminate_backend($pid)" >/dev/null 2>&1 || true
for _ in $(seq 1 100); do [ -z "$(worker_pid)" ] && break; sleep 0.02; done
stop_ms=$(( ($(date +%s%N) - start) / 1000000 ))
after_md5=$(q "SELECT md5(string_agg(format('%s %s %s %s', state_group, type, state_key, event_id), ',' ORDER BY state_group, type, state_key))
               FROM state_groups_state WHERE room_id = '!big:example.org'")
if [ -n "$pid" ] && [ -z "$(worker_pid)" ] && [ "$stop_ms" -lt 2000 ] && [ "$after_md5" = "$big_md5" ] \
    && [ "$(q "SELECT count(*) FROM synapse_compress.chunks WHERE room_id = '!big:example.org'")" = 0 ]; then
    pass "pg_terminate_backend mid-chunk: the worker was gone after $stop_ms ms, the room's $big_rows rows untouched"
else
    fail "terminate mid-chunk: pid '$pid', gone after $stop_ms ms, rows unchanged: $([ "$after_md5" = "$big_md5" ] && echo yes || echo no)"
fi

# 5. A launcher killed with SIGKILL is back after the crash restart.
lpid=$(qp "SELECT pid FROM pg_stat_activity WHERE backend_type = 'synapse_compress launcher'")
kill -9 "$lpid"
back=no
for _ in $(seq 1 300); do
    now=$(qp "SELECT pid FROM pg_stat_activity WHERE backend_type = 'synapse_compress launcher'" 2>/dev/null || true)
    if [ -n "$now" ] && [ "$now" != "$lpid" ]; then back=yes; break; fi
    sleep 0.1
done
[ "$back" = yes ] && pass "a killed launcher is restarted" || fail "the launcher did not come back after SIGKILL"

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
