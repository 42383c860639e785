#!/usr/bin/env bash
# The Debian package (issue 10): builds it with scripts/package.sh (or takes the .deb given as
# $1), checks its control fields and file list, takes out of the system the files `cargo pgrx
# install` put there (the .so, the control file and every synapse_compress--*.sql; copies are kept
# in target/pg-package/saved), installs the .deb with dpkg -i, checks dpkg -s and dpkg -L, then in
# its own throwaway cluster (target/pg-package, port 54379, nothing preloaded) runs CREATE
# EXTENSION in a fresh database with Synapse's tables, compresses a generated room and checks every
# group resolves as before (synapse_compress_test.state_digest); then dpkg -r, checks the files
# are gone and the extension is no longer available, and puts the saved files back (copy to a
# temporary name, then rename: a running server that mapped the old file keeps it), so the
# machine ends as it started; the cluster is stopped at exit. Prints "N passed, M failed".
#
# Replaces the library's file: run it while no cluster that preloads the library runs (in
# scripts/test.sh it runs after the private cluster is stopped).
set -euo pipefail
# Own cluster, set before lib.sh reads them: never another engineer's cluster, never preloaded.
PG_CLUSTER_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/target/pg-package"
PGPORT=54379
PG_PRELOAD=''
export PG_CLUSTER_DIR PGPORT PG_PRELOAD
. "$(dirname "${BASH_SOURCE[0]}")/../scripts/lib.sh"

PKG=postgresql-15-synapse-compress
DB=synapse_package
ROOM='!package:example.org'
OUT="$PG_CLUSTER_DIR/out"
SAVED="$PG_CLUSTER_DIR/saved"
LIBDIR="$("$PG_CONFIG" --pkglibdir)"
EXTDIR="$("$PG_CONFIG" --sharedir)/extension"
VERSION="$(sed -n 's/^version = "\(.*\)"$/\1/p' "$ROOT/Cargo.toml" | head -n 1)"
ARCH="$(dpkg --print-architecture)"

passed=0
failed=0
pass() { passed=$((passed + 1)); echo "ok   - $*"; }
fail() { failed=$((failed + 1)); echo "FAIL - $*"; }
finish() { echo "$passed passed, $failed failed"; [ "$failed" -eq 0 ]; }
q() { local db="$1"; shift; psql_db "$db" -t -A -c "$1"; }
pkg_status() { dpkg-query -W -f='${Status}' "$PKG" 2>/dev/null || true; }
# the extension's files now in the system, one path a line
system_files() {
    ls -1d "$LIBDIR/synapse_compress.so" "$EXTDIR/synapse_compress.control" \
        "$EXTDIR"/synapse_compress--*.sql 2>/dev/null | LC_ALL=C sort || true
}

if [ "$(pkg_status)" = "install ok installed" ]; then
    fail "$PKG is already installed (dpkg -r $PKG first: this test installs and removes it)"
    finish
    exit 1
fi

# --- the package -------------------------------------------------------------------------------
mkdir -p "$OUT"
if [ -n "${1:-}" ]; then
    DEB="$(realpath "$1")"
else
    say "package: scripts/package.sh (log: $OUT/package.log)"
    if DEB="$("$ROOT/scripts/package.sh" 2>"$OUT/package.log" | tail -n 1)" && [ -f "$DEB" ]; then
        pass "scripts/package.sh built $DEB"
    else
        tail -n 30 "$OUT/package.log" >&2
        fail "scripts/package.sh failed"
        finish
        exit 1
    fi
fi
[ "$(basename "$DEB")" = "${PKG}_${VERSION}_${ARCH}.deb" ] \
    && pass "named ${PKG}_${VERSION}_${ARCH}.deb" || fail "package name: $(basename "$DEB")"

