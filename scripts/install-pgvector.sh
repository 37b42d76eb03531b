#!/usr/bin/env bash
# Builds pgvector from vendor/pgvector (the upstream release, see vendor/pgvector/VENDORED.md) and
# installs it into the Postgres whose pg_config is given, so that `CREATE EXTENSION vector` works
# on every server of that installation. Builds in a temporary copy: the checkout stays clean.
#
#   scripts/install-pgvector.sh [PG_CONFIG]   (default /usr/lib/postgresql/15/bin/pg_config; run as root)
#
# Needs gcc, make and the server headers (Debian: postgresql-server-dev-15). Skips the build when
# that version is installed already. OPTFLAGS="": no -march=native (portable objects); with_llvm=no:
# no JIT bitcode (halves the build, needs no clang).
set -euo pipefail
cd "$(dirname "$0")/.."

PG_CONFIG=${1:-/usr/lib/postgresql/15/bin/pg_config}
VERSION=$(sed -n "s/^default_version = '\(.*\)'$/\1/p" vendor/pgvector/vector.control)
if [ -f "$("$PG_CONFIG" --sharedir)/extension/vector--$VERSION.sql" ] && [ -f "$("$PG_CONFIG" --pkglibdir)/vector.so" ]; then
  echo "pgvector $VERSION is installed already"
  exit 0
fi

BUILD=$(mktemp -d /tmp/ragkit-pgvector.XXXXXX)
trap 'rm -rf "$BUILD"' EXIT
cp -R vendor/pgvector/. "$BUILD"/
make -s -C "$BUILD" -j"$(nproc)" PG_CONFIG="$PG_CONFIG" OPTFLAGS="" with_llvm=no >/dev/null
make -s -C "$BUILD" install PG_CONFIG="$PG_CONFIG" OPTFLAGS="" with_llvm=no >/dev/null
echo "pgvector $VERSION installed into $("$PG_CONFIG" --pkglibdir)"
