#!/usr/bin/env bash
# Runs readyio's kqueue backend on Linux: the kqueue selector and EVFILT_USER waker
# (src/sys/kqueue.rs, src/sys/waker_kqueue.rs) over libkqueue, a userspace kqueue built on
# epoll, so that their kevent calls execute here and are not only compiled.
#
#   1. builds libkqueue (pinned, unmodified) with cmake as a static library, cached under
#      target/libkqueue/<commit>/ (a warm run skips cmake entirely);
#   2. generates the bindings with libkqueue's <sys/event.h> added to the pinned zig Linux
#      headers (--cfg readyio_libkqueue --features generate, see build.rs) and checks that
#      every line of the committed x86_64-unknown-linux-gnu.rs is in them unchanged;
#   3. clippy -D warnings on every target of the crate under the cfg;
#   4. the whole test suite (unit, integration, doc tests) under the cfg, skipping only the
#      tests listed below, and fails unless each skip matched exactly one test.
#
# Passing here proves readyio's real kevent call sequences (receipts, delete-then-add on
# modify, per-filter oneshot, coalescing, the witness kqueue, the EVFILT_USER waker,
# timeouts); it does not prove the kernels' own semantics, which only the FreeBSD and macOS
# jobs of .github/workflows/ci.yml can.
#
# libkqueue's source: $READYIO_LIBKQUEUE_SRC if set (the workflow checks it out from
# github.com/mheily/libkqueue at the pinned commit), else ../shared/third_party/libkqueue
# beside the clone, else /work/shared/third_party/libkqueue (this project's machines). A git
# checkout must be at the pinned commit; a copy without .git must match the pinned hash of its
# files (a new pin updates both lines below).
set -euo pipefail
cd "$(dirname "$0")/.."
source ci/common.sh

LIBKQUEUE_COMMIT=f96608964f7da711e686e09c39b79abdb4cc358e
# sha256 over "sha256sum" lines of every file of that commit's tree, sorted by path.
LIBKQUEUE_TREE_SHA256=735a79066f1189b449a59d809ed081b5533e6b0358be3905032191cac8bbd93f

# Tests that cannot pass over libkqueue because libkqueue provably differs from the BSD and
# macOS kernels there. Each names the libkqueue code that forces the skip and the kernel
# behaviour the test pins (which the FreeBSD and macOS CI jobs check).
skips=(
    # libkqueue fills a socket result's fflags with getsockopt(SO_ERROR)
    # (src/linux/read.c evfilt_read_copyout, src/linux/write.c evfilt_write_copyout), which
    # clears the pending error. The kernels copy so_error into fflags and leave it pending
    # (FreeBSD sys/kern/uipc_socket.c filt_soread/filt_sowrite, xnu bsd/kern/uipc_socket.c
    # filt_soread_common/filt_sowrite_common, NetBSD sys/kern/uipc_socket.c
    # filt_soread/filt_sowrite), so take_socket_error() still returns ECONNREFUSED after the
    # error event. Under libkqueue the event part of this test (is_error) passes.
    refused_connect_reports_an_error_event_and_take_socket_error
    # The same libkqueue copyout, on a peer's reset: the EPOLLERR that comes with the RST
    # makes libkqueue read SO_ERROR, which takes the pending ECONNRESET, so the read after
    # the event returns end of stream instead. The kernels leave so_error for the read
    # (the same filt_soread functions as above), which is what the test pins; its event part
    # (hup or error reported) passes under libkqueue.
    a_peer_reset_is_reported_and_then_reads_and_writes_fail_cleanly
    # libkqueue cannot see an fd closed behind its back (BUGS.md, "Linux": "If a file
    # descriptor outside of kqueue is closed, the internal kqueue state is not cleaned up"):
    # src/common/knote.c knote_lookup finds knotes by fd number alone, so the closed file's
    # witness knote is still found for the new file that took the number, and register says
    # AlreadyExists. The kernels drop every knote of an fd, in every kqueue, when it is closed
    # (FreeBSD and NetBSD sys/kern/kern_event.c knote_fdclose, xnu bsd/kern/kern_event.c
    # knote_fdclose), so the new file registers like any other.
    an_fd_number_closed_while_registered_registers_again_for_its_new_file
    # For the same reason, every test that closes (or dup2s over) a registered fd and reuses
    # its number: the orphan tests (tests/poll_orphans.rs), which on kqueue systems pin that no
    # orphan exists, and a deregister after dup2 replaced the file (which the kernels report
    # as ENOENT, the old file's knotes being gone).
    a_handle_closed_mid_iteration_and_its_number_reused_gets_no_stale_event
    a_purge_keeps_edge_level_and_oneshot_registrations
    a_purge_never_registers_a_file_that_took_a_stale_entrys_number
    an_event_loop_with_an_orphan_sleeps_and_its_channel_still_wakes_it
    an_orphan_hidden_behind_a_reused_fd_number_is_purged_and_the_poll_sleeps
    an_orphan_the_table_let_go_of_is_purged
    deregister_after_the_fd_was_replaced_behind_readyios_back_frees_the_socket
)
# Not skipped but adapted under the cfg, because the rest of the test still holds:
# tests/event_loop_alloc.rs expects 512, not 1024, tokens in the first iteration, since
# libkqueue returns at most MAX_KEVENT (512, src/common/private.h) results per kevent call
# where the kernels fill the whole buffer; its allocation count is unchanged.

for tool in cmake cc; do
    command -v "$tool" >/dev/null || { echo "error: $tool not found; run ci/install-deps.sh" >&2; exit 1; }
done

