#!/usr/bin/env bash
# Deterministic concurrency tests: PostgreSQL's isolation tester steps several sessions (the
# compressor, Synapse's writer, deleter and purge, a second compression, an applied script)
# through each interleaving listed in tests/isolation/specs/*.spec, waiting on real lock waits
# instead of sleeps, and compares the output with tests/isolation/expected/*.out. Every
# permutation ends with synapse_sim.check: every group resolves as expected, the graph is sound,
# nothing dangles. Needs the private cluster running (scripts/lib.sh cluster_start).
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/../scripts/lib.sh"

DB=synapse_iso
create_db "$DB"
prepare_synapse_db "$DB"
psql_db "$DB" -f "$ROOT/tests/isolation/synapse_sim.sql"

specs=()
for f in "$ROOT"/tests/isolation/specs/*.spec; do specs+=("$(basename "$f" .spec)"); done
run_regress isolation/pg_isolation_regress "$DB" "$ROOT/tests/isolation" "$ROOT/target/isolation" "${specs[@]}"
