#!/usr/bin/env bash
# valgrind memcheck over the test binaries of `cargo test` (the same debug build, so the
# final `cargo test` step reuses it): every binary must pass its tests with zero memcheck
# errors (invalid reads/writes, uninitialised bytes handed to a syscall or used in a
# branch, bad frees) and no definitely lost memory (--error-exitcode, leaks counted as
# errors). Where Miri (ci/miri.sh) cannot go, this is what checks the sys layer against
# the real kernel: sockets of every kind, level-triggered and oneshot epoll, signals.
#
# Not run under valgrind, and why:
#   * buf_socket, notify_syscalls: they count this process's read/write syscalls
#     (/proc/self/io), and valgrind makes reads and writes of its own;
#   * timer_event_loop: it asserts sub-millisecond timer precision, which a program running
#     20-50 times slower cannot have;
#   * timer_wheel, buf_ring: pure safe code over the standard library, minutes of model
#     steps here, and run under Miri, which checks more than memcheck can;
#   * notify_loom: empty unless built with --cfg loom (.ci/run runs it separately);
#   * fd_exhaustion: it lowers RLIMIT_NOFILE and fills the fd table, and valgrind keeps fds
#     of its own at the top of the table and enforces the fd limit in its syscall wrappers
#     rather than leaving it to the kernel: under it one of the 24 waiting connections was
#     closed without passing through readyio's shedding (23 shed, all 24 closed), so the
#     exhaustion the test stages is not the kernel's. It runs natively in every suite.
set -euo pipefail
cd "$(dirname "$0")/.."
start=$SECONDS
skip=" buf_socket notify_syscalls timer_event_loop timer_wheel buf_ring notify_loom fd_exhaustion "
logs=target/valgrind
mkdir -p "$logs"

# name<TAB>path of every test binary `cargo test` builds.
binaries=$(cargo test --no-run --message-format=json | python3 -c '
import json, sys
for line in sys.stdin:
    message = json.loads(line)
    if message.get("reason") == "compiler-artifact" and message.get("executable") and message["profile"]["test"]:
        print(message["target"]["name"] + "\t" + message["executable"])
')

failed=0
ran=0
printf '%-22s %8s %s\n' binary errors "tests"
while IFS=$'\t' read -r name exe; do
    if [[ "$skip" == *" $name "* ]]; then
        continue
    fi
    ran=$((ran + 1))
    log="$logs/$name.log"
    status=0
    timeout 600 valgrind --log-file="$log" --error-exitcode=99 --leak-check=full \
        --errors-for-leak-kinds=definite --show-leak-kinds=definite "$exe" -q >"$logs/$name.out" 2>&1 || status=$?
    errors=$(sed -n 's/.*ERROR SUMMARY: \([0-9]*\) errors.*/\1/p' "$log" | tail -1)
    summary=$(grep -E '^test result' "$logs/$name.out" | tail -1 || true)
    printf '%-22s %8s %s\n' "$name" "${errors:-?}" "${summary:-(own harness) exit $status}"
    if [ "$status" -ne 0 ]; then
        failed=$((failed + 1))
        echo "--- $name exited with $status; valgrind's log ($log):" >&2
        grep -v '^==[0-9]*== *$' "$log" | head -60 >&2
        tail -20 "$logs/$name.out" >&2
    fi
done <<<"$binaries"

if [ "$failed" -ne 0 ]; then
    echo "valgrind: $failed of $ran test binaries failed" >&2
    exit 1
fi
echo "valgrind: $ran test binaries, 0 memcheck errors, in $((SECONDS - start))s"
