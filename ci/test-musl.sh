#!/usr/bin/env bash
# Runs the whole test suite (unit and integration tests) for x86_64-unknown-linux-musl.
# Its binaries are static and run natively here: a second libc with its own headers,
# bindings and struct layouts, on the real kernel.
set -euo pipefail
cd "$(dirname "$0")/.."
source ci/common.sh
target=x86_64-unknown-linux-musl
ensure_rust_target "$target"
# One test at a time: the timing tests (timeouts, deadlines) then get a core of this shared
# 2-core machine to themselves, and the whole suite still takes seconds.
start=$SECONDS
cargo test --target "$target" --tests -- --test-threads=1
echo "musl: test suite passed in $((SECONDS - start))s"
