#!/usr/bin/env bash
# Runs the whole test suite (unit and integration tests) of each TARGET on its own
# architecture: under Debian's qemu-user, which turns the target's system calls into this
# kernel's, or natively for i686. What each target proves that x86_64 cannot:
#   aarch64, armv7, ppc64le, riscv64, loongarch64: a 16-byte, unpacked `epoll_event`;
#   i686, armv7: 32-bit `usize` (tokens, fd table) and the 64-bit time_t of the 32-bit ABIs;
#   s390x: big-endian byte order in every socket address, option and control message.
#
#   ci/test-qemu.sh TARGET...        any of QEMU_TARGETS in ci/common.sh
#   ci/test-qemu.sh all              every one of them
#
# Each target's tests are built once (`cargo build --tests`), then every test binary runs
# under the target's runner. Needs the tools ci/install-deps.sh installs.
set -euo pipefail
cd "$(dirname "$0")/.."
source ci/common.sh

# Line tables only: backtraces keep file and line, while the seven targets' test binaries
# build and link about a quarter faster and take less than half the disk (400 MB -> 170 MB each).
export CARGO_PROFILE_DEV_DEBUG=line-tables-only

(($#)) || { echo "usage: ci/test-qemu.sh TARGET...|all (targets: ${QEMU_TARGETS[*]})" >&2; exit 2; }
if [ "$1" = all ]; then set -- "${QEMU_TARGETS[@]}"; fi

# Tests that cannot pass under qemu-user 7.2 (Debian 12), each with the limitation that
# forces the skip. They run natively (x86_64, musl, i686) and on real arm64 in GitHub Actions.
#
# * qemu-user 7.2 does not implement epoll_pwait2 (it answers ENOSYS: `qemu-aarch64
#   --version` says 7.2), so the selector falls back to epoll_wait and rounds sub-millisecond
#   timeouts up to 1 ms, as documented for kernels before 5.11. The one test that measures
#   sub-millisecond precision therefore cannot pass under emulation.
QEMU_SKIPS=(sub_millisecond_timeouts_are_not_rounded_to_whole_milliseconds)

# Test binaries whose tests count the whole process's allocations with a counting global
# allocator under libtest's harness: a neighbouring test thread's allocations would be
# counted too, so their tests run one at a time. Every other binary runs two tests at a
# time (this machine's core count), which keeps each target's run short under emulation.
SERIAL_BINARIES=(poll_allocations util_slab)

# On 32-bit glibc the bindings are generated with _TIME_BITS=64 (wrapper.h), and glibc's
# headers then redirect each call whose ABI carries time or file offsets to its 64-bit
# symbol; bindgen writes the redirect as the function's #[link_name]. These are the calls
# readyio makes that glibc (2.34+) redirects, each with its 64-bit symbol.
TIME64_REDIRECTS=(fcntl:__fcntl_time64 getsockopt:__getsockopt64 setsockopt:__setsockopt64
    sendmsg:__sendmsg64 recvmsg:__recvmsg64)

# Checks, in the machine code of readyio's rlib for a 32-bit glibc target, that readyio's own
# functions call each 64-bit symbol and none of the 32-bit ones. (std keeps the 32-bit ABI
# for its own calls, e.g. the fcntl of its debug check that an fd is open, which the rlib
# holds inlined: those are std's, not our bindings'.)
check_time64_symbols() {
    local target=$1 rlib=$2 cfg objdump objects callers pair name symbol bad=0
    cfg=$(rustc --print cfg --target "$target")
    grep -qx 'target_env="gnu"' <<<"$cfg" && grep -qx 'target_pointer_width="32"' <<<"$cfg" || return 0
    [ -f "$rlib" ] || { echo "error: no readyio rlib found for $target" >&2; return 1; }
    objdump=${QEMU_LINKER%-gcc}-objdump
    rlib=$(realpath "$rlib")
    objects=$(mktemp -d)
    (cd "$objects" && ar x "$rlib")
    # "function -> symbol" for every relocation (call or address) in readyio's own functions.
    callers=$("$objdump" -drC "$objects"/*.o 2>/dev/null | awk '
        /^[0-9a-f]+ <.*>:$/ { fn = substr($0, index($0, "<") + 1); sub(/>:$/, "", fn) }
        /^[[:space:]]+[0-9a-f]+: R_/ { print fn " -> " $NF }' | grep -E '^<?readyio::' | sort -u)
    rm -rf "$objects"
    for pair in "${TIME64_REDIRECTS[@]}"; do
        name=${pair%%:*}
        symbol=${pair#*:}
        if grep -q " -> $name\$" <<<"$callers"; then
            echo "error: $target: readyio calls $name, the 32-bit-time symbol, instead of $symbol:" >&2
            grep " -> $name\$" <<<"$callers" >&2
            bad=1
        elif ! grep -q " -> $symbol\$" <<<"$callers"; then
            echo "error: $target: readyio never calls $symbol (is wrapper.h's _TIME_BITS=64 in effect?)" >&2
            bad=1
        fi
    done
    ((bad == 0)) || return 1
    echo "$target: readyio calls ${TIME64_REDIRECTS[*]#*:} and none of their 32-bit-time names"
}

run_target() {
    local target=$1 cargo_env=() build=build skip_args=() executables name threads
    qemu_target "$target"
    cargo_for_target "$target"
    local var_target
    var_target=$(tr 'a-z-' 'A-Z_' <<<"$target")
    if [ "$QEMU_LINKER" = zig ]; then
        command -v cargo-zigbuild >/dev/null || { echo "error: cargo-zigbuild not found; run ci/install-deps.sh" >&2; return 1; }
        build=zigbuild
    else
        command -v "$QEMU_LINKER" >/dev/null || { echo "error: $QEMU_LINKER not found; run ci/install-deps.sh" >&2; return 1; }
        cargo_env+=("CARGO_TARGET_${var_target}_LINKER=$QEMU_LINKER")
    fi
    if [ -n "$QEMU_RUSTFLAGS" ]; then
        cargo_env+=("CARGO_TARGET_${var_target}_RUSTFLAGS=$QEMU_RUSTFLAGS")
    fi
    local runner=()
    if [ -n "$QEMU_RUNNER" ]; then
        read -ra runner <<<"$QEMU_RUNNER"
        command -v "${runner[0]}" >/dev/null || { echo "error: ${runner[0]} not found; run ci/install-deps.sh" >&2; return 1; }
        for name in "${QEMU_SKIPS[@]}"; do skip_args+=(--skip "$name"); done
    fi

    local start=$SECONDS artifacts rlib
    # The JSON messages name each test executable and readyio's rlib; diagnostics still
    # reach the terminal.
    artifacts=$(env "${cargo_env[@]}" "${CARGO_FOR_TARGET[@]}" "$build" "${CARGO_STD_ARGS[@]}" --quiet --tests \
        --target "$target" --message-format=json-render-diagnostics |
        python3 -c 'import json, sys
for line in sys.stdin:
    m = json.loads(line)
    if m.get("reason") != "compiler-artifact":
        continue
    if m.get("executable"):
        print("exe", m["executable"])
    elif m["target"]["name"] == "readyio" and "lib" in m["target"]["kind"]:
        print("rlib", *[f for f in m["filenames"] if f.endswith(".rlib")])')
    executables=$(sed -n 's/^exe //p' <<<"$artifacts")
    rlib=$(sed -n 's/^rlib //p' <<<"$artifacts")
    local built=$SECONDS
    echo "$target: test binaries built in $((built - start))s"
    check_time64_symbols "$target" "$rlib"

    local count=0 exe
    while IFS= read -r exe; do
        name=$(basename "$exe")
        name=${name%-*}
        threads=2
        if [[ " ${SERIAL_BINARIES[*]} " == *" $name "* ]]; then threads=1; fi
        echo "--- $target: $name"
        # Each binary runs from the crate root, as `cargo test` runs it.
        "${runner[@]}" "$exe" --test-threads="$threads" "${skip_args[@]}"
        count=$((count + 1))
    done <<<"$executables"
    ((count > 10)) || { echo "error: only $count test binaries built for $target" >&2; return 1; }
    echo "$target: $count test binaries passed in $((SECONDS - built))s under ${QEMU_RUNNER:-the native kernel} (build $((built - start))s)"
}

for target in "$@"; do
    run_target "$target"
done