# Where the source is. "../shared" is resolved from the clone's root, whatever its path.
repo=$(pwd -P)
if [ -n "${READYIO_LIBKQUEUE_SRC:-}" ]; then
    src=$READYIO_LIBKQUEUE_SRC
elif [ -d "$repo/../shared/third_party/libkqueue" ]; then
    src=$repo/../shared/third_party/libkqueue
else
    src=/work/shared/third_party/libkqueue
fi
[ -f "$src/CMakeLists.txt" ] || {
    echo "error: no libkqueue source at $src; set READYIO_LIBKQUEUE_SRC to a checkout of" \
        "https://github.com/mheily/libkqueue at $LIBKQUEUE_COMMIT" >&2
    exit 1
}
src=$(cd "$src" && pwd -P)
if [ -e "$src/.git" ]; then
    head=$(git -C "$src" rev-parse HEAD)
    [ "$head" = "$LIBKQUEUE_COMMIT" ] || {
        echo "error: $src is at $head, not the pinned $LIBKQUEUE_COMMIT" >&2
        exit 1
    }
else
    tree=$(cd "$src" && find . -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum | sha256sum | cut -d' ' -f1)
    [ "$tree" = "$LIBKQUEUE_TREE_SHA256" ] || {
        echo "error: the files of $src hash to $tree, not to the pinned $LIBKQUEUE_TREE_SHA256" \
            "(libkqueue $LIBKQUEUE_COMMIT)" >&2
        exit 1
    }
fi
echo "libkqueue $LIBKQUEUE_COMMIT from $src"

# 1. libkqueue, cached: the stamp names what was built, and with what.
build=target/libkqueue/$LIBKQUEUE_COMMIT
stamp="$LIBKQUEUE_COMMIT $(cmake --version | head -n 1) $(cc --version | head -n 1)"
start=$SECONDS
if [ -f "$build/libkqueue.a" ] && [ "$(cat "$build/stamp" 2>/dev/null)" = "$stamp" ]; then
    echo "libkqueue: cached in $build"
else
    rm -rf "$build"
    mkdir -p target/libkqueue
    cmake -S "$src" -B "$build" -DENABLE_SHARED=OFF -DENABLE_TESTING=OFF >"$build.cmake.log" 2>&1 ||
        { cat "$build.cmake.log" >&2; exit 1; }
    cmake --build "$build" --parallel 2 >>"$build.cmake.log" 2>&1 || { cat "$build.cmake.log" >&2; exit 1; }
    echo "$stamp" >"$build/stamp"
    echo "libkqueue: built in $((SECONDS - start))s ($build)"
fi

# Everything below builds readyio with the cfg, in a target dir of its own.
find_zig_headers
export READYIO_LIBKQUEUE_DIR=$repo/$build
export RUSTFLAGS="--cfg readyio_libkqueue"
export CARGO_TARGET_DIR=target/libkqueue/cargo
export READYIO_WRITE_BINDINGS_TO=$repo/target/libkqueue/bindings
mkdir -p "$READYIO_WRITE_BINDINGS_TO"

# 2. The bindings: libkqueue's declarations added, the Linux ones untouched.
start=$SECONDS
cargo check --quiet --lib --features generate
target=x86_64-unknown-linux-gnu
changed=$(diff "src/sys/bindings/$target.rs" "$READYIO_WRITE_BINDINGS_TO/$target.rs" | grep -c '^<' || true)
added=$(diff "src/sys/bindings/$target.rs" "$READYIO_WRITE_BINDINGS_TO/$target.rs" | grep -c '^>' || true)
if [ "$changed" -ne 0 ]; then
    echo "error: with libkqueue's <sys/event.h>, $changed lines of src/sys/bindings/$target.rs change:" >&2
    diff "src/sys/bindings/$target.rs" "$READYIO_WRITE_BINDINGS_TO/$target.rs" | head -40 >&2
    exit 1
fi
grep -q 'pub fn kevent(' "$READYIO_WRITE_BINDINGS_TO/$target.rs" || { echo "error: no kevent in the bindings" >&2; exit 1; }
echo "bindings: the committed Linux file is unchanged, libkqueue adds $added lines ($((SECONDS - start))s)"

# 3. Lints of everything the crate builds, under the cfg.
start=$SECONDS
cargo clippy --quiet --all-targets --features generate -- -D warnings
echo "clippy -D warnings clean under --cfg readyio_libkqueue ($((SECONDS - start))s)"

# 4. The whole suite, one test at a time (the timing tests get a core to themselves).
start=$SECONDS
skip_args=()
for name in "${skips[@]}"; do
    skip_args+=(--skip "$name")
done
log=$(mktemp)
trap 'rm -f "$log"' EXIT
cargo test --features generate -- --test-threads=1 "${skip_args[@]}" 2>&1 | tee "$log"
# Passed: every "test NAME ... ok" line (the harness-less binaries print those too, but no
# summary). Skipped: the "S filtered out" of every binary's "test result:" summary.
passed=$(grep -c '^test .* \.\.\. ok$' "$log" || true)
filtered=$(grep '^test result:' "$log" | grep -o '[0-9]* filtered out' | awk '{ n += $1 } END { print n + 0 }')
if [ "$filtered" -ne "${#skips[@]}" ]; then
    echo "error: ${#skips[@]} skips listed but $filtered tests filtered out: a skip matches no test" \
        "(renamed? fixed? remove it) or more than one" >&2
    exit 1
fi
echo "libkqueue: $passed tests passed, $filtered skipped (listed in ci/test-libkqueue.sh), 0 failed ($((SECONDS - start))s)"
