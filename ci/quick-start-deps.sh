#!/usr/bin/env bash
# The README's first command (`cargo run --release --example ping_pong`) must build readyio and
# nothing heavier: the benchmarks' contenders live in compare/. Cargo builds every
# dev-dependency for an example, so this fails if readyio's normal, build or dev dependency
# graph grows beyond the crates listed here (measured: 6.9 s cold for the example, against
# ~26 s when the contenders were dev-dependencies). Adding a crate here is a decision: say why
# in the commit.
set -euo pipefail
cd "$(dirname "$0")/.."

allowed="bitflags bytes crossbeam-queue crossbeam-utils libc readyio slab"
extra=()
while read -r name; do
    [[ " $allowed " == *" $name "* ]] || extra+=("$name")
done < <(cargo tree -p readyio -e normal,dev,build --prefix none --no-dedupe | awk 'NF {print $1}' | sort -u)
if ((${#extra[@]})); then
    echo "error: readyio's own dependency graph (built by the quick start) gained: ${extra[*]}" >&2
    echo "       benchmark contenders belong in compare/Cargo.toml" >&2
    exit 1
fi
echo "quick start builds only: $allowed"
