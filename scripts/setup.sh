#!/usr/bin/env bash
# One-time machine setup: Debian packages, cargo-pgrx 0.18.1, pgrx configured for the system
# PostgreSQL 15. Idempotent and quick when everything is already there.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

ensure_deps
ensure_cargo_pgrx
ensure_pgrx_init
say "setup: done"
