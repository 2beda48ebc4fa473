#!/usr/bin/env bash
# Installs what building (and, with "test", testing) Gatehouse needs on a Debian machine.
#
# Idempotent: each step checks what is already there and installs only what is missing. Tools go to
# a cache directory outside the clone ($GATEHOUSE_CACHE, default ~/.cache/gatehouse), so warm runs
# skip them. Every step that fails stops the script with a message naming the step.
set -euo pipefail

purpose=${1:-build}
root=$(cd "$(dirname "$0")/.." && pwd)
cache=${GATEHOUSE_CACHE:-$HOME/.cache/gatehouse}
tools="$cache/tools"
mkdir -p "$tools/bin"
export PATH="$tools/bin:$HOME/.cargo/bin:$PATH"

# Versions that are known to work together; see DESIGN.md ("Building on these machines").
cargo_leptos_version=0.3.11
wasm_opt_version=0.116.1

fail() {
  echo "setup: $*" >&2
  exit 1
}

step() {
  echo "setup: $*"
}

apt_updated=false
apt_install() {
  local missing=()
  for package in "$@"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" \
      || missing+=("$package")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  command -v apt-get >/dev/null || fail "apt-get not found; install ${missing[*]} by hand"
  local sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  if [ "$apt_updated" = false ]; then
    step "apt-get update"
    $sudo apt-get update -qq || fail "apt-get update failed"
    apt_updated=true
  fi
  step "installing Debian packages: ${missing[*]}"
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" \
    || fail "apt-get install ${missing[*]} failed"
}

# The version a crate has in Cargo.lock, so that wasm-bindgen-cli matches the library exactly.
locked_version() {
  awk -v name="$1" '$0 == "name = \"" name "\"" { getline; gsub(/version = |"/, ""); print; exit }' \
    "$root/Cargo.lock"
}

command -v cargo >/dev/null || fail "cargo not found: install Rust with rustup first"
command -v rustup >/dev/null || fail "rustup not found: the wasm target is installed with rustup"

apt_install ca-certificates pkg-config

if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
  step "adding the wasm32-unknown-unknown target"
  rustup target add wasm32-unknown-unknown || fail "rustup target add wasm32-unknown-unknown failed"
fi

# cargo-leptos 0.3's lockfile needs a newer rustc than the stable toolchain here, so it is built with
# the nightly toolchain. The no_downloads feature makes it use the tools below from PATH instead of
# downloading its own, which fails without general network access.
if [ "$("$tools/bin/cargo-leptos" --version 2>/dev/null | awk '{print $2}')" != "$cargo_leptos_version" ]; then
  rustup toolchain list | grep -q '^nightly' \
    || fail "cargo-leptos needs the nightly toolchain to build (rustup toolchain install nightly)"
  step "building cargo-leptos $cargo_leptos_version (about 15 minutes cold)"
  cargo +nightly install --locked --features no_downloads --root "$tools" \
    cargo-leptos --version "$cargo_leptos_version" || fail "cargo install cargo-leptos failed"
fi

wasm_bindgen_version=$(locked_version wasm-bindgen)
[ -n "$wasm_bindgen_version" ] || fail "wasm-bindgen is not in Cargo.lock"
if [ "$("$tools/bin/wasm-bindgen" --version 2>/dev/null | awk '{print $2}')" != "$wasm_bindgen_version" ]; then
  step "building wasm-bindgen-cli $wasm_bindgen_version (about 4 minutes cold)"
  # Without --locked: the CLI's own lockfile pins a crate that is no longer published.
  cargo install --force --root "$tools" wasm-bindgen-cli --version "$wasm_bindgen_version" \
    || fail "cargo install wasm-bindgen-cli failed"
fi

# Debian's binaryen 108 wasm-opt produces a wasm that never hydrates, so a newer one must come first
# on PATH.
if ! "$tools/bin/wasm-opt" --version 2>/dev/null | grep -q "version 116"; then
  step "building wasm-opt $wasm_opt_version (about 10 minutes cold)"
  cargo install --root "$tools" wasm-opt --version "$wasm_opt_version" \
    || fail "cargo install wasm-opt failed"
fi

if [ "$purpose" = test ]; then
  # The throwaway PostgreSQL of the integration tests.
  if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
    apt_install postgresql
  fi
  # The notifier tests send e-mail to a loopback SMTP server (scripts/smtp-sink.py) that speaks
  # STARTTLS and TLS with a certificate made by openssl.
  apt_install python3-aiosmtpd openssl
  # The browser tests: Debian's Chromium (Playwright cannot download its own here) and Node.js.
  [ -x /usr/bin/chromium ] || apt_install chromium
  command -v npm >/dev/null || apt_install nodejs npm
  # The proxy suite: nginx and Caddy in front of Gatehouse, an SMTP sink (aiosmtpd), openssl for
  # its certificates and certutil for Chromium's certificate database. Debian's Caddy is 2.6, whose
  # behaviour the suite's Caddyfile is written for.
  apt_install nginx caddy python3-aiosmtpd libnss3-tools openssl
  # npm ci runs again whenever package-lock.json changed since the last install, so a checkout
  # that gains a test dependency gets it; the stamp holds the lockfile's checksum.
  lock_sum=$(sha256sum "$root/end2end/package-lock.json" | cut -d' ' -f1)
  stamp="$root/end2end/node_modules/.gatehouse-lock-sha256"
  if [ "$(cat "$stamp" 2>/dev/null)" != "$lock_sum" ]; then
    step "installing the browser tests' npm packages"
    (cd "$root/end2end" && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund) \
      || fail "npm ci in end2end failed"
    echo "$lock_sum" > "$stamp"
  fi
fi

step "ready ($purpose)"
