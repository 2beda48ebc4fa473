#!/usr/bin/env bash
# Runs every test: unit and integration tests on SQLite and on a throwaway PostgreSQL, then builds
# the portal's site (server and hydrate wasm), checks in Chromium that its pages hydrate, and runs
# the proxy suite (Chromium, nginx and Caddy in front of Gatehouse) on SQLite and on PostgreSQL.
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

# Needs root: nginx and Caddy listen on port 443 of 127.0.0.2 and 127.0.0.3.
echo "tests: proxy suite on SQLite (Chromium, nginx, Caddy; artifacts in artifacts/end2end-proxy/sqlite)"
(cd end2end && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npx playwright test --config proxy.config.ts)
echo "tests: proxy suite on PostgreSQL (artifacts in artifacts/end2end-proxy/postgres)"
(cd end2end && GATEHOUSE_E2E_DATABASE=postgres PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npx playwright test --config proxy.config.ts)
