#!/usr/bin/env bash
# Starts Gatehouse on its embedded default in a fresh data directory, on the port given, for the
# browser tests. The binary and site come from `cargo leptos build` (debug unless told otherwise).
set -euo pipefail
port=${1:?usage: start-gatehouse.sh PORT}
root=$(cd "$(dirname "$0")/.." && pwd)
profile=${GATEHOUSE_E2E_PROFILE:-debug}
binary=${CARGO_TARGET_DIR:-$root/target}/$profile/gatehouse
# The tests read the notifier's file (notifications.txt) in the data directory, so the
# configuration passes its path in GATEHOUSE_E2E_DATA; it is emptied first.
if [ -n "${GATEHOUSE_E2E_DATA:-}" ]; then
  data=$GATEHOUSE_E2E_DATA
  rm -rf "$data"
  mkdir -p "$data"
else
  data=$(mktemp -d /tmp/gatehouse-e2e.XXXXXX)
fi
export GATEHOUSE_SITE_ROOT=${GATEHOUSE_SITE_ROOT:-$root/target/site}
export GATEHOUSE_SERVER_ADDRESS="tcp://127.0.0.1:$port/"
# The WebAuthn test signs in with a passkey, which the embedded default leaves off.
export GATEHOUSE_WEBAUTHN_ENABLE_PASSKEY_LOGIN=true
# The tests request and confirm more elevation codes from 127.0.0.1 than the default limits allow
# (3 in 5 and in 10 minutes). The server's own tests cover those limits.
export GATEHOUSE_SERVER_ENDPOINTS_RATE_LIMITS_SESSION_ELEVATION_START_ENABLE=false
export GATEHOUSE_SERVER_ENDPOINTS_RATE_LIMITS_SESSION_ELEVATION_FINISH_ENABLE=false
# The users the tests sign in with: one for the portal tests and one for each flow that changes
# its user (a second factor, a new password), so that the tests do not depend on their order.
add_user() {
  printf '%s\n' "${GATEHOUSE_E2E_PASSWORD:-e2e-password-0123}" | "$binary" user add "$1" \
    --data "$data" --email "$2" --name "$3" "${@:4}" --password-stdin >/dev/null
}
add_user e2e-user e2e@example.com "E2E User"
add_user e2e-totp totp@example.com "TOTP User"
add_user e2e-reset reset@example.com "Reset User"
add_user e2e-nojs nojs@example.com "No Script User"
add_user e2e-key key@example.com "Key User"
add_user e2e-admin e2e-admin@example.com "E2E Admin" --groups admins
exec "$binary" serve --data "$data"
