#!/usr/bin/env bash
# Syscalls per empty poll and per TCP ping-pong round trip for each contender of
# compare/benches/poll.rs, counted with `strace -c -f`.
#
# Each contender runs alone in its own process (READYIO_BENCH_ONLY), twice: with a small
# and a large number of operations. Setup (sockets, connects, epoll_create,
# registrations) is the same in both runs, so the difference of the two counts, divided
# by the extra operations, is exactly what one operation costs.
#
# Usage: ci/syscalls-per-roundtrip.sh            (ping-pong with K = 1 and K = 256)
#        PAIRS="1" ci/syscalls-per-roundtrip.sh  (ping-pong with K = 1 only)
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v strace >/dev/null; then
    apt-get update -qq && apt-get install -y -qq strace >/dev/null
fi

bench=$(cargo bench -p readyio-compare --bench poll --no-run --message-format=json 2>/dev/null |
    grep '"kind":\["bench"\]' | grep '"name":"poll"' | grep -o '"executable":"[^"]*"' | tail -1 | cut -d'"' -f4)
[ -x "$bench" ] || { echo "could not build compare/benches/poll.rs" >&2; exit 1; }

contenders="raw-epoll readyio mio polling"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# strace -c's table as "syscall calls" lines (the total row left out).
counts() {
    awk '/^-----/ { section++; next } section == 1 && NF >= 5 { print $NF, $4 }' "$1"
}

# Runs one contender alone under strace with the extra environment "$2" (a workload and
# its size); writes "syscall calls" lines to $3.
traced_run() {
    # $2 is unquoted on purpose: it holds one or more NAME=VALUE words.
    env READYIO_BENCH_ONLY="$1" $2 strace -c -f -o "$work/strace.out" "$bench" >/dev/null
    counts "$work/strace.out" | sort >"$3"
}

# Prints one table row: the per-op difference between the runs "$3" (few ops) and "$4"
# (many ops), which differ by $5 operations.
per_op_row() {
    traced_run "$1" "$3" "$work/few"
    traced_run "$1" "$4" "$work/many"
    join -a 2 -e 0 -o 0,1.2,2.2 "$work/few" "$work/many" |
        awk -v ops="$5" -v c="$1" -v w="$2" '
            { d = ($3 - $2) / ops; if (d > 0.0005) { total += d; parts = parts sprintf("%s %.3f, ", $1, d) } }
            END { sub(/, $/, "", parts); printf "| %s | %s | %.3f | %s |\n", c, w, total, parts }'
}

echo "| contender | workload | syscalls per op | per op, by syscall |"
echo "|---|---|---:|---|"
for c in $contenders; do
    per_op_row "$c" "empty poll" "READYIO_BENCH_STRACE_POLLS=1000" "READYIO_BENCH_STRACE_POLLS=11000" 10000
done
for k in ${PAIRS:-1 256}; do
    if [ "$k" -eq 1 ]; then few=200 many=2200; else few=2 many=12; fi
    for c in $contenders; do
        per_op_row "$c" "ping-pong K=$k, per round trip" \
            "READYIO_BENCH_PAIRS=$k READYIO_BENCH_STRACE_ROUNDS=$few" \
            "READYIO_BENCH_PAIRS=$k READYIO_BENCH_STRACE_ROUNDS=$many" $(((many - few) * k))
    done
done
