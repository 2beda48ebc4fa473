#!/usr/bin/env bash
# Starts Gatehouse on its embedded default in a fresh data directory, on the port given, for the
# browser tests. The binary and site come from `cargo leptos build` (debug unless told otherwise).
set -euo pipefail
port=${1:?usage: start-gatehouse.sh PORT}
root=$(cd "$(dirname "$0")/.." && pwd)
profile=${GATEHOUSE_E2E_PROFILE:-debug}
binary=${CARGO_TARGET_DIR:-$root/target}/$profile/gatehouse
data=$(mktemp -d /tmp/gatehouse-e2e.XXXXXX)
export GATEHOUSE_SITE_ROOT=${GATEHOUSE_SITE_ROOT:-$root/target/site}
export GATEHOUSE_SERVER_ADDRESS="tcp://127.0.0.1:$port/"
# The user the portal tests sign in with.
printf '%s\n' "${GATEHOUSE_E2E_PASSWORD:-e2e-password-0123}" | "$binary" user add e2e-user \
  --data "$data" --email e2e@example.com --name "E2E User" --password-stdin >/dev/null
exec "$binary" serve --data "$data"
