#!/usr/bin/env bash
# Miri (`cargo +nightly miri test`): runs tests in Rust's interpreter, which checks every
# memory access, pointer and `unsafe` precondition on the way, and fails on undefined
# behaviour (use after free, out-of-bounds, uninitialised reads, data races) and on leaks.
#
# What it runs, and why only that:
#   * the pure modules: util::Slab (tests/util_slab.rs), buf::RingBuf against its model
#     (tests/buf_ring.rs), the timer wheel against its model (tests/timer_wheel.rs; the
#     tests of hundreds of thousands of steps are ignored under Miri, and a Miri-sized
#     model test takes their place);
#   * the sys layer on what Miri emulates: edge-triggered epoll, eventfd, pipes and their
#     readv/writev (tests/sys_under_miri.rs), and the crate's unit tests: the kqueue
#     translation against the FreeBSD, macOS and NetBSD bindings, the eventfd and pipe
#     wakers, socket options and the selector.
#   Miri has no level-triggered epoll, no EPOLLONESHOT and no socket `send`/`sendmsg`, so
#   the rest of the suite (TCP/UDP/Unix sockets, level-triggered and oneshot polls, the
#   event loop's socket tests) cannot run here; the one unit test that polls
#   level-triggered (sys::epoll, millisecond_and_sub_millisecond_selects_...) is skipped.
#
# -Zmiri-permissive-provenance: kqueue's `udata` is a pointer-typed field that readyio
# fills with an integer (fd and generation) and never dereferences; with the crate's MSRV
# (1.77) there is no strict-provenance way to write it, so Miri is told that this
# integer-to-pointer cast is intended instead of warning about it at every test.
#
# Miri's sysroot (a std built for the interpreter, ~1.5 min cold) is cached under
# target/miri-cache. Each run is bounded by `timeout`.
set -euo pipefail
cd "$(dirname "$0")/.."
export XDG_CACHE_HOME="$PWD/target/miri-cache"
export MIRIFLAGS="${MIRIFLAGS:--Zmiri-permissive-provenance}"
LIMIT="${READYIO_MIRI_TIMEOUT:-600}"
start=$SECONDS

timeout "$LIMIT" cargo +nightly miri setup
timeout "$LIMIT" cargo +nightly miri test \
    --test util_slab --test buf_ring --test timer_wheel --test sys_under_miri
timeout "$LIMIT" cargo +nightly miri test --lib -- \
    --skip sys::epoll::tests::millisecond_and_sub_millisecond_selects_both_report_ready_fds

echo "miri: passed in $((SECONDS - start))s"
