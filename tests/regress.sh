#!/usr/bin/env bash
# Golden-output tests of the SQL surface: PostgreSQL's pg_regress runs tests/regress/sql/*.sql
# through psql in a fresh database and compares the output with tests/regress/expected/*.out
# (the functions and their arguments, results, settings and grants; the tables; the settings;
# the errors bad arguments give; the worked example; the read budgets). A changed message or
# result column shows up as a diff: review it, and if it is intended, copy the new output from
# target/regress/results/ over the expected file. Needs the private cluster running
# (scripts/lib.sh cluster_start).
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/../scripts/lib.sh"

DB=synapse_regress
create_db "$DB"
prepare_synapse_db "$DB"
run_regress regress/pg_regress "$DB" "$ROOT/tests/regress" "$ROOT/target/regress" \
    surface errors worked_example read_budget
