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
start=$(date +%s%N)
psql_db "$DB" -c "BEGIN" -c "SELECT applied FROM synapse_compress.compress_room_state('!big:example.org')" -c "ROLLBACK" >/dev/null 2>&1
full_ms=$(( ($(date +%s%N) - start) / 1000000 ))
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

# 4. Races with Synapse's deleter, on a smaller room (ids 200001..201000, snapshot every 100).
#    Under default levels 200201 (a snapshot) becomes a delta on 200101, and 200102 stays a delta
#    on 200101.
RACE='!race:example.org'
load_room "$DB" "$RACE" chain 1000 200001
race_state() { q "SELECT md5(string_agg(format('%s %s %s %s', state_group, type, state_key, event_id), ',' ORDER BY state_group, type, state_key)) FROM synapse_compress_test.resolved_state('$RACE') WHERE state_group <> 200101"; }
race_before=$(race_state)

# 4a. A deadlock in which this call is the victim: the rewrite's subtransaction rolls back,
#     releasing its locks, and the retry succeeds once the other transaction commits.
psql_db "$DB" -c "SET deadlock_timeout = '20s'" -c "BEGIN" \
    -c "SELECT id FROM state_groups WHERE id = 200201 FOR UPDATE" -c "SELECT pg_sleep(1.0)" \
    -c "SELECT id FROM state_groups WHERE id = 200101 FOR UPDATE" -c "SELECT pg_sleep(1)" -c "COMMIT" \
    >"$ROOT/target/it_locker.out" 2>&1 &
locker=$!
sleep 0.2
out=$(psql_db "$DB" -v ON_ERROR_STOP=0 -c "SET deadlock_timeout = '2s'" \
        -c "BEGIN" -c "SELECT applied FROM synapse_compress.compress_room_state('$RACE')" -c "ROLLBACK" 2>&1 || true)
wait "$locker" || true
if [[ "$out" == *"deadlock detected"*"retrying"* ]] && [[ "$out" == *" t"* ]]; then
    pass "a deadlock with another transaction is retried and the call succeeds"
else
    fail "deadlock retry: $out / $(cat "$ROOT/target/it_locker.out")"
fi

# 4b. The race of synapse-state.md: 200101 is queued for deletion and the deleter (REPEATABLE
#     READ) read its sequence number before the compressor re-pointed 200201 at it. The bump
#     makes the deleter's lock fail with 40001, so Synapse retries and keeps 200101.
q "INSERT INTO state_groups_pending_deletion (state_group, insertion_ts) VALUES (200101, 1)" >/dev/null
psql_db "$DB" -v ON_ERROR_STOP=0 -c "BEGIN ISOLATION LEVEL REPEATABLE READ" \
    -c "SELECT sequence_number FROM state_groups_pending_deletion WHERE state_group = 200101" -c "SELECT pg_sleep(1.5)" \
    -c "SELECT state_group FROM state_groups_pending_deletion WHERE state_group = 200101 FOR UPDATE" -c "ROLLBACK" \
    >"$ROOT/target/it_deleter_rr.out" 2>&1 &
deleter=$!
sleep 0.3
psql_db "$DB" -v ON_ERROR_STOP=0 -c "BEGIN" -c "SELECT applied FROM synapse_compress.compress_room_state('$RACE')" -c "ROLLBACK" >/dev/null 2>&1
psql_db "$DB" -c "BEGIN" -c "SELECT applied FROM synapse_compress.compress_room_state('$RACE')" -c "COMMIT" >"$ROOT/target/it_compress_rr.out" 2>&1
wait "$deleter" || true
if grep -q "could not serialize access due to concurrent update" "$ROOT/target/it_deleter_rr.out" \
    && [ "$(q "SELECT prev_state_group FROM state_group_edges WHERE state_group = 200201")" = 200101 ] \
    && [ "$(race_state)" = "$race_before" ]; then
    pass "the bump makes a concurrent deleter fail with 40001 (it retries and keeps the group)"
else
    fail "pending-deletion bump race: $(cat "$ROOT/target/it_deleter_rr.out")"
fi

