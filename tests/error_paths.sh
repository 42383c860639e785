#!/usr/bin/env bash
# Every error exit, from every caller shape: for each kind of error (a trigger error, a real
# permission error, 40001 / 40P01 / 23505 raised on every attempt so the retries run out, and
# real lock_timeout, statement_timeout and pg_cancel_backend while Synapse's deleter holds a row
# lock) and each way a caller runs the call (top level, explicit transaction, SAVEPOINT,
# PL/pgSQL EXCEPTION block, a procedure that commits between rooms), the caller's later
# statements commit, the session holds no lock of the call, the backend survives, and the
# room's rows are unchanged. Prints "N passed, M failed". Needs the private cluster running.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/../scripts/lib.sh"

DB=synapse_errors
ROOM='!err:example.org'
passed=0
failed=0
q() { psql_db "$DB" -t -A -c "$1"; }
room_md5() {
    q "SELECT md5(string_agg(x, ',' ORDER BY x)) FROM (
         SELECT format('e %s %s', state_group, prev_state_group) x FROM state_group_edges
         UNION ALL SELECT format('s %s %s %s %s', state_group, type, state_key, event_id) FROM state_groups_state) t"
}

create_db "$DB"
prepare_synapse_db "$DB"
q "SET client_min_messages = warning; DROP ROLE IF EXISTS synapse_compress_noperm" >/dev/null
q "CREATE TABLE marker (tag text)
 ; CREATE ROLE synapse_compress_noperm
 ; GRANT USAGE ON SCHEMA synapse_compress TO synapse_compress_noperm
 ; GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA synapse_compress TO synapse_compress_noperm
 ; GRANT SELECT ON ALL TABLES IN SCHEMA public TO synapse_compress_noperm
 ; GRANT ALL ON marker TO synapse_compress_noperm
 ; CREATE FUNCTION raise_code() RETURNS trigger LANGUAGE plpgsql AS \$f\$
   BEGIN RAISE EXCEPTION 'injected %', TG_ARGV[0] USING ERRCODE = TG_ARGV[0]; END \$f\$
 ; CREATE PROCEDURE compress_rooms(rooms text[]) LANGUAGE plpgsql AS \$p\$
   DECLARE r text;
   BEGIN
     FOREACH r IN ARRAY rooms LOOP
       BEGIN
         PERFORM * FROM synapse_compress.compress_room_state(r);
       EXCEPTION WHEN OTHERS THEN
         INSERT INTO marker VALUES ('proc caught ' || SQLSTATE);
       END;
       COMMIT;
     END LOOP;
   END \$p\$" >/dev/null
psql_db "$DB" -c "INSERT INTO state_groups SELECT i, '$ROOM', '\$e' || i FROM generate_series(1, 40) i" \
    -c "INSERT INTO state_group_edges SELECT i, i - 1 FROM generate_series(2, 40) i WHERE i % 10 <> 0" \
    -c "INSERT INTO state_groups_state SELECT i, '$ROOM', 'm.room.member', '@u' || k, '\$m' || k
          FROM generate_series(1, 40) i, generate_series(1, i) k WHERE i % 10 = 0 OR k = i" >/dev/null
before=$(room_md5)

# The call, and the statement that shows whether the call left a lock behind.
CALL="SELECT * FROM synapse_compress.compress_room_state('$ROOM')"
LOCKS="SELECT 'locks=' || count(*) FROM pg_locks WHERE pid = pg_backend_pid() AND (locktype = 'advisory' OR relation = 'state_groups'::regclass)"

# The caller shapes: psql input that runs the call, then its later statements.
shape_sql() {
    case "$1" in
        top) printf '%s;\n%s;\nINSERT INTO marker VALUES (%s);\n' "$CALL" "$LOCKS" "'after'" ;;
        transaction) printf 'BEGIN;\n%s;\nROLLBACK;\n%s;\nINSERT INTO marker VALUES (%s);\n' "$CALL" "$LOCKS" "'after'" ;;
        savepoint) printf "BEGIN;\nINSERT INTO marker VALUES ('before');\nSAVEPOINT s;\n%s;\nROLLBACK TO SAVEPOINT s;\n%s;\nINSERT INTO marker VALUES ('after');\nCOMMIT;\n" "$CALL" "$LOCKS" ;;
        plpgsql) printf "DO \$d\$ BEGIN\n FOR i IN 1..2 LOOP\n  BEGIN PERFORM * FROM synapse_compress.compress_room_state('%s');\n  EXCEPTION WHEN OTHERS THEN INSERT INTO marker VALUES ('caught ' || SQLSTATE); END;\n END LOOP;\n INSERT INTO marker VALUES ('in block');\nEND \$d\$;\n%s;\nBEGIN;\nINSERT INTO marker VALUES ('after');\nCOMMIT;\n" "$ROOM" "$LOCKS" ;;
        procedure) printf "CALL compress_rooms(ARRAY['%s', '%s']);\n%s;\nBEGIN;\nINSERT INTO marker VALUES ('after');\nCOMMIT;\n" "$ROOM" "$ROOM" "$LOCKS" ;;
    esac
}
# Marker rows a shape must have committed when the call failed (KIND SHAPE). A cancel or
# statement timeout is not caught by WHEN OTHERS, as in PostgreSQL itself: it ends the whole
# DO block or CALL, and only the statements after it run.
expected_markers() {
    case "$1:$2" in
        statement_timeout:plpgsql | statement_timeout:procedure | cancel:plpgsql | cancel:procedure) echo 1 ;;
        *:top | *:transaction) echo 1 ;;
        *:savepoint) echo 2 ;;
        *:procedure) echo 3 ;;
        *:plpgsql) echo 4 ;;
    esac
}

