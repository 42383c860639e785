#!/usr/bin/env bash
# Unattended runs over many rooms (issue 8), through psql against the private cluster:
# compress_largest_rooms over a database of a chain room, a busy room, 100 small rooms and a
# corrupt room (its error is recorded and the run goes on), commits per chunk, a second run that
# finds nothing to do, resuming after Synapse purged a saved level head and after a whole room
# was purged, and 500-group chunks of chain-20k against one compress_room_state call. Every
# check ends by comparing every group's resolved state (sampled on chain-20k, whose full states
# hold 200 million entries). Prints "N passed, M failed".
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/../scripts/lib.sh"

DB=synapse_runs
passed=0
failed=0
pass() { passed=$((passed + 1)); echo "ok   - $*"; }
fail() { failed=$((failed + 1)); echo "FAIL - $*"; }
q() { psql_db "$DB" -t -A -c "$1"; }
# digest of every room's resolved state but the corrupt one's
all_digests() {
    q "SELECT md5(string_agg(room_id || ':' || d.digest, ',' ORDER BY room_id))
       FROM (SELECT DISTINCT room_id FROM state_groups WHERE room_id <> '!corrupt:x') r,
            LATERAL synapse_compress_test.state_digest(r.room_id) d"
}

create_db "$DB"
prepare_synapse_db "$DB"
load_room "$DB" '!chain:example.org' chain 2500 1
load_room "$DB" '!busy:example.org' busy 3000 100001
psql_db "$DB" >/dev/null <<'SQL'
-- 100 small rooms of 40 groups, a snapshot every 10
INSERT INTO state_groups SELECT 1000000 + r * 100 + i, '!small' || r || ':x', '$e' FROM generate_series(1, 100) r, generate_series(1, 40) i;
INSERT INTO state_group_edges SELECT 1000000 + r * 100 + i, 1000000 + r * 100 + i - 1
    FROM generate_series(1, 100) r, generate_series(2, 40) i WHERE i % 10 <> 1;
INSERT INTO state_groups_state SELECT 1000000 + r * 100 + i, '!small' || r || ':x', 'm.room.member', '@u' || k, '$m' || k
    FROM generate_series(1, 100) r, generate_series(1, 40) i, generate_series(1, i) k WHERE (i % 10 = 1 AND k <= i) OR k = i;
-- a corrupt room: group 2000010 has two edges
INSERT INTO state_groups SELECT 2000000 + i, '!corrupt:x', '$e' FROM generate_series(1, 20) i;
INSERT INTO state_group_edges SELECT 2000000 + i, 2000000 + i - 1 FROM generate_series(2, 20) i;
INSERT INTO state_group_edges VALUES (2000010, 2000001);
INSERT INTO state_groups_state SELECT 2000000 + i, '!corrupt:x', 'm.room.member', '@u' || i, '$m' || i FROM generate_series(1, 20) i;
ANALYZE;
SQL
before=$(all_digests)
rows_before=$(q "SELECT count(*) FROM state_groups_state")

# 1. One run over the whole database.
out=$(psql_db "$DB" -c "CALL synapse_compress.compress_largest_rooms(chunk_size => 500, number_of_chunks => 1000, method => 'levels')" 2>&1)
rows_after=$(q "SELECT count(*) FROM state_groups_state")
run=$(q "SELECT chunks || ' ' || errors || ' ' || (finished_at IS NOT NULL) FROM synapse_compress.runs ORDER BY run_id DESC LIMIT 1")
first_room=$(q "SELECT room_id FROM synapse_compress.chunks ORDER BY finished_at LIMIT 1")
commits=$(q "SELECT count(DISTINCT xmin::text) = count(*) FROM synapse_compress.chunks")
error=$(q "SELECT sqlstate || ' ' || (message LIKE '%two edges%') FROM synapse_compress.chunks WHERE outcome = 'error'")
progress_rooms=$(q "SELECT count(*) FROM state_compressor_progress")
problems=""
[ "$(all_digests)" = "$before" ] || problems+=" states differ;"
[ "$rows_after" -lt "$rows_before" ] || problems+=" rows did not shrink;"
counted=$(q "SELECT count(*) FROM synapse_compress.chunks WHERE outcome IN ('compressed','unchanged','skipped')")
[ "$run" = "$counted 1 true" ] || problems+=" run row '$run' (chunks $counted);"
[ "$first_room" = '!busy:example.org' ] || problems+=" first room $first_room;"
[ "$commits" = t ] || problems+=" chunks share transactions;"
[ "$error" = "XX001 true" ] || problems+=" error '$error';"
[ "$progress_rooms" = 102 ] || problems+=" $progress_rooms rooms in progress;"
if [ -z "$problems" ]; then
    pass "compress_largest_rooms: $rows_before -> $rows_after rows over 103 rooms, every state the same, a commit per chunk, the corrupt room recorded (XX001) and skipped"
