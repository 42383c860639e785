#!/usr/bin/env bash
# Who may run what (issues 7 and 10): both functions run (a) as the owner of Synapse's tables, not
# a superuser, and (b) as a maintenance role holding exactly the privileges the README lists;
# (c) a role without them gets a clear permission error (42501) before anything is read, and
# nothing changes. Each check compares every group's resolved state. Prints "N passed, M failed".
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/../scripts/lib.sh"

DB=synapse_privileges
passed=0
failed=0
pass() { passed=$((passed + 1)); echo "ok   - $*"; }
fail() { failed=$((failed + 1)); echo "FAIL - $*"; }
q() { psql_db "$DB" -t -A -c "$1"; }
as() { local role="$1"; shift; psql_db "$DB" -t -A -v ON_ERROR_STOP=0 -c "SET client_min_messages = warning" -c "SET ROLE $role" -c "$1" 2>&1 || true; }
digest() { q "SELECT digest FROM synapse_compress_test.state_digest('$1')"; }
tables_md5() {
    q "SELECT md5(string_agg(x, E'\n' ORDER BY x)) FROM (
         SELECT format('e %s %s', state_group, prev_state_group) AS x FROM state_group_edges
         UNION ALL SELECT format('s %s %s %s %s', state_group, type, state_key, event_id) FROM state_groups_state) t"
}

create_db "$DB"
prepare_synapse_db "$DB"
for r in 1 2 3; do load_room "$DB" "!p$r:example.org" busy 1500 $((r * 100000 + 1)); done
psql_db "$DB" >/dev/null <<'SQL'
SET client_min_messages = warning;
DO $$ BEGIN
    DROP ROLE IF EXISTS priv_owner; DROP ROLE IF EXISTS priv_maint; DROP ROLE IF EXISTS priv_nobody;
EXCEPTION WHEN OTHERS THEN NULL; END $$;
CREATE ROLE priv_owner; CREATE ROLE priv_maint; CREATE ROLE priv_nobody;
-- (a) Synapse's role owns its tables
ALTER TABLE state_groups OWNER TO priv_owner;
ALTER TABLE state_group_edges OWNER TO priv_owner;
ALTER TABLE state_groups_state OWNER TO priv_owner;
ALTER TABLE state_groups_pending_deletion OWNER TO priv_owner;
ALTER TABLE background_updates OWNER TO priv_owner;
GRANT USAGE ON SCHEMA synapse_compress TO priv_owner, priv_maint, priv_nobody;
GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA synapse_compress TO priv_owner, priv_maint, priv_nobody;
-- (b) the README's minimal set for a maintenance role
GRANT SELECT ON state_groups, state_group_edges, state_groups_state,
                background_updates, state_groups_pending_deletion TO priv_maint;
GRANT INSERT, DELETE ON state_group_edges, state_groups_state TO priv_maint;
GRANT UPDATE (id) ON state_groups TO priv_maint;
GRANT UPDATE ON state_groups_pending_deletion TO priv_maint;
SQL

# (a) and (b): each runs the script function and the call on its own room.
for role in priv_owner:'!p1:example.org' priv_maint:'!p2:example.org'; do
    name=${role%%:*}
    room=${role#*:}
    before=$(digest "$room")
    script=$(as "$name" "SELECT count(*) FROM synapse_compress.compress_room_state_sql('$room')")
    out=$(as "$name" "SELECT applied FROM synapse_compress.compress_room_state('$room')")
    if [[ "$script" =~ ^[0-9]+$ ]] && [ "$script" -gt 3 ] && [ "$out" = t ] && [ "$(digest "$room")" = "$before" ] \
        && [ "$(q "SELECT rolsuper FROM pg_roles WHERE rolname = '$name'")" = f ]; then
        pass "$name (not a superuser) runs both functions; $room compressed, every state the same"
    else
        fail "$name: script lines '$script', call '$out'"
    fi
done

# (c) a role with EXECUTE only: 42501 naming what is missing, nothing changed.
before=$(tables_md5)
out=$(psql_db "$DB" -t -A -v ON_ERROR_STOP=0 -v VERBOSITY=verbose -c "SET ROLE priv_nobody" \
        -c "SELECT applied FROM synapse_compress.compress_room_state('!p3:example.org')" 2>&1 || true)
if [[ "$out" == *42501*"the current role lacks SELECT on public.state_groups"* ]] && [ "$(tables_md5)" = "$before" ]; then
    pass "a role without the grants gets 42501 naming the missing privileges; nothing changed"
else
    fail "no grants: $out"
fi

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
