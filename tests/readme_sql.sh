#!/usr/bin/env bash
# Every SQL example in the README runs (issue 10): extracts each ```sql block of README.md, in
# order, and runs it with ON_ERROR_STOP against a database prepared like the demo database
# (Synapse's tables, the test resolver, the extension, the rooms and roles the examples name).
# Prints one line per block (README line of its first line, the line itself) and
# "N passed, M failed"; fails if a block fails that is not marked, right before its fence, with
#   <!-- readme-sql: skip (reason) -->
# Blocks that cannot run here exactly as written are run in an equivalent way, and the line says how:
# - `ALTER DATABASE synapse` names this test's database instead;
# - a block that creates the extension runs in a transaction that first drops it (the database
#   already has it) and is rolled back;
# - a block that drops the extension, or schedules pg_cron jobs, runs in a transaction that is
#   rolled back (the blocks after it keep the extension; no job stays scheduled);
# - a synopsis (a block starting with `schema.function(`) is not a statement: each of its
#   signatures is created as an empty function in a scratch schema and its arguments, defaults
#   and result are compared with the extension's function of that name, so they cannot drift;
# - a ```sh block whose every command is psql (the export recipe) runs with this cluster's psql
#   in a scratch directory, `-d synapse` naming this test's database; other ```sh blocks
#   (installing, the two commands) and untagged blocks (postgresql.conf) are not SQL: not run.
# The database is the demo database (pg_cron's cron.database_name, so the pg_cron example runs
# as written), recreated. Afterwards every group of every room must resolve as before, and no
# run may have recorded an error chunk.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/../scripts/lib.sh"

DB="$PG_CRON_DB"
README="${README_SQL_FILE:-$ROOT/README.md}"   # another file only to test this test
passed=0
failed=0
skipped=0
pass() { passed=$((passed + 1)); echo "ok   - $*"; }
fail() { failed=$((failed + 1)); echo "FAIL - $*"; }
skip() { skipped=$((skipped + 1)); echo "skip - $*"; }
q() { psql_db "$DB" -t -A -c "$1"; }
digests() {
    q "SELECT string_agg(r.room_id || ' ' || d.digest, ', ' ORDER BY r.room_id)
       FROM (SELECT DISTINCT room_id FROM state_groups) r, LATERAL synapse_compress_test.state_digest(r.room_id) d"
}

WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT

# --- the database: as the demo's, with the rooms and roles the examples name ---------------------
create_db "$DB"
prepare_synapse_db "$DB"
# '!room:example.org': groups 121001-126000, so "min_state_group => 123456" lies inside the room.
load_room "$DB" '!room:example.org' busy 5000 121001
load_room "$DB" '!other:example.org' busy 1500 200001 2
psql_db "$DB" >/dev/null <<'SQL'
SET client_min_messages = warning;
DO $$ BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'synapse') THEN CREATE ROLE synapse; END IF;
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'synapse_maint') THEN CREATE ROLE synapse_maint; END IF;
END $$;
SQL
before=$(digests)

