#!/usr/bin/env bash
# Runs the README's first command (scripts/demo.sh) in a fresh `git clone` of this checkout's
# HEAD: its own directory (mode 0700, as mktemp makes it, so the postgres user's access to the
# clone's parents is exercised), its own target/ and its own cluster port. Passes only if the
# demo ends with a passing full-state comparison. Machine-wide installs (apt packages,
# cargo-pgrx, ~/.pgrx, the cargo registry) are reused; nothing comes from this tree's target/.
# Part of scripts/test.sh (issue: the README's first command failed on a fresh clone).
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

CLONE_PORT="${FRESH_CLONE_PORT:-54339}"
work="$(mktemp -d /tmp/synapse_compress-fresh.XXXXXX)"
clone="$work/synapse_compress"
log="$ROOT/target/fresh-clone-demo.log"
mkdir -p "$ROOT/target"

cleanup() {
    if [ -s "$clone/target/pg/data/PG_VERSION" ]; then
        runuser -u postgres -- "$PGBIN/pg_ctl" -D "$clone/target/pg/data" -m immediate -w stop >/dev/null 2>&1 || true
    fi
    rm -rf "$work"
}
trap cleanup EXIT

if [ -n "$(git -C "$ROOT" status --porcelain --untracked-files=no)" ]; then
    say "fresh clone: note: uncommitted changes are not part of the clone (it tests HEAD)"
fi
say "fresh clone: git clone $ROOT -> $clone (port $CLONE_PORT)"
git clone -q --no-hardlinks "$ROOT" "$clone"
[ ! -e "$clone/target" ] || die "fresh clone: the clone already has a target/"

say "fresh clone: scripts/demo.sh (log: $log)"
status=0
( cd "$clone" && env -u CARGO_TARGET_DIR -u DEMO_GROUPS PGPORT="$CLONE_PORT" \
    scripts/demo.sh ) >"$log" 2>&1 || status=$?
if [ "$status" -ne 0 ]; then
    tail -n 40 "$log" >&2
    die "fresh clone: scripts/demo.sh exited with $status"
fi
if ! grep -q "full-state comparison: PASS" "$log"; then
    tail -n 40 "$log" >&2
    die "fresh clone: the demo did not end with a passing full-state comparison"
fi
grep "full-state comparison" "$log"
say "fresh clone: PASS (the README's first command works from a new clone)"