fields="$(dpkg-deb -f "$DEB" Package Version Architecture Section)"
depends="$(dpkg-deb -f "$DEB" Depends)"
expected_fields="Package: $PKG
Version: $VERSION
Architecture: $ARCH
Section: database"
if [ "$fields" = "$expected_fields" ] && [[ "$depends" == postgresql-15,* ]] && [[ "$depends" == *"libc6 (>= "* ]]; then
    pass "control: Package, Version $VERSION (Cargo.toml), Architecture $ARCH, Section database; Depends: $depends"
else
    fail "control fields: $(echo "$fields" | tr '\n' ' '); Depends: $depends"
fi

FILES="$LIBDIR/synapse_compress.so
$EXTDIR/synapse_compress--0.1.0--$VERSION.sql
$EXTDIR/synapse_compress--$VERSION.sql
$EXTDIR/synapse_compress.control"
FILES="$(echo "$FILES" | LC_ALL=C sort)"
contents="$(dpkg-deb --fsys-tarfile "$DEB" | tar -t | grep -v '/$' | sed 's|^\./|/|' | LC_ALL=C sort)"
owners="$(dpkg-deb --fsys-tarfile "$DEB" | tar -tv | awk '{print $2}' | sort -u)"
if [ "$contents" = "$FILES" ] && [ "$owners" = "root/root" ]; then
    pass "contents: the .so, the control file, the install script and the update script from 0.1.0, owned by root"
else
    fail "contents (owners $owners):"
    diff <(echo "$FILES") <(echo "$contents") | sed 's/^/    /' || true
fi

# --- out with what cargo pgrx install put there (kept, and put back at exit) --------------------
rm -rf "$SAVED"
mkdir -p "$SAVED"
BEFORE="$(system_files)"
echo "$BEFORE" >"$SAVED/list"
for f in $BEFORE; do cp -p "$f" "$SAVED/"; done
restored=0
# Puts the saved files back: copy to a temporary name in the same directory, then rename.
restore_files() {
    local f tmp
    for f in $(cat "$SAVED/list"); do
        tmp="$(dirname "$f")/.$(basename "$f").package-test.$$"
        cp -p "$SAVED/$(basename "$f")" "$tmp" && mv -f "$tmp" "$f"
    done
}
cleanup() {
    cluster_stop >/dev/null 2>&1 || true
    if [ "$(pkg_status)" != "" ] && [ "$(pkg_status)" != "unknown ok not-installed" ]; then
        dpkg -P "$PKG" >/dev/null 2>&1 || true
    fi
    if [ "$restored" = 0 ]; then
        echo "tests/package.sh: putting the previously installed files back" >&2
        restore_files
    fi
}
trap cleanup EXIT
for f in $BEFORE; do rm -f "$f"; done
if [ -z "$(system_files)" ]; then
    pass "removed the $(echo "$BEFORE" | grep -c . || true) files a previous install put there (copies in $SAVED): $(echo $BEFORE | xargs -n1 basename 2>/dev/null | tr '\n' ' ')"
else
    fail "still there: $(system_files)"
fi

# --- install ------------------------------------------------------------------------------------
if dpkg -i "$DEB" >"$OUT/dpkg-i.log" 2>&1; then
    pass "dpkg -i $(basename "$DEB") (Depends satisfied)"
else
    fail "dpkg -i: $(tail -n 5 "$OUT/dpkg-i.log")"
    finish
    exit 1
fi
status="$(pkg_status)"
ver="$(dpkg-query -W -f='${Version}' "$PKG")"
[ "$status" = "install ok installed" ] && [ "$ver" = "$VERSION" ] \
    && pass "dpkg -s: $status, version $ver" || fail "dpkg -s: '$status', version '$ver'"
listed="$(dpkg -L "$PKG" | while read -r p; do if [ -f "$p" ]; then echo "$p"; fi; done | LC_ALL=C sort)"
if [ "$listed" = "$FILES" ] && [ "$(system_files)" = "$FILES" ] && [ -z "$(dpkg --verify "$PKG")" ]; then
    pass "dpkg -L: exactly those files, in $LIBDIR and $EXTDIR; dpkg --verify: their checksums match"