else
    fail "compress_largest_rooms:$problems"
fi
total=$(q "SELECT lowest_uncompressed_group FROM state_compressor_total_progress")
[ "$total" -gt 2000000 ] && pass "the existing tool's cursor points past every compressed group ($total)" \
    || fail "lowest_uncompressed_group is $total"

# 2. A second run finds nothing to do.
rows1=$rows_after
psql_db "$DB" -c "CALL synapse_compress.compress_largest_rooms(500, 1000, method => 'levels')" >/dev/null 2>&1
[ "$(q "SELECT chunks FROM synapse_compress.runs ORDER BY run_id DESC LIMIT 1")" = 0 ] && [ "$(q "SELECT count(*) FROM state_groups_state")" = "$rows1" ] \
    && pass "a second run compresses nothing" || fail "second run: $(q "SELECT * FROM synapse_compress.runs ORDER BY run_id DESC LIMIT 1")"

# 3. Synapse purges history of !chain (deleting the saved level heads) and adds groups; a whole
#    small room is purged. The next run resets the chain's levels, compresses the new groups,
#    and drops the purged room from progress.
psql_db "$DB" >/dev/null <<'SQL'
DELETE FROM state_groups_state WHERE state_group IN (SELECT current_head FROM state_compressor_state WHERE room_id = '!chain:example.org');
DELETE FROM state_group_edges WHERE prev_state_group IN (SELECT current_head FROM state_compressor_state WHERE room_id = '!chain:example.org');
DELETE FROM state_group_edges WHERE state_group IN (SELECT current_head FROM state_compressor_state WHERE room_id = '!chain:example.org');
DELETE FROM state_groups WHERE id IN (SELECT current_head FROM state_compressor_state WHERE room_id = '!chain:example.org');
INSERT INTO state_groups SELECT 5000 + i, '!chain:example.org', '$new' FROM generate_series(1, 300) i;
INSERT INTO state_groups_state SELECT 5000 + i, '!chain:example.org', 'm.room.member', '@new' || k, '$n' || k
    FROM generate_series(1, 300) i, generate_series(1, i) k;
DELETE FROM state_groups_state WHERE room_id = '!small7:x';
DELETE FROM state_group_edges WHERE state_group IN (SELECT id FROM state_groups WHERE room_id = '!small7:x');
DELETE FROM state_groups WHERE room_id = '!small7:x';
INSERT INTO state_compressor_progress VALUES ('!small7:x', 1000740) ON CONFLICT (room_id) DO NOTHING;
SQL
before=$(all_digests)
rows_before=$(q "SELECT count(*) FROM state_groups_state")
out=$(psql_db "$DB" -c "CALL synapse_compress.compress_largest_rooms(500, 1000, method => 'levels')" 2>&1)
rows_after=$(q "SELECT count(*) FROM state_groups_state")
if [ "$(all_digests)" = "$before" ] && [ "$rows_after" -lt "$rows_before" ] && [[ "$out" == *"saved levels reset"*"no longer exists"* ]] && [[ "$out" == *"1 room(s) no longer exist"* ]] \
    && [ "$(q "SELECT count(*) FROM state_compressor_progress WHERE room_id = '!small7:x'")" = 0 ] \
    && [ "$(q "SELECT count(*) FROM synapse_compress.chunks WHERE outcome = 'error' AND room_id <> '!corrupt:x'")" = 0 ]; then
    pass "after purges: levels reset with a NOTICE, new groups compressed ($rows_before -> $rows_after), the purged room dropped, states the same"
