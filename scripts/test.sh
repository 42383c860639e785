#!/usr/bin/env bash
# Command 2 of the README: every test. Installs what is missing first (as scripts/setup.sh),
# then runs the pure tests (cargo test), the in-database tests (cargo pgrx test), the suites
# through psql against the private cluster (integration, golden output of the SQL surface, error
# exits, isolation specs, runs over many rooms, the background worker), and the README's first
# command from a fresh clone.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

ensure_deps
ensure_cargo_pgrx
ensure_pgrx_init

say "test: algorithm and generator (cargo test)"
(cd "$ROOT" && cargo test -p compress_core -p roomgen)

say "test: in PostgreSQL (cargo pgrx test)"
stop_before_install   # cargo pgrx test installs the library too
postgres_dir "$ROOT/target/pgrx-test-data"
(cd "$ROOT" && cargo pgrx test pg15 -p synapse_compress --runas postgres --pgdata "$ROOT/target/pgrx-test-data")

say "test: integration through psql"
install_extension
cluster_start
"$ROOT/tests/integration.sh"

say "test: the SQL surface against golden output (pg_regress)"
"$ROOT/tests/regress.sh"

say "test: every error exit from every caller shape"
"$ROOT/tests/error_paths.sh"

say "test: concurrency (isolation tester: Synapse's writer, deleter and purge, overlapping runs)"
"$ROOT/tests/isolation.sh"

say "test: unattended runs over many rooms (compress_largest_rooms, progress, history)"
"$ROOT/tests/runs.sh"

say "test: upgrade from 0.1.0 (ALTER EXTENSION UPDATE against a fresh install)"
"$ROOT/tests/upgrade.sh"

say "test: privileges (table owner, maintenance role, no grants)"
"$ROOT/tests/privileges.sh"

say "test: every SQL example of the README (run against the demo database)"
"$ROOT/tests/readme_sql.sh"

say "test: the background worker"
"$ROOT/tests/worker.sh"

cluster_stop   # the package test and the clone replace the library
say "test: the Debian package (build, dpkg -i, CREATE EXTENSION and a compression, dpkg -r)"
"$ROOT/tests/package.sh"

say "test: the README's first command from a fresh clone"
"$ROOT/scripts/fresh_clone_check.sh"

echo "suites: 14 passed, 0 failed"
