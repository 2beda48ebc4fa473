#!/usr/bin/env bash
# Puts the build outputs in the checkout as target/<profile>/gatehouse and target/site, the layout
# operators deploy, when CARGO_TARGET_DIR points to a cache outside the clone. The binary is
# copied, not linked, so that a build from another clone sharing the cache cannot replace it.
set -euo pipefail
profile=${1:-release}
root=$(cd "$(dirname "$0")/.." && pwd)
target_dir=${CARGO_TARGET_DIR:-$root/target}
[ "$target_dir" = "$root/target" ] && exit 0
mkdir -p "$root/target/$profile"
rm -f "$root/target/$profile/gatehouse"
cp "$target_dir/$profile/gatehouse" "$root/target/$profile/gatehouse"
echo "build: $root/target/$profile/gatehouse and $root/target/site"