else
    fail "after purges: rows $rows_before -> $rows_after: $out"
fi

# 4. chain-20k: 500-group chunks end with the rows of one compress_room_state call (54,506)
#    with the level method; with the fork-aware method, within 2% of one call.
load_room "$DB" '!c20a:example.org' chain 20000 3000001
load_room "$DB" '!c20b:example.org' chain 20000 4000001
sample() { q "SELECT md5(string_agg(format('%s %s %s %s', g, s.type, s.state_key, s.event_id), ',' ORDER BY g, s.type, s.state_key))
              FROM generate_series($1, $1 + 19999, 997) g, LATERAL synapse_compress_test.group_state(g) s"; }
sample_a=$(sample 3000001)
sample_b=$(sample 4000001)
q "SELECT applied FROM synapse_compress.compress_room_state('!c20a:example.org', method => 'levels')" >/dev/null
for _ in $(seq 1 41); do
    q "SELECT outcome FROM synapse_compress.compress_room_chunk('!c20b:example.org', 500, method => 'levels')" >/dev/null
done
rows_a=$(q "SELECT count(*) FROM state_groups_state WHERE room_id = '!c20a:example.org'")
rows_b=$(q "SELECT count(*) FROM state_groups_state WHERE room_id = '!c20b:example.org'")
if [ "$rows_a" = 54506 ] && [ "$rows_b" = "$rows_a" ] && [ "$(sample 3000001)" = "$sample_a" ] && [ "$(sample 4000001)" = "$sample_b" ]; then
    pass "chain-20k: 40 chunks of 500 give $rows_b rows, one call $rows_a; sampled states the same"
else
    fail "chain-20k: chunks $rows_b rows, one call $rows_a rows"
fi
# the fork-aware method, on a chain and a busy room of 6,000 groups, two copies each
for shape in chain busy; do
    base=$([ "$shape" = chain ] && echo 5000001 || echo 7000001)
    load_room "$DB" "!${shape}-one:example.org" "$shape" 6000 "$base"
    load_room "$DB" "!${shape}-chunks:example.org" "$shape" 6000 $((base + 1000000))
    one_before=$(q "SELECT digest FROM synapse_compress_test.state_digest('!${shape}-one:example.org')")
    chunks_before=$(q "SELECT digest FROM synapse_compress_test.state_digest('!${shape}-chunks:example.org')")
    q "SELECT applied FROM synapse_compress.compress_room_state('!${shape}-one:example.org')" >/dev/null
    for _ in $(seq 1 13); do
        q "SELECT outcome FROM synapse_compress.compress_room_chunk('!${shape}-chunks:example.org', 500)" >/dev/null
    done
    rows_one=$(q "SELECT count(*) FROM state_groups_state WHERE room_id = '!${shape}-one:example.org'")
    rows_chunks=$(q "SELECT count(*) FROM state_groups_state WHERE room_id = '!${shape}-chunks:example.org'")
    chain=$(q "SELECT max((details->>'max_chain_after')::int) FROM synapse_compress.chunks WHERE room_id = '!${shape}-chunks:example.org'")
    if [ $((rows_chunks * 100)) -le $((rows_one * 102)) ] && [ "${chain:-999}" -le 100 ] \
        && [ "$(q "SELECT digest FROM synapse_compress_test.state_digest('!${shape}-one:example.org')")" = "$one_before" ] \
        && [ "$(q "SELECT digest FROM synapse_compress_test.state_digest('!${shape}-chunks:example.org')")" = "$chunks_before" ]; then
        pass "fork-aware, $shape 6,000 groups: 12 chunks of 500 give $rows_chunks rows, one call $rows_one (within 2%), chains <= 100, every state the same"
    else
        fail "fork-aware, $shape: chunks $rows_chunks rows, one call $rows_one rows, longest chain $chain"
    fi
done

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
