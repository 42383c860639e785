#!/usr/bin/env bash
# The upgrade path (issue 10): installs synapse_compress 0.1.0 from its install script
# (tests/fixtures/synapse_compress--0.1.0.sql, generated from tag v0.1.0) into a database with
# Synapse's tables, two rooms and grants (a maintenance role with EXECUTE on compress_room_state,
# a role holding EXECUTE on compress_room_state_sql WITH GRANT OPTION, and a third role it granted
# that to), runs ALTER EXTENSION synapse_compress UPDATE, and checks:
#   (a) the catalog equals a fresh CREATE EXTENSION of the current version in another database
#       given the same grants: pg_dump --schema-only -n synapse_compress (which prints almost
#       nothing: pg_dump leaves out an extension's members), so also pg_dump --schema-only
#       --binary-upgrade of the whole database, which dumps every member object, the extension's
#       row and its recorded initial privileges (OIDs, relfilenodes, xids, LSNs, pg_dump's random
#       \restrict key and the database name normalised; nothing else differs), and the
#       pg_extension row, \dx+, membership and other dependencies, pg_init_privs, the schema;
#   (b) the grants survived on the new functions (same ACLs, grantors included), also through a
#       pg_dump and restore;
#   (c) compression works after the update, as the maintenance role (compress_room_state) and
#       as superuser (CALL compress_largest_rooms, with its history rows), and every group
#       resolves as before (synapse_compress_test.state_digest);
#   (d) DROP EXTENSION then removes schema synapse_compress and leaves Synapse's tables.
# Runs in its own throwaway cluster (target/pg-upgrade, port 54369, nothing preloaded) against
# the extension installed in the system PostgreSQL 15 (install it first: `cargo pgrx install
# --release --pg-config /usr/lib/postgresql/15/bin/pg_config`, or scripts/demo.sh). Copies the
# 0.1.0 install script into the extension directory for the duration of the test, with a
# secondary control file synapse_compress--0.1.0.control saying `schema = synapse_compress` (what
# 0.1.0's control file said) while 0.1.0 is created; both are removed at exit (a file of that name
# that was there before is put back). Prints "N passed, M failed".
set -euo pipefail
# Own cluster, set before lib.sh reads them: never another engineer's cluster, never preloaded.
PG_CLUSTER_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/target/pg-upgrade"
PGPORT=54369
PG_PRELOAD=''
export PG_CLUSTER_DIR PGPORT PG_PRELOAD
. "$(dirname "${BASH_SOURCE[0]}")/../scripts/lib.sh"

OLD=synapse_upgrade          # 0.1.0, then ALTER EXTENSION UPDATE
FRESH=synapse_fresh          # CREATE EXTENSION of the current version
RESTORED=synapse_restored    # pg_dump of OLD after the update, restored
OUT="$ROOT/target/pg-upgrade/out"
EXTDIR="$("$PG_CONFIG" --sharedir)/extension"
VERSION="$(sed -n 's/^version = "\(.*\)"$/\1/p' "$ROOT/Cargo.toml" | head -n 1)"
OLD_SIG='text, integer[], bigint, bigint, integer, bigint, boolean'
NEW_SIG='text, integer[], bigint, bigint, integer, bigint, boolean, text, integer'

passed=0
failed=0
pass() { passed=$((passed + 1)); echo "ok   - $*"; }
fail() { failed=$((failed + 1)); echo "FAIL - $*"; }
q() { local db="$1"; shift; psql_db "$db" -t -A -c "$1"; }
dump() { "$PGBIN/pg_dump" -h "$PG_SOCKET_DIR" -p "$PGPORT" -U "$PGUSER" "$@"; }
# pg_dump (15.14 and later) brackets its output with \restrict KEY / \unrestrict KEY, a random key
unkey() { sed -E 's/^\\(un)?restrict [A-Za-z0-9]+$/\\\1restrict KEY/'; }
# same "what" in two files: pass, or fail with the first lines of the diff
same() {
    local what="$1" a="$2" b="$3"
    if diff -u "$a" "$b" >"$a.diff"; then
        pass "$what"
    else
        fail "$what:"
        head -n 40 "$a.diff" | sed 's/^/    /'
    fi
}

