#!/usr/bin/env bash
# Syscalls per TCP ping-pong round trip for each contender of benches/poll.rs, counted
# with `strace -c -f`.
#
# Each contender runs alone in its own process (READYIO_BENCH_ONLY), twice: with a small
# and a large number of rounds. Setup (sockets, connects, epoll_create, registrations)
# is the same in both runs, so the difference of the two counts, divided by the extra
# round trips, is exactly what one round trip costs.
#
# Usage: ci/syscalls-per-roundtrip.sh            (K = 1 and K = 256)
#        PAIRS="1" ci/syscalls-per-roundtrip.sh  (only K = 1)
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v strace >/dev/null; then
    apt-get update -qq && apt-get install -y -qq strace >/dev/null
fi

bench=$(cargo bench --bench poll --no-run --message-format=json 2>/dev/null |
    grep '"kind":\["bench"\]' | grep '"name":"poll"' | grep -o '"executable":"[^"]*"' | tail -1 | cut -d'"' -f4)
[ -x "$bench" ] || { echo "could not build benches/poll.rs" >&2; exit 1; }

contenders="raw-epoll readyio mio polling"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# strace -c's table as "syscall calls" lines (the total row left out).
counts() {
    awk '/^-----/ { section++; next } section == 1 && NF >= 5 { print $NF, $4 }' "$1"
}

# Runs one contender for $3 rounds of $2 pairs under strace; writes "syscall calls" to $4.
traced_run() {
    READYIO_BENCH_ONLY=$1 READYIO_BENCH_PAIRS=$2 READYIO_BENCH_STRACE_ROUNDS=$3 \
        strace -c -f -o "$work/strace.out" "$bench" >/dev/null
    counts "$work/strace.out" | sort >"$4"
}

echo "| contender | K | syscalls per round trip | per round trip, by syscall |"
echo "|---|---:|---:|---|"
for k in ${PAIRS:-1 256}; do
    if [ "$k" -eq 1 ]; then few=200 many=2200; else few=2 many=12; fi
    round_trips=$(((many - few) * k))
    for c in $contenders; do
        traced_run "$c" "$k" "$few" "$work/few"
        traced_run "$c" "$k" "$many" "$work/many"
        join -a 2 -e 0 -o 0,1.2,2.2 "$work/few" "$work/many" |
            awk -v rt="$round_trips" -v c="$c" -v k="$k" '
                { d = ($3 - $2) / rt; if (d > 0.0005) { total += d; parts = parts sprintf("%s %.3f, ", $1, d) } }
                END { sub(/, $/, "", parts); printf "| %s | %d | %.3f | %s |\n", c, k, total, parts }'
    done
done
