#!/usr/bin/env bash
# Builds and links the test binaries for FreeBSD and both macOS targets with cargo-zigbuild
# (zig as the cross linker, against the committed bindings), and lints every target (lib,
# tests, benches, examples) of all four BSD/macOS targets with clippy -D warnings (NetBSD:
# that type-check is all). These cannot run here: compiling them proves the kqueue backend
# and the cfg branches build warning-free, and that tests/bindings_match_libc.rs's const
# assertions (bindings == libc) hold for each target. They run in GitHub Actions.
# aarch64-unknown-freebsd has no std in rustup (Rust's tier 3): nightly cargo builds its std
# from source to type-check the library and every test (the libc cross-check included).
set -euo pipefail
cd "$(dirname "$0")/.."
command -v cargo-zigbuild >/dev/null || { echo "error: cargo-zigbuild not found; run ci/install-deps.sh" >&2; exit 1; }
link_targets=(x86_64-unknown-freebsd x86_64-apple-darwin aarch64-apple-darwin)
check_targets=(x86_64-unknown-netbsd)
build_std_check_targets=(aarch64-unknown-freebsd)
source ci/common.sh
for t in "${link_targets[@]}" "${check_targets[@]}"; do
    ensure_rust_target "$t"
done
for t in "${link_targets[@]}"; do
    start=$SECONDS
    cargo zigbuild --quiet --tests --target "$t"
    echo "linked test binaries for $t ($((SECONDS - start))s)"
done
for t in "${build_std_check_targets[@]}"; do
    start=$SECONDS
    cargo_for_target "$t"
    "${CARGO_FOR_TARGET[@]}" check "${CARGO_STD_ARGS[@]}" --quiet --lib --tests --target "$t"
    echo "library and tests type-check for $t, std built from source ($((SECONDS - start))s)"
done
for t in "${link_targets[@]}" "${check_targets[@]}"; do
    start=$SECONDS
    cargo clippy --quiet --workspace --all-targets --target "$t" -- -D warnings
    echo "clippy -D warnings clean on all targets for $t ($((SECONDS - start))s)"
done