# --- preconditions: the current version is installed, with its update script -------------------
grep -q "^default_version = '$VERSION'" "$EXTDIR/synapse_compress.control" \
    || die "the installed synapse_compress is not $VERSION (install the current build first)"
[ -f "$EXTDIR/synapse_compress--$VERSION.sql" ] || die "$EXTDIR/synapse_compress--$VERSION.sql missing"
if cmp -s "$ROOT/sql/synapse_compress--0.1.0--$VERSION.sql" "$EXTDIR/synapse_compress--0.1.0--$VERSION.sql"; then
    pass "the installed extension directory has sql/synapse_compress--0.1.0--$VERSION.sql (copied by cargo pgrx install)"
else
    fail "$EXTDIR/synapse_compress--0.1.0--$VERSION.sql is missing or differs from sql/ (install the current build)"
    echo "$passed passed, $failed failed"
    exit 1
fi

# --- 0.1.0's install script in the extension directory, for this test only ---------------------
FIXTURE="$EXTDIR/synapse_compress--0.1.0.sql"
AUXCTL="$EXTDIR/synapse_compress--0.1.0.control"
mkdir -p "$OUT"
SAVED=""
if [ -e "$FIXTURE" ]; then
    SAVED="$OUT/saved-synapse_compress--0.1.0.sql"
    cp -p "$FIXTURE" "$SAVED"
fi
restore_extdir() {
    cluster_stop >/dev/null 2>&1 || true   # this test's own throwaway cluster
    rm -f "$AUXCTL"
    if [ -n "$SAVED" ]; then cp -p "$SAVED" "$FIXTURE"; else rm -f "$FIXTURE"; fi
}
trap restore_extdir EXIT
cp "$ROOT/tests/fixtures/synapse_compress--0.1.0.sql" "$FIXTURE"
echo "schema = synapse_compress   # 0.1.0's control file (written by tests/upgrade.sh)" >"$AUXCTL"

cluster_start

psql_db postgres >/dev/null <<'SQL'
SET client_min_messages = warning;
DO $$
DECLARE r text;
BEGIN
    FOREACH r IN ARRAY ARRAY['upgrade_maint', 'upgrade_auditor', 'upgrade_reader'] LOOP
        IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = r) THEN
            EXECUTE format('CREATE ROLE %I NOLOGIN', r);
        END IF;
    END LOOP;
END
$$;
SQL

# grants DB SIG: what a DBA grants (the same in every database, with that version's signature)
grants() {
    psql_db "$1" >/dev/null <<SQL
GRANT USAGE ON SCHEMA synapse_compress TO upgrade_maint, upgrade_auditor, upgrade_reader;
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO upgrade_maint;
GRANT EXECUTE ON FUNCTION synapse_compress.compress_room_state($2) TO upgrade_maint;
GRANT EXECUTE ON FUNCTION synapse_compress.compress_room_state_sql($2) TO upgrade_auditor WITH GRANT OPTION;
SET ROLE upgrade_auditor;
GRANT EXECUTE ON FUNCTION synapse_compress.compress_room_state_sql($2) TO upgrade_reader;
RESET ROLE;
SQL
}
new_db() {
    create_db "$1" 2>/dev/null
    psql_db "$1" -f "$ROOT/tests/fixtures/synapse_schema.sql" -f "$ROOT/tests/fixtures/resolve_state.sql" \
        -c "SET client_min_messages = warning" -c "$2" >/dev/null
}