else
    fail "dpkg -L / on disk / dpkg --verify:"
    diff <(echo "$FILES") <(echo "$listed") | sed 's/^/    /' || true
    dpkg --verify "$PKG" | sed 's/^/    /' || true
fi

# --- CREATE EXTENSION and a compression, in a throwaway cluster -----------------------------------
cluster_start
create_db "$DB" 2>/dev/null
if psql_db "$DB" -f "$ROOT/tests/fixtures/synapse_schema.sql" -f "$ROOT/tests/fixtures/resolve_state.sql" \
        -c "SET client_min_messages = warning" -c "CREATE EXTENSION synapse_compress" >"$OUT/create.log" 2>&1; then
    v="$(q "$DB" "SELECT extversion FROM pg_extension WHERE extname = 'synapse_compress'")"
    lib="$(q "$DB" "SELECT probin FROM pg_proc WHERE proname = 'compress_room_state' AND pronamespace = 'synapse_compress'::regnamespace")"
    [ "$v" = "$VERSION" ] && pass "CREATE EXTENSION synapse_compress from the package: version $v, functions in $lib" \
        || fail "CREATE EXTENSION: version '$v'"
else
    fail "CREATE EXTENSION: $(tail -n 5 "$OUT/create.log")"
    finish
    exit 1
fi
path="$(q "$DB" "SELECT path FROM pg_extension_update_paths('synapse_compress') WHERE source = '0.1.0' AND target = '$VERSION'")"
[ "$path" = "0.1.0--$VERSION" ] && pass "the update path 0.1.0 -> $VERSION is installed (ALTER EXTENSION ... UPDATE)" \
    || fail "update path from 0.1.0: '$path'"

load_room "$DB" "$ROOM" busy 1500 1 >/dev/null
digest() { q "$DB" "SELECT d.digest FROM synapse_compress_test.state_digest('$ROOM') AS d"; }
before="$(digest)"
res="$(psql_db "$DB" -t -A -c "SET client_min_messages = warning" \
    -c "SELECT applied, rows_before, rows_after FROM synapse_compress.compress_room_state('$ROOM')" 2>&1 || true)"
IFS='|' read -r applied rb ra <<<"$res"
if [ "$applied" = t ] && [ "$ra" -lt "$rb" ] && [ "$(digest)" = "$before" ]; then
    pass "compress_room_state on a generated room (1,500 groups): $rb -> $ra rows, every group resolves as before"
else
    fail "compress_room_state: $res"
fi

# --- remove -------------------------------------------------------------------------------------
if dpkg -r "$PKG" >"$OUT/dpkg-r.log" 2>&1; then
    pass "dpkg -r $PKG"
else
    fail "dpkg -r: $(tail -n 5 "$OUT/dpkg-r.log")"
fi
status="$(pkg_status)"
left="$(system_files)"
if [ "$status" != "install ok installed" ] && [ -z "$left" ]; then
    pass "after dpkg -r: not installed ('${status:-unknown}'), none of its files left"
else
    fail "after dpkg -r: '$status', left: $left"
fi
avail="$(q postgres "SELECT count(*) FROM pg_available_extensions WHERE name = 'synapse_compress'")"
[ "$avail" = 0 ] && pass "after dpkg -r: synapse_compress is no longer among pg_available_extensions" \
    || fail "after dpkg -r: pg_available_extensions still lists synapse_compress"
cluster_stop >/dev/null

# --- the machine as it was ----------------------------------------------------------------------
restore_files
restored=1
ok=1
for f in $BEFORE; do cmp -s "$SAVED/$(basename "$f")" "$f" || ok=0; done
if [ "$ok" = 1 ] && [ "$(system_files)" = "$BEFORE" ]; then
    pass "the $(echo "$BEFORE" | grep -c . || true) previously installed files are back, byte for byte"
else
    fail "putting the files back: now $(system_files | tr '\n' ' ')"
fi

finish
