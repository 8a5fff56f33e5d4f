#!/usr/bin/env bash
# Counts EVERY syscall in the marked windows of tests/buf_socket.rs and
# tests/notify_syscalls.rs (see tests/support/syscall_window.rs) and fails unless each window
# makes exactly the calls listed below: a wrapped RingBuf leaves or fills a socket with one
# vectored call, a chain of buffers with one writev, sends to an awake loop make no syscall,
# waking a sleeping loop costs one eventfd write and the woken iteration one epoll_wait.
#
# Each test binary runs once under `strace -ff` with no syscall filter (one log per thread, so
# calls of different threads never interleave); a window is what its thread did between its
# begin and end markers. A missing window, an extra call of any kind (an fcntl before a readv,
# a zero-length send before a sendmsg, a read of the eventfd) or a different call fails.
#
# Usage: ci/syscalls-in-windows.sh   (from anywhere; needs strace, Linux)
set -euo pipefail
cd "$(dirname "$0")/.."

command -v strace >/dev/null || { echo "syscalls-in-windows.sh: strace not installed" >&2; exit 1; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
failures=0

# trace TEST: runs the test binary TEST under strace and writes, for every window label L,
# $work/TEST/L.calls (the windows' calls, one per line, thread after thread) and
# $work/TEST/L.windows (how many windows named L ran).
trace() {
    local bin dir=$work/$1
    bin=$(cargo test --test "$1" --no-run --message-format=json 2>/dev/null |
        sed -n "s/.*\"executable\":\"\\([^\"]*\\/$1-[^\"]*\\)\".*/\\1/p" | tail -n 1)
    [ -x "$bin" ] || { echo "syscalls-in-windows.sh: test binary $1 not found" >&2; exit 1; }
    mkdir -p "$dir"
    if ! strace -ff -qq -s 64 -o "$dir/thread" "$bin" --test-threads=1 >"$dir/test-output" 2>&1; then
        cat "$dir/test-output" >&2
        echo "syscalls-in-windows.sh: $1 failed under strace" >&2
        exit 1
    fi
    awk -v dir="$dir" '
        FNR == 1 { label = "" }
        /^write\(-1, "readyio-window begin / {
            label = $4; sub(/".*/, "", label); windows[label]++
            printf "" >>(dir "/" label ".calls"); next
        }
        /^write\(-1, "readyio-window end / { label = ""; next }
        label != "" { print >>(dir "/" label ".calls") }
        END { for (l in windows) print windows[l] >(dir "/" l ".windows") }
    ' "$dir"/thread.*
}

# expect TEST LABEL WINDOWS [PATTERN...]: the windows named LABEL ran WINDOWS times and made,
# all together, exactly one call per PATTERN (an extended regex over strace's line), in order.
expect() {
    local test=$1 label=$2 windows=$3 seen calls i=0 pattern
    shift 3
    seen=$(cat "$work/$test/$label.windows" 2>/dev/null || echo 0)
    if [ "$seen" -ne "$windows" ]; then
        echo "FAIL $test/$label: $seen windows ran, expected $windows" >&2
        failures=$((failures + 1))
        return
    fi
    mapfile -t calls <"$work/$test/$label.calls"
    local ok=1
    if [ "${#calls[@]}" -ne "$#" ]; then
        ok=0
    else
        for pattern in "$@"; do
            grep -Eq -- "$pattern" <<<"${calls[$i]}" || ok=0
            i=$((i + 1))
        done
    fi
    if ((ok)); then
        echo "ok   $test/$label: ${#calls[@]} syscall(s) in $windows window(s)${1:+: ${calls[*]%%(*}}"
    else
        failures=$((failures + 1))
        {
            if (($#)); then
                echo "FAIL $test/$label: expected exactly $# syscall(s) in $windows window(s) matching:"
                printf '       %s\n' "$@"
            else
                echo "FAIL $test/$label: expected no syscall in $windows window(s)"
            fi
            echo "     strace saw ${#calls[@]} (the first 20 shown):"
            printf '       %s\n' "${calls[@]}" | head -n 20 | cut -c1-200
        } >&2
    fi
}

trace buf_socket
two_iovecs='\[\{iov_base=.*, iov_len=[0-9]+\}, \{iov_base=.*, iov_len=[0-9]+\}\]'
expect buf_socket ring-writev 1 "^writev\([0-9]+, $two_iovecs, 2\) += 4000$"
expect buf_socket ring-readv 1 "^readv\([0-9]+, $two_iovecs, 2\) += 3096$"
expect buf_socket ring-tcp-sendmsg 1 "^sendmsg\([0-9]+, \{msg_name=NULL, .*msg_iovlen=2, .*\}, MSG_NOSIGNAL\) += 4000$"
expect buf_socket ring-tcp-readv 1 "^readv\([0-9]+, $two_iovecs, 2\) += 3096$"
expect buf_socket chain-writev 1 "^writev\([0-9]+, $two_iovecs, 2\) += 1007$"

trace notify_syscalls
expect notify_syscalls notify-awake-sends 1
expect notify_syscalls notify-woken-iteration 1 '^epoll_wait\([0-9]+, \[\{events=EPOLLIN, .*\}\], [0-9]+, 10000\) += 1$'
# Four threads racing 100 sends each: one eventfd write between them. crossbeam's ArrayQueue
# backs off under contention between senders and, after a few failed attempts, yields the CPU
# (sched_yield): the one call a sender may make besides the wake-up, and only when senders
# collide; it is removed before comparing.
sed -i '/^sched_yield() /d' "$work/notify_syscalls/notify-sends-to-a-sleeping-loop.calls"
expect notify_syscalls notify-sends-to-a-sleeping-loop 4 '^write\([0-9]+, "\\1\\0\\0\\0\\0\\0\\0\\0", 8\) += 8$'

if ((failures)); then
    echo "syscalls-in-windows: $failures window(s) made other syscalls than expected" >&2
    exit 1
fi