# Starts what makes the call fail; sets $settings to the psql settings to run before the call.
blocker_pid=""
settings=""
arrange() {
    settings=""
    case "$1" in
        trigger | 40001 | 40P01 | 23505)
            local code=P0001
            [ "$1" = trigger ] || code=$1
            q "CREATE TRIGGER inject BEFORE INSERT ON state_groups_state FOR EACH STATEMENT EXECUTE FUNCTION raise_code('$code')" >/dev/null
            ;;
        permission) settings="SET ROLE synapse_compress_noperm;" ;;
        lock_timeout | statement_timeout | cancel)
            psql_db "$DB" -c "SET application_name = 'deleter'" -c "BEGIN" \
                -c "SELECT id FROM state_groups WHERE id = 20 FOR UPDATE" -c "SELECT pg_sleep(30)" >/dev/null 2>&1 &
            blocker_pid=$!
            for _ in $(seq 1 100); do
                [ "$(q "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'deleter' AND state = 'active'")" = 1 ] && break
                sleep 0.05
            done
            case "$1" in
                lock_timeout) settings="SET lock_timeout = '200ms';" ;;
                statement_timeout) settings="SET statement_timeout = '700ms';" ;;
                cancel) settings="SET application_name = 'caller';" ;;
            esac
            ;;
    esac
}
clear_arrangement() {
    q "SET client_min_messages = warning; DROP TRIGGER IF EXISTS inject ON state_groups_state" >/dev/null
    if [ -n "$blocker_pid" ]; then
        q "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'deleter'" >/dev/null
        wait "$blocker_pid" 2>/dev/null || true
        blocker_pid=""
    fi
}
# For 'cancel': cancels the caller once it waits on the deleter's lock (in the background).
canceller() {
    for _ in $(seq 1 200); do
        if [ "$(q "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'caller' AND wait_event_type = 'Lock'")" -ge 1 ]; then
            q "SELECT pg_cancel_backend(pid) FROM pg_stat_activity WHERE application_name = 'caller'" >/dev/null
            return
        fi
        sleep 0.05
    done
}

for kind in trigger permission 40001 40P01 23505 lock_timeout statement_timeout cancel; do
    for shape in top transaction savepoint plpgsql procedure; do
        q "TRUNCATE marker" >/dev/null
        arrange "$kind"
        canceller_pid=""
        if [ "$kind" = cancel ]; then
            canceller &
            canceller_pid=$!
        fi
        out=$( { echo "$settings"; shape_sql "$shape"; } | psql_db "$DB" -v ON_ERROR_STOP=0 -t -A 2>&1 ) && code=0 || code=$?
        [ -z "$canceller_pid" ] || wait "$canceller_pid" 2>/dev/null || true
        clear_arrangement
        markers=$(q "SELECT count(*) FROM marker")
        problems=""
        [ "$code" -le 1 ] || problems+=" psql exit $code;"
        [[ "$out" != *"server closed the connection"* && "$out" != *FATAL* ]] || problems+=" backend lost;"
        [[ "$out" == *"locks=0"* ]] || problems+=" locks held;"
        [ "$markers" = "$(expected_markers "$kind" "$shape")" ] || problems+=" $markers marker rows committed;"
        [ "$(room_md5)" = "$before" ] || problems+=" room changed;"
        # the error itself, where psql shows it (the other shapes catch it)
        case "$kind" in
            trigger) want="injected P0001" ;;
            permission) want="the current role lacks" ;;
            40001 | 40P01 | 23505) want="injected $kind" ;;
            lock_timeout) want="lock timeout" ;;
            statement_timeout) want="statement timeout" ;;
            cancel) want="due to user request" ;;
        esac
        case "$shape:$kind" in
            plpgsql:lock_timeout | plpgsql:trigger | plpgsql:permission | plpgsql:4* | plpgsql:23505 | procedure:lock_timeout | procedure:trigger | procedure:permission | procedure:4* | procedure:23505) ;;
            *) [[ "$out" == *"$want"* ]] || problems+=" no '$want' error;" ;;
        esac
        case "$shape:$kind" in
            top:40001 | top:40P01 | top:23505) [[ "$out" == *"retrying (2 of 3 attempts used)"* ]] || problems+=" not retried;" ;;
        esac
        if [ -z "$problems" ]; then
            passed=$((passed + 1))
            echo "ok   - $kind from $shape: later statements committed, no lock held, nothing changed"
        else
            failed=$((failed + 1))
            echo "FAIL - $kind from $shape:$problems"
            echo "$out" | sed 's/^/#    /' | head -20
        fi
    done
done
# The room still compresses afterwards.
out=$(q "SELECT applied FROM synapse_compress.compress_room_state('$ROOM')")
[ "$out" = t ] && { passed=$((passed + 1)); echo "ok   - the room compresses afterwards"; } \
    || { failed=$((failed + 1)); echo "FAIL - the room does not compress afterwards: $out"; }
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