# 4c. The deleter locks first: it de-deltas 200101's successor 200102 and deletes 200101, then
#     commits while the compressor waits for its lock. The compressor sees 200101 gone and skips
#     every group that would point at it or changed; every remaining group resolves as before.
q "DELETE FROM state_groups_pending_deletion" >/dev/null
load_room "$DB" '!race2:example.org' chain 1000 300001
RACE='!race2:example.org'
race_state() { q "SELECT md5(string_agg(format('%s %s %s %s', state_group, type, state_key, event_id), ',' ORDER BY state_group, type, state_key)) FROM synapse_compress_test.resolved_state('$RACE') WHERE state_group <> 300101"; }
race_before=$(race_state)
psql_db "$DB" >"$ROOT/target/it_deleter.out" 2>&1 <<SQL &
BEGIN;
SELECT id FROM state_groups WHERE id = 300101 FOR UPDATE;
CREATE TEMP TABLE dedelta AS SELECT * FROM synapse_compress_test.group_state(300102);
DELETE FROM state_group_edges WHERE state_group = 300102;
DELETE FROM state_groups_state WHERE state_group = 300102;
INSERT INTO state_groups_state SELECT 300102, '$RACE', type, state_key, event_id FROM dedelta;
DELETE FROM state_groups_state WHERE state_group = 300101;
DELETE FROM state_group_edges WHERE state_group = 300101;
DELETE FROM state_groups WHERE id = 300101;
SELECT pg_sleep(1.5);
COMMIT;
SQL
deleter=$!
sleep 0.5
out=$(q "SELECT applied, message FROM synapse_compress.compress_room_state('$RACE')" 2>&1 || true)
wait "$deleter" || true
dangling=$(q "SELECT count(*) FROM state_group_edges e LEFT JOIN state_groups g ON g.id = e.prev_state_group WHERE g.id IS NULL")
if [[ "$out" == *"t|rewrote"*"skipped 1 group(s)"* ]] && [ "$dangling" = 0 ] && [ "$(race_state)" = "$race_before" ]; then
    pass "deleter first: the compressor skips what vanished or changed, no dangling edge, states intact"
else
    fail "deleter first: $out (dangling edges: $dangling) / $(cat "$ROOT/target/it_deleter.out")"
fi

# 5. A real compression of both rooms keeps every state (plain-SQL resolver digest).
busy_before=$(digest '!busy:example.org')
out=$(q "SELECT applied, rows_before, rows_after FROM synapse_compress.compress_room_state('!busy:example.org')")
[[ "$out" == t\|* ]] && [ "$(digest '!busy:example.org')" = "$busy_before" ] \
    && pass "busy room compressed ($out), every group resolves the same" || fail "busy room: $out"
out=$(q "SELECT applied, state_groups_changed FROM synapse_compress.compress_room_state('!busy:example.org')")
[ "$out" = "f|0" ] && pass "second run changes nothing" || fail "second run: $out"

# 6. pg_cron runs it on a schedule (cron.database_name is the demo database; Debian's pg_cron
#    schedules by the minute).
CRON_DB="$PG_CRON_DB"
create_db "$CRON_DB"
prepare_synapse_db "$CRON_DB"
psql_db "$CRON_DB" -c "SET client_min_messages = warning" -c "CREATE EXTENSION IF NOT EXISTS pg_cron"
cluster_stop   # dropping its database stopped pg_cron's scheduler; a restart brings it back
cluster_start
load_room "$CRON_DB" '!cron:example.org' chain 1500 1
cron_before=$(psql_db "$CRON_DB" -t -A -c "SELECT digest FROM synapse_compress_test.state_digest('!cron:example.org')")
rows_before=$(psql_db "$CRON_DB" -t -A -c "SELECT count(*) FROM state_groups_state")
psql_db "$CRON_DB" -t -A -c "SELECT cron.schedule('compress-cron-room', '* * * * *', \$\$SELECT * FROM synapse_compress.compress_room_state('!cron:example.org')\$\$)" >/dev/null
status=""
for _ in $(seq 1 90); do
    status=$(psql_db "$CRON_DB" -t -A -c "SELECT status FROM cron.job_run_details WHERE status IN ('succeeded', 'failed') ORDER BY runid LIMIT 1")
    [ -n "$status" ] && break
    sleep 1
done
psql_db "$CRON_DB" -t -A -c "SELECT cron.unschedule('compress-cron-room')" >/dev/null
rows_after=$(psql_db "$CRON_DB" -t -A -c "SELECT count(*) FROM state_groups_state")
cron_after=$(psql_db "$CRON_DB" -t -A -c "SELECT digest FROM synapse_compress_test.state_digest('!cron:example.org')")
if [ "$status" = succeeded ] && [ "$rows_after" -lt "$rows_before" ] && [ "$cron_after" = "$cron_before" ]; then
    pass "pg_cron job compressed the room ($rows_before -> $rows_after rows), states identical"
else
    fail "pg_cron: status '$status', rows $rows_before -> $rows_after, digest equal: $([ "$cron_after" = "$cron_before" ] && echo yes || echo no)"
fi

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
