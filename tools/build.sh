#!/usr/bin/env bash
# Build and install the extension into Debian's PostgreSQL 15.
# Extra compiler flags may be passed in EXTRA_CFLAGS: tools/test.sh adds
# -DDES_TEST_HOOKS (crash-test pause points) and, in CI, -DUSE_ASSERT_CHECKING;
# tools/demo.sh adds nothing.
set -euo pipefail
cd "$(dirname "$0")/.."
export PG_CONFIG=/usr/lib/postgresql/15/bin/pg_config
as_root=()
[ "$(id -u)" -eq 0 ] || as_root=(sudo)
make -s clean >/dev/null
make -s EXTRA_CFLAGS="${EXTRA_CFLAGS:-}"	# warning flags: WARN_FLAGS in the Makefile
"${as_root[@]}" make -s install PG_CONFIG="$PG_CONFIG" >/dev/null
