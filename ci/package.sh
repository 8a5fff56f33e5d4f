#!/usr/bin/env bash
# The crate as crates.io would get it: `cargo package` (which builds the packaged sources),
# `cargo publish --dry-run`, then the packaged crate unpacked alone, away from this
# repository, where its own tests must pass. Catches a file the package forgot (a test's
# support module, a committed bindings file, a doc included by include_str!) and anything
# that builds only inside the workspace.
set -euo pipefail
cd "$(dirname "$0")/.."

version=$(cargo metadata --no-deps --format-version 1 |
    python3 -c 'import json,sys; print(next(p["version"] for p in json.load(sys.stdin)["packages"] if p["name"] == "readyio"))')

cargo package --locked -p readyio
cargo publish --dry-run --locked -p readyio

# What the package carries that it should not (CI, benchmarks, figures).
unwanted=$(cargo package --list -p readyio | grep -E '^(ci/|\.ci/|\.github/|compare/|fuzz/|BENCHMARKS|charts/)' || true)
if [ -n "$unwanted" ]; then
    echo "error: the package carries files a user does not build:" >&2
    echo "$unwanted" >&2
    exit 1
fi

# Unpacked outside the workspace: inside it, cargo would take the repository's Cargo.toml as
# the workspace root. The target dir stays under target/ so reruns are warm.
alone=$(mktemp -d)
trap 'rm -rf "$alone"' EXIT
tar -xzf "target/package/readyio-$version.crate" -C "$alone"
CARGO_TARGET_DIR="$PWD/target/package-alone" cargo test --manifest-path "$alone/readyio-$version/Cargo.toml"
echo "package: readyio $version packaged, dry-run published, and its tests pass unpacked alone"
