#!/usr/bin/env bash
# Runs every test: unit and integration tests on SQLite and on a throwaway PostgreSQL, then builds
# the portal's site (server and hydrate wasm) and checks in Chromium that its pages hydrate.
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
scripts/link-build.sh debug

echo "tests: browser tests (Playwright with Debian's Chromium)"
(cd end2end && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npx playwright test)
