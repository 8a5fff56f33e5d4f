#!/usr/bin/env bash
# The reliability programs that have a size, at full size and in release mode (plain
# `cargo test` runs them small: see tests/support/stress.rs). Each asserts and prints its
# figures:
#
#   many connections  tests/stress_connections.rs  as many as the fd limit allows (the soft
#                                                  limit raised to the hard one), every byte checked,
#                                                  1 in 100 reset by the peer halfway
#   8 producers       tests/notify_stress.rs        8 x 1,000,000 messages, each once, in order
#   timers            tests/timer_event_loop.rs     1,000,000 timers over 2 s, each once, never early
#   EINTR storm       tests/event_loop_signal.rs    100,000 signals at the loop's thread; no message,
#                                                  byte or timer lost
#
# The other fault programs have no size and run in `cargo test`: fd exhaustion
# (tests/fd_exhaustion.rs), handler panics (event_loop_panic.rs), orphaned registrations and
# reused fd numbers (poll_orphans.rs), peer resets and SIGPIPE (net_tcp.rs, net_sigpipe.rs),
# bad input (bad_input.rs).
#
# Bounded: each program fails past its own deadline (120 s at most). About 15 s of running
# on this project's 2-core machine, plus the release build of four test binaries.
set -euo pipefail
cd "$(dirname "$0")/.."
export READYIO_STRESS_CONNECTIONS="${READYIO_STRESS_CONNECTIONS:-max}"
export READYIO_STRESS_MESSAGES="${READYIO_STRESS_MESSAGES:-1000000}"
export READYIO_STRESS_TIMERS="${READYIO_STRESS_TIMERS:-1000000}"
export READYIO_STRESS_SIGNALS="${READYIO_STRESS_SIGNALS:-100000}"
start=$SECONDS
# program:test-name filter
programs=(stress_connections: notify_stress:eight_producers timer_event_loop:many_timers event_loop_signal:storm)
cargo test --release --quiet --no-run $(printf -- '--test=%s ' "${programs[@]%%:*}")
built=$SECONDS
log=$(mktemp)
trap 'rm -f "$log"' EXIT
# One program at a time: each gets the machine to itself.
for entry in "${programs[@]}"; do
    program=${entry%%:*} filter=${entry#*:}
    if ! cargo test --release --quiet --test "$program" -- --nocapture $filter >"$log" 2>&1; then
        cat "$log"
        echo "error: $program failed" >&2
        exit 1
    fi
    # The figures the program printed.
    grep -oE '[0-9]+ (concurrent|producers|timers|signals).*' "$log" || true
done
echo "stress: built in $((built - start))s, ran in $((SECONDS - built))s"