# --- 0.1.0 with rooms and grants ---------------------------------------------------------------
new_db "$OLD" "CREATE EXTENSION synapse_compress VERSION '0.1.0'"
rm -f "$AUXCTL"   # a 0.2.0 installation has no such file
grants "$OLD" "$OLD_SIG"
load_room "$OLD" '!room:example.org' busy 1500 1 >/dev/null
load_room "$OLD" '!chain:example.org' chain 1200 100001 >/dev/null
digest() { q "$OLD" "SELECT d.digest FROM synapse_compress_test.state_digest('$1') AS d"; }
room_before=$(digest '!room:example.org')
chain_before=$(digest '!chain:example.org')
ext_row="SELECT extname, extowner::regrole, extnamespace::regnamespace, extrelocatable, extversion,
                extconfig::regclass[]::text, extcondition::text
           FROM pg_extension WHERE extname = 'synapse_compress'"
before=$(q "$OLD" "$ext_row")
member=$(q "$OLD" "SELECT count(*) FROM pg_depend WHERE classid = 'pg_namespace'::regclass
                   AND objid = 'synapse_compress'::regnamespace AND deptype = 'e'")
[ "$before" = "synapse_compress|postgres|synapse_compress|f|0.1.0||" ] && [ "$member" = 0 ] \
    && pass "0.1.0 installed as released: the extension in schema synapse_compress, which is not a member" \
    || fail "0.1.0 install: '$before', schema a member: $member"

# --- the update --------------------------------------------------------------------------------
if out=$(psql_db "$OLD" -c "ALTER EXTENSION synapse_compress UPDATE" 2>&1); then
    after=$(q "$OLD" "SELECT extversion || ' ' || extnamespace::regnamespace FROM pg_extension WHERE extname = 'synapse_compress'")
    [ "$after" = "$VERSION pg_catalog" ] && pass "ALTER EXTENSION synapse_compress UPDATE: 0.1.0 -> $VERSION, the extension now in pg_catalog" \
        || fail "after the update: $after"
else
    fail "ALTER EXTENSION synapse_compress UPDATE: $out"
    echo "$passed passed, $failed failed"
    exit 1
fi

# --- a fresh install of the current version, same grants ----------------------------------------
new_db "$FRESH" "CREATE EXTENSION synapse_compress"
grants "$FRESH" "$NEW_SIG"

# --- (a) the catalogs ---------------------------------------------------------------------------
for db in "$OLD" "$FRESH"; do
    dump --schema-only -n synapse_compress "$db" | unkey >"$OUT/$db.schema.sql"
    # Every member object, the extension's row and initial privileges. What differs between two
    # databases by construction is normalised: OIDs and relfilenodes (binary_upgrade_set_next_*,
    # "WHERE oid = ...", the config tables' OIDs in binary_upgrade_create_empty_extension, which
    # the extension's row check below compares by name), frozen xids, attribute-version LSNs, the
    # dump's key and the database's name.
    dump --schema-only --binary-upgrade "$db" | unkey | sed -E \
        -e "s/'[0-9]+'::pg_catalog\.oid/'OID'::pg_catalog.oid/g" \
        -e "s/WHERE oid = '[0-9]+'/WHERE oid = 'OID'/" \
        -e "/binary_upgrade_create_empty_extension/s/'\{[0-9,]*\}'/'{OIDS}'/" \
        -e "s/'\{[0-9A-F\/,]+\}'::pg_catalog\.pg_lsn\[\]/'{LSNS}'::pg_catalog.pg_lsn[]/" \
        -e "s/(relfrozenxid|relminmxid|datfrozenxid|datminmxid) = '[0-9]+'/\1 = 'XID'/g" \
        -e "s/datname = '$db'/datname = 'DB'/" >"$OUT/$db.binary-upgrade.sql"
    {
        q "$db" "$ext_row"
        psql_db "$db" -c '\dx+ synapse_compress'
        echo "-- dependencies of and on the extension"
        q "$db" "SELECT pg_describe_object(classid, objid, objsubid) || ' -> ' ||
                        pg_describe_object(refclassid, refobjid, refobjsubid) || ' (' || deptype::text || ')'
                   FROM pg_depend d, pg_extension e
                  WHERE e.extname = 'synapse_compress'
                    AND ((d.refclassid = 'pg_extension'::regclass AND d.refobjid = e.oid)
                         OR (d.classid = 'pg_extension'::regclass AND d.objid = e.oid))
                  ORDER BY 1"
        echo "-- initial privileges recorded for the extension's objects"
        q "$db" "SELECT pg_describe_object(classoid, objoid, objsubid) || ' ' || privtype::text || ' ' || initprivs::text
                   FROM pg_init_privs WHERE privtype = 'e' ORDER BY 1"
        echo "-- the schema"
        q "$db" "SELECT nspowner::regrole || ' ' || coalesce(nspacl::text, 'NULL') || ' ' || obj_description(oid, 'pg_namespace')
                   FROM pg_namespace WHERE nspname = 'synapse_compress'"
    } >"$OUT/$db.catalog.txt"
done
same "pg_dump --schema-only -n synapse_compress: the updated database equals a fresh install" \
    "$OUT/$OLD.schema.sql" "$OUT/$FRESH.schema.sql"
same "pg_dump --schema-only --binary-upgrade (every member, the extension row, initial privileges): equal" \
    "$OUT/$OLD.binary-upgrade.sql" "$OUT/$FRESH.binary-upgrade.sql"
same "pg_extension row, \\dx+, dependencies, pg_init_privs, schema owner/ACL/comment: equal" \
    "$OUT/$OLD.catalog.txt" "$OUT/$FRESH.catalog.txt"

# --- (b) grants -----------------------------------------------------------------------------------
acls="SELECT p.oid::regprocedure || ' ' || coalesce(p.proacl::text, 'NULL')
        FROM pg_proc p WHERE p.pronamespace = 'synapse_compress'::regnamespace ORDER BY 1"
a_old=$(q "$OLD" "$acls")
a_fresh=$(q "$FRESH" "$acls")
privs=$(q "$OLD" "SELECT has_function_privilege('upgrade_maint', 'synapse_compress.compress_room_state($NEW_SIG)', 'EXECUTE'),
                         has_function_privilege('upgrade_auditor', 'synapse_compress.compress_room_state_sql($NEW_SIG)', 'EXECUTE WITH GRANT OPTION'),
                         has_function_privilege('upgrade_reader', 'synapse_compress.compress_room_state_sql($NEW_SIG)', 'EXECUTE'),
                         has_function_privilege('upgrade_reader', 'synapse_compress.compress_room_state($NEW_SIG)', 'EXECUTE'),
                         to_regprocedure('synapse_compress.compress_room_state($OLD_SIG)') IS NULL
                           AND to_regprocedure('synapse_compress.compress_room_state_sql($OLD_SIG)') IS NULL")
if [ "$a_old" = "$a_fresh" ] && [ "$privs" = "t|t|t|f|t" ]; then
    pass "grants carried over: upgrade_maint EXECUTE on compress_room_state, upgrade_auditor WITH GRANT OPTION and upgrade_reader (granted by upgrade_auditor) on compress_room_state_sql; every ACL as on the fresh install; the 0.1.0 functions gone"
else
    fail "grants: privileges $privs; ACLs after the update / fresh:"
    diff <(echo "$a_old") <(echo "$a_fresh") | sed 's/^/    /' || true
fi
create_db "$RESTORED" 2>/dev/null
dump "$OLD" | psql_db "$RESTORED" >/dev/null 2>"$OUT/restore.err" || true
r=$(q "$RESTORED" "SELECT has_function_privilege('upgrade_maint', 'synapse_compress.compress_room_state($NEW_SIG)', 'EXECUTE')
                       AND has_function_privilege('upgrade_reader', 'synapse_compress.compress_room_state_sql($NEW_SIG)', 'EXECUTE'),
                          (SELECT extversion FROM pg_extension WHERE extname = 'synapse_compress')" 2>&1 || true)
a_restored=$(q "$RESTORED" "$acls" 2>&1 || true)
if [ "$r" = "t|$VERSION" ] && [ "$a_restored" = "$a_old" ] && [ ! -s "$OUT/restore.err" ]; then
    pass "pg_dump and restore of the updated database keeps the grants (every ACL the same)"
else
    fail "dump and restore: '$r'; $(head -n 5 "$OUT/restore.err")"
fi

# --- (c) compression after the update -------------------------------------------------------------
res=$(psql_db "$OLD" -t -A -c "SET client_min_messages = warning" -c "SET ROLE upgrade_maint" \
    -c "SELECT applied, rows_before, rows_after FROM synapse_compress.compress_room_state('!room:example.org')" 2>&1 || true)
IFS='|' read -r applied rb ra <<<"$res"
if [ "$applied" = t ] && [ "$ra" -lt "$rb" ] && [ "$(digest '!room:example.org')" = "$room_before" ]; then
    pass "compress_room_state as upgrade_maint after the update: $rb -> $ra rows, every group resolves as before"
else
    fail "compress_room_state as upgrade_maint: $res"
fi
rows_b=$(q "$OLD" "SELECT count(*) FROM state_groups_state WHERE room_id = '!chain:example.org'")
psql_db "$OLD" -c "CALL synapse_compress.compress_largest_rooms(chunk_size => 500, number_of_chunks => 100)" >/dev/null 2>&1 || true
rows_a=$(q "$OLD" "SELECT count(*) FROM state_groups_state WHERE room_id = '!chain:example.org'")
run=$(q "$OLD" "SELECT (finished_at IS NOT NULL) || ' ' || errors || ' ' || (chunks > 0) FROM synapse_compress.runs ORDER BY run_id DESC LIMIT 1")
if [ "$run" = "true 0 true" ] && [ "$rows_a" -lt "$rows_b" ] && [ "$(digest '!chain:example.org')" = "$chain_before" ] \
    && [ "$(digest '!room:example.org')" = "$room_before" ]; then
    pass "CALL compress_largest_rooms after the update: !chain $rows_b -> $rows_a rows, run and chunks recorded, every group of both rooms resolves as before"
else
    fail "compress_largest_rooms: run '$run', rows $rows_b -> $rows_a"
fi

# --- (d) DROP EXTENSION -------------------------------------------------------------------------
for db in "$OLD" "$FRESH"; do
    psql_db "$db" -c "DROP EXTENSION synapse_compress" >/dev/null 2>"$OUT/drop.err" || true
    left=$(q "$db" "SELECT to_regnamespace('synapse_compress') IS NULL,
                           to_regclass('public.state_groups_state') IS NOT NULL,
                           (SELECT count(*) FROM pg_extension WHERE extname = 'synapse_compress')")
    label=$([ "$db" = "$OLD" ] && echo "the updated database" || echo "the fresh install")
    if [ "$left" = "t|t|0" ] && [ ! -s "$OUT/drop.err" ]; then
        pass "DROP EXTENSION in $label removes schema synapse_compress (with the history tables), keeps Synapse's tables"
    else
        fail "DROP EXTENSION in $label: $left $(cat "$OUT/drop.err")"
    fi
done
[ "$(q "$OLD" "SELECT count(*) FROM state_groups_state")" -gt 0 ] \
    && [ "$(q "$OLD" "SELECT to_regclass('public.state_compressor_progress') IS NOT NULL")" = t ] \
    && pass "after DROP EXTENSION: Synapse's rows and the existing tool's progress tables remain" \
    || fail "after DROP EXTENSION: Synapse's data or the progress tables are gone"

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