# --- extract: one file per ```sql or ```sh block, with its README line and skip reason if marked --
# $WORK/blocks: "N<TAB>LINE<TAB>sql|sh<TAB>SKIP_REASON" per block; $WORK/N.sql or N.sh: its text.
awk -v dir="$WORK" '
    in_block && /^```[[:space:]]*$/ { in_block = 0; close(file); next }
    in_block { print > file; next }
    /^```(sql|sh)[[:space:]]*$/ {
        kind = $0; sub(/^```/, "", kind); sub(/[[:space:]]*$/, "", kind)
        n++; in_block = 1; file = sprintf("%s/%03d.%s", dir, n, kind); printf "" > file
        reason = ""
        if (prev ~ /^<!-- readme-sql: skip/) {
            reason = prev
            sub(/^<!-- readme-sql: skip[[:space:]]*/, "", reason); sub(/[[:space:]]*-->[[:space:]]*$/, "", reason)
            sub(/^\(/, "", reason); sub(/\)$/, "", reason)
            if (reason == "") reason = "no reason given"
        }
        printf "%03d\t%d\t%s\t%s\n", n, NR + 1, kind, reason > (dir "/blocks")
    }
    /[^[:space:]]/ { prev = $0 }
' "$README"
grep -q $'\tsql\t' "$WORK/blocks" || die "no \`\`\`sql blocks found in $README"

# run_psql LABEL FILE START [psql args...]: runs FILE (plus the args' -c around it) in $DB with
# ON_ERROR_STOP; reports ok or FAIL with psql's errors, their lines mapped to README lines.
run_psql() {
    local label="$1" file="$2" start="$3" out
    shift 3
    if out=$(psql_db "$DB" "$@" 2>&1); then
        pass "$label"
    else
        fail "$label"
        printf '%s\n' "$out" | show_errors "$file" "$start"
    fi
}

# show_errors FILE START: psql's output without NOTICEs and INFOs, indented, with "psql:FILE:L:"
# turned into the README line of line L of a block starting at README line START.
show_errors() {
    awk -v f="$1" -v s="$2" '
        index($0, "psql:" f ":") == 1 {
            rest = substr($0, length("psql:" f ":") + 1); l = rest; sub(/:.*/, "", l); sub(/^[0-9]+:/, "", rest)
            $0 = "README.md:" (s + l - 1) ":" rest
        }
        /(NOTICE|INFO|WARNING):/ { keep = 0; next }
        /(ERROR|DETAIL|HINT|CONTEXT|LINE [0-9]+|error):/ { keep = 1 }
        keep { print "       " $0 }'
}

# check_synopsis N START: each paragraph of block N is a signature, "schema.name(args) RETURNS ..."
# or "CALL schema.name(args);", compared with the catalog.
check_synopsis() {
    local n="$1" start="$2" sig schema name args ret kind all_ok=1 para="" line
    local -a sigs=()
    while IFS= read -r line || [ -n "$line" ]; do
        line="${line%%--*}"
        if [[ "$line" =~ ^[[:space:]]*$ ]]; then
            [ -n "$para" ] && sigs+=("$para")
            para=""
        else
            para+="$line "
        fi
    done <"$WORK/$n.sql"
    [ -n "$para" ] && sigs+=("$para")
    : >"$WORK/$n.sig.sql"
    for sig in "${sigs[@]}"; do
        sig="$(echo "$sig" | tr -s '[:space:]' ' ' | sed 's/^ //; s/ $//')"
        if [[ "$sig" =~ ^CALL\ ([a-z_]+)\.([a-z_]+)\ ?\((.*)\)\ ?\;?$ ]]; then
            kind=p schema="${BASH_REMATCH[1]}" name="${BASH_REMATCH[2]}" args="${BASH_REMATCH[3]}" ret=""
        elif [[ "$sig" =~ ^([a-z_]+)\.([a-z_]+)\ ?\((.*)\)\ RETURNS\ (.*[^\;])\;?$ ]]; then
            kind=f schema="${BASH_REMATCH[1]}" name="${BASH_REMATCH[2]}" args="${BASH_REMATCH[3]}" ret="${BASH_REMATCH[4]}"
        else
            fail "README.md:$start synopsis: cannot read the signature '$sig'"
            all_ok=0
            continue
        fi
        if [ "$kind" = p ]; then
            echo "CREATE PROCEDURE readme_sql_synopsis.$name($args) LANGUAGE plpgsql AS \$readme\$BEGIN END\$readme\$;"
        else
            echo "CREATE FUNCTION readme_sql_synopsis.$name($args) RETURNS $ret LANGUAGE plpgsql AS \$readme\$BEGIN END\$readme\$;"
        fi >>"$WORK/$n.sig.sql"
        cat >>"$WORK/$n.sig.sql" <<SQL
DO \$readme\$
DECLARE
    real oid[] := ARRAY(SELECT oid FROM pg_proc WHERE pronamespace = '$schema'::regnamespace AND proname = '$name');
    doc oid := (SELECT oid FROM pg_proc WHERE pronamespace = 'readme_sql_synopsis'::regnamespace AND proname = '$name');
BEGIN
    IF cardinality(real) <> 1 THEN
        RAISE EXCEPTION '%.% is % functions, not one', '$schema', '$name', cardinality(real);
    END IF;
    IF (SELECT prokind FROM pg_proc WHERE oid = real[1]) <> (SELECT prokind FROM pg_proc WHERE oid = doc)
       OR pg_get_function_arguments(real[1]) <> pg_get_function_arguments(doc)
       OR pg_get_function_result(real[1]) IS DISTINCT FROM pg_get_function_result(doc) THEN
        RAISE EXCEPTION E'the README\'s synopsis of %.% differs from the catalog', '$schema', '$name'
            USING DETAIL = format(E'README:  (%s)%s\ncatalog: (%s)%s',
                pg_get_function_arguments(doc), coalesce(' RETURNS ' || pg_get_function_result(doc), ''),
                pg_get_function_arguments(real[1]), coalesce(' RETURNS ' || pg_get_function_result(real[1]), ''));
    END IF;
END \$readme\$;
SQL
        sigs_checked+="$schema.$name "
    done
    [ "$all_ok" = 1 ] || return 0
    run_psql "README.md:$start $(head -n 1 "$WORK/$n.sql") (synopsis: ${sigs_checked% } as in the catalog)" \
        - 1 -c "SET client_min_messages = warning" -c "SET check_function_bodies = off" -c "BEGIN" -c "CREATE SCHEMA readme_sql_synopsis" \
        -f "$WORK/$n.sig.sql" -c "ROLLBACK"
}

# --- run ---------------------------------------------------------------------------------------
while IFS=$'\t' read -r n start kind reason; do
    file="$WORK/$n.$kind"
    first="$(grep -m 1 -v '^[[:space:]]*$' "$file" || true)"
    label="README.md:$start $first"
    if [ "$kind" = sh ]; then
        # A shell block is an SQL example only if every command in it is psql (the export
        # recipe); others (installing, the two commands) are not SQL and not run here.
        grep -Ev '^[[:space:]]*(#|$)' "$file" | grep -Evq '^psql ' && continue
    fi
    if [ -n "$reason" ]; then
        skip "$label (marked: $reason)"
        continue
    fi
    if [ "$kind" = sh ]; then
        # psql of this cluster, on its socket as postgres; "-d synapse" names this test's database.
        sed -i -E "s/(^|[[:space:]])-d synapse([[:space:]]|$)/\\1-d $DB\\2/g" "$file"
        mkdir -p "$WORK/sh$n"
        if out=$(cd "$WORK/sh$n" && PATH="$PGBIN:$PATH" PGHOST="$PG_SOCKET_DIR" PGPORT="$PGPORT" PGUSER="$PGUSER" \
                 bash -e -o pipefail "$file" 2>&1); then
            written=$(cd "$WORK/sh$n" && for f in *; do [ -f "$f" ] && printf '; wrote %s, %s lines' "$f" "$(wc -l <"$f")"; done || true)
            pass "$label (shell: this cluster's psql, -d $DB$written)"
        else
            fail "$label (shell: this cluster's psql, -d $DB)"
            printf '%s\n' "$out" | show_errors - 1
        fi
        continue
    fi
    if [[ "$first" =~ ^[a-z_]+\.[a-z_]+\ ?\( ]]; then
        sigs_checked=""
        check_synopsis "$n" "$start"
        continue
    fi
    notes=()
    before_args=()
    after_args=()
    if grep -Eq '^[[:space:]]*ALTER DATABASE synapse[[:space:]]' "$file"; then
        sed -i -E "s/^([[:space:]]*ALTER DATABASE) synapse([[:space:]])/\\1 \"$DB\"\\2/" "$file"
        notes+=("ALTER DATABASE synapse run as ALTER DATABASE $DB")
    fi
    if grep -Eq 'CREATE EXTENSION( IF NOT EXISTS)? synapse_compress' "$file"; then
        before_args=(-c "BEGIN" -c "DROP EXTENSION synapse_compress")
        after_args=(-c "ROLLBACK")
        notes+=("in a transaction that first drops the extension, rolled back")
    elif grep -Eq 'DROP EXTENSION synapse_compress|cron\.schedule' "$file"; then
        before_args=(-c "BEGIN")
        after_args=(-c "ROLLBACK")
        notes+=("in a transaction, rolled back")
    fi
    if [ "${#notes[@]}" -gt 0 ]; then
        label+=" ($(IFS=';'; echo "${notes[*]}" | sed 's/;/; /g'))"
    fi
    run_psql "$label" "$file" "$start" "${before_args[@]}" -f "$file" "${after_args[@]}"
done <"$WORK/blocks"

after=$(digests)
if [ "$after" = "$before" ]; then
    pass "after the blocks, every group of every room resolves as before"
else
    fail "states changed: before '$before', after '$after'"
fi

# compress_largest_rooms records a failing room as an error chunk and goes on: the CALL succeeds.
errors=$(q "SELECT count(*) || ' of ' || (SELECT count(*) FROM synapse_compress.chunks) || ' chunks'
            || coalesce(': ' || string_agg(room_id || ' ' || coalesce(message, ''), '; '), '')
            FROM synapse_compress.chunks WHERE outcome = 'error'")
if [[ "$errors" == "0 of "* ]]; then
    pass "no run of the blocks recorded an error chunk ($errors)"
else
    fail "error chunks: $errors"
fi

echo "$skipped skipped"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
