#!/bin/sh
# Counts, with strace, the vectored syscalls a wrapped RingBuf costs on a real socket:
# exactly one writev (two iovecs, all 4000 bytes) to send it and exactly one readv (two
# iovecs, all 3096 free bytes) to fill it. tests/buf_socket.rs checks the same with the
# kernel's per-thread counters; this is the independent, strace-based check.
#
# Usage: ci/syscalls-wrapped-ring.sh   (from the crate root; needs strace)
set -eu

command -v strace >/dev/null || { echo "syscalls-wrapped-ring.sh: strace not installed" >&2; exit 1; }

bin=$(cargo test --test buf_socket --no-run --message-format=json 2>/dev/null |
    sed -n 's/.*"executable":"\([^"]*buf_socket[^"]*\)".*/\1/p' | tail -n 1)
[ -x "$bin" ] || { echo "syscalls-wrapped-ring.sh: buf_socket test binary not found" >&2; exit 1; }

log=$(mktemp)
trap 'rm -f "$log"' EXIT

# expect_one TEST SYSCALL RESULT: TEST makes exactly one SYSCALL, with 2 iovecs, returning RESULT,
# and no other vectored or message call.
expect_one() {
    strace -f -qq -e trace=readv,writev,sendmsg,recvmsg -o "$log" "$bin" --exact --test-threads=1 "$1" >/dev/null
    total=$(grep -c -E '(readv|writev|sendmsg|recvmsg)\(' "$log" || true)
    case $2 in
        sendmsg) shape="sendmsg\\(.*msg_iovlen=2,.*\\) = $3\$" ;;
        *) shape="$2\\(.*\\], 2\\) = $3\$" ;;
    esac
    matching=$(grep -c -E "$shape" "$log" || true)
    if [ "$total" -ne 1 ] || [ "$matching" -ne 1 ]; then
        echo "FAIL $1: expected one $2 of 2 iovecs returning $3, strace saw:" >&2
        cat "$log" >&2
        exit 1
    fi
    echo "ok   $1: 1 $2 (2 iovecs, $3 bytes)"
}

expect_one wrapped_ring_goes_out_in_one_writev_with_the_right_bytes writev 4000
expect_one wrapped_free_space_is_filled_by_one_readv_with_the_right_bytes readv 3096
expect_one wrapped_ring_leaves_a_tcp_stream_in_one_call_with_the_right_bytes sendmsg 4000
expect_one wrapped_free_space_is_filled_from_a_tcp_stream_by_one_readv readv 3096
