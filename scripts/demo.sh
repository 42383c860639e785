#!/usr/bin/env bash
# Command 1 of the README: installs everything needed, builds and installs the extension,
# starts a private PostgreSQL 15 cluster, generates a realistic Synapse room and compresses it,
# then proves with a plain-SQL resolver that every state group resolves exactly as before.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

DB=synapse_demo
ROOM='!demo:example.org'
ROOM_GROUPS="${DEMO_GROUPS:-5000}"

ensure_deps
ensure_cargo_pgrx
ensure_pgrx_init
install_extension
cluster_start
create_db "$DB"
prepare_synapse_db "$DB"
say "demo: generating room $ROOM ($ROOM_GROUPS state groups: joins, leaves, renames, topic and power-level changes, forks, a snapshot every 100 groups)"
load_room "$DB" "$ROOM" busy "$ROOM_GROUPS" 1

say "demo: resolving every group's state before compression (plain SQL, the way Synapse reads it)"
psql_db "$DB" -c "CREATE TABLE demo_state_before AS SELECT * FROM synapse_compress_test.resolved_state('$ROOM')"

say "demo: SELECT * FROM synapse_compress.compress_room_state('$ROOM');"
started=$(date +%s%N)
psql_db "$DB" -x -c "SELECT * FROM synapse_compress.compress_room_state('$ROOM')"
elapsed_ms=$(( ($(date +%s%N) - started) / 1000000 ))
say "demo: compress_room_state took ${elapsed_ms} ms (wall, including psql)"

say "demo: comparing every group's full state before and after"
psql_db "$DB" -t -A -F ' ' <<SQL
CREATE TEMP TABLE demo_state_after AS SELECT * FROM synapse_compress_test.resolved_state('$ROOM');
SELECT CASE WHEN d.differences = 0 AND b.n = a.n
            THEN format('full-state comparison: PASS (%s groups, %s state entries, all identical)', g.groups, b.n)
            ELSE format('full-state comparison: FAIL (%s entries differ)', d.differences) END
FROM (SELECT count(*) AS n FROM demo_state_before) b,
     (SELECT count(*) AS n FROM demo_state_after) a,
     (SELECT count(DISTINCT state_group) AS groups FROM demo_state_before) g,
     (SELECT count(*) AS differences FROM (
          (SELECT * FROM demo_state_before EXCEPT ALL SELECT * FROM demo_state_after)
          UNION ALL
          (SELECT * FROM demo_state_after EXCEPT ALL SELECT * FROM demo_state_before)) x) d;
SQL
result=$(psql_db "$DB" -t -A -c "SELECT count(*) FROM ((SELECT * FROM demo_state_before EXCEPT ALL SELECT * FROM synapse_compress_test.resolved_state('$ROOM')) UNION ALL (SELECT * FROM synapse_compress_test.resolved_state('$ROOM') EXCEPT ALL SELECT * FROM demo_state_before)) x")
[ "$result" = 0 ] || die "demo: states differ after compression"
say "demo: done. The cluster keeps running: scripts/cluster.sh psql $DB (stop: scripts/cluster.sh stop)"
