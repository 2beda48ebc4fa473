#!/usr/bin/env bash
# Runs every test: unit and integration tests on SQLite and on a throwaway PostgreSQL, then builds
# the portal's site (server and hydrate wasm) so that a change that breaks the browser build fails.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

scripts/postgres-test.sh start
trap 'scripts/postgres-test.sh stop' EXIT
# shellcheck disable=SC1091
. "${GATEHOUSE_TEST_POSTGRES_ENV:-$root/target/postgres-test.env}"
export GATEHOUSE_TEST_POSTGRES_URL

echo "tests: cargo test (SQLite and PostgreSQL at ${GATEHOUSE_TEST_POSTGRES_URL%%@*}@…)"
cargo test --workspace --no-fail-fast

echo "tests: building the site with cargo leptos"
cargo leptos build
