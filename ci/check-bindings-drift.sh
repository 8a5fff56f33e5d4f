#!/usr/bin/env bash
# Proves that every committed src/sys/bindings/<target>.rs is exactly what build.rs generates
# today (byte for byte), and that the crate type-checks against each fresh file (bindgen's
# layout assertions included). Fails on the first difference with the diff and the fix.
set -euo pipefail
cd "$(dirname "$0")/.."
source ci/common.sh

find_zig_headers
fresh=$(mktemp -d)
trap 'rm -rf "$fresh"' EXIT
mapfile -t targets < <(committed_targets)
((${#targets[@]})) || { echo "error: no committed bindings found" >&2; exit 1; }
drifted=0
for target in "${targets[@]}"; do
    start=$SECONDS
    READYIO_WRITE_BINDINGS_TO="$fresh" generate_bindings "$target"
    if cmp -s "$fresh/$target.rs" "src/sys/bindings/$target.rs"; then
        echo "ok: $target ($((SECONDS - start))s)"
    else
        echo "DRIFT: src/sys/bindings/$target.rs differs from a fresh generation:" >&2
        diff -u "src/sys/bindings/$target.rs" "$fresh/$target.rs" | head -40 >&2 || true
        drifted=1
    fi
done
if ((drifted)); then
    echo "error: committed bindings drifted; run ci/regenerate-bindings.sh and commit the result" >&2
    exit 1
fi
echo "bindings: ${#targets[@]} committed targets match a fresh generation"
