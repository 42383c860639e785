#!/usr/bin/env bash
# Builds the Debian package of the extension for the system PostgreSQL 15:
#   target/package/postgresql-15-synapse-compress_<version>_<arch>.deb
# Installs what is missing first (as scripts/setup.sh), then `cargo pgrx package` (release) gives
# the file tree, exactly as `cargo pgrx install` would put it into the system:
#   /usr/lib/postgresql/15/lib/synapse_compress.so
#   /usr/share/postgresql/15/extension/synapse_compress.control
#   /usr/share/postgresql/15/extension/synapse_compress--<version>.sql        (generated)
#   /usr/share/postgresql/15/extension/synapse_compress--0.1.0--0.2.0.sql     (sql/, the update)
# and `dpkg-deb --build --root-owner-group` makes the .deb (files owned by root; modes as Debian's
# own PostgreSQL packages: 0644 files, 0755 directories). Depends: postgresql-15 and the shared
# libraries the .so links (libc6, libgcc-s1; versions from dpkg-shlibdeps). Prints the .deb's path.
#
# Install it with `apt-get install ./target/package/postgresql-15-synapse-compress_0.2.0_amd64.deb`
# (or `dpkg -i`), then CREATE EXTENSION synapse_compress. Tested by tests/package.sh.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

PKG=postgresql-15-synapse-compress
VERSION="$(sed -n 's/^version = "\(.*\)"$/\1/p' "$ROOT/Cargo.toml" | head -n 1)"
[ -n "$VERSION" ] || die "no version in Cargo.toml"

ensure_deps
ensure_cargo_pgrx
ensure_pgrx_init
command -v dpkg-deb >/dev/null || die "dpkg-deb missing (Debian's dpkg package)"
command -v dpkg-shlibdeps >/dev/null || die "dpkg-shlibdeps missing (dpkg-dev, part of build-essential)"

ARCH="$(dpkg --print-architecture)"
OUT="$ROOT/target/package"
STAGE="$OUT/${PKG}_${VERSION}_${ARCH}"        # the package's root (DEBIAN/ added below)
DEB="$OUT/${PKG}_${VERSION}_${ARCH}.deb"
LOG="$OUT/pgrx-package.log"

rm -rf "$STAGE" "$DEB"
mkdir -p "$OUT"
say "package: cargo pgrx package --pg-config $PG_CONFIG (release) into $STAGE"
(cd "$ROOT" && cargo pgrx package --pg-config "$PG_CONFIG" --out-dir "$STAGE" >"$LOG" 2>&1) \
    || { tail -n 30 "$LOG" >&2; die "cargo pgrx package failed (log: $LOG)"; }

LIBDIR="$("$PG_CONFIG" --pkglibdir)"                 # /usr/lib/postgresql/15/lib
EXTDIR="$("$PG_CONFIG" --sharedir)/extension"        # /usr/share/postgresql/15/extension
SO="$STAGE$LIBDIR/synapse_compress.so"
for f in "$SO" "$STAGE$EXTDIR/synapse_compress.control" "$STAGE$EXTDIR/synapse_compress--$VERSION.sql" \
         "$STAGE$EXTDIR/synapse_compress--0.1.0--$VERSION.sql"; do
    [ -f "$f" ] || die "cargo pgrx package did not produce ${f#"$STAGE"}"
done
find "$STAGE" -type d -exec chmod 0755 {} +
find "$STAGE" -type f -exec chmod 0644 {} +

# Shared-library dependencies of the .so (dpkg-shlibdeps wants a debian/control to read; the
# symbols the .so takes from the postgres server itself are provided by postgresql-15).
SHLIBS_DIR="$(mktemp -d)"
trap 'rm -rf "$SHLIBS_DIR"' EXIT
mkdir "$SHLIBS_DIR/debian"
printf 'Source: synapse-compress\n\nPackage: %s\nArchitecture: any\n' "$PKG" >"$SHLIBS_DIR/debian/control"
shlibs="$(cd "$SHLIBS_DIR" && dpkg-shlibdeps -O "$SO" 2>"$OUT/shlibdeps.log")" \
    || { cat "$OUT/shlibdeps.log" >&2; die "dpkg-shlibdeps failed"; }
shlibs="${shlibs#shlibs:Depends=}"
[ -n "$shlibs" ] || die "dpkg-shlibdeps found no dependencies for $SO"

mkdir -p "$STAGE/DEBIAN"
installed_size="$(du -sk --exclude=DEBIAN "$STAGE" | cut -f1)"
cat >"$STAGE/DEBIAN/control" <<EOF
Package: $PKG
Version: $VERSION
Architecture: $ARCH
Maintainer: synapse_compress maintainers <maintainers@users.noreply.h-seed-9e2e2d84.example>
Installed-Size: $installed_size
Depends: postgresql-15, $shlibs
Section: database
Priority: optional
Description: compress Synapse's state tables inside PostgreSQL 15
 synapse_compress is a PostgreSQL extension that shrinks state_groups_state,
 the largest table of Synapse (the Matrix homeserver), inside the database:
 SELECT * FROM synapse_compress.compress_room_state('!room:example.org');
 It proves that every state group resolves to the same state before it writes,
 writes in the caller's transaction and follows Synapse's locking protocol.
 .
 After installing, run CREATE EXTENSION synapse_compress; in Synapse's
 database (ALTER EXTENSION synapse_compress UPDATE; after an upgrade).
EOF
(cd "$STAGE" && find usr -type f | LC_ALL=C sort | xargs md5sum) >"$STAGE/DEBIAN/md5sums"
chmod 0644 "$STAGE/DEBIAN/control" "$STAGE/DEBIAN/md5sums"

say "package: dpkg-deb --build --root-owner-group"
dpkg-deb --build --root-owner-group "$STAGE" "$DEB" >/dev/null
dpkg-deb --info "$DEB" >&2
dpkg-deb --contents "$DEB" >&2
echo "$DEB"
