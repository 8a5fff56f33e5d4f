#!/usr/bin/env bash
# Syscalls per empty poll and per TCP ping-pong round trip for each contender of
# compare/benches/poll.rs, counted with `strace -c -f`; FAILS unless readyio makes exactly
# the syscalls raw epoll makes, call for call, in every workload.
#
# Each contender runs alone in its own process (READYIO_BENCH_ONLY), twice: with a small
# and a large number of operations. Setup (sockets, connects, epoll_create,
# registrations) is the same in both runs, so the difference of the two counts is exactly
# what the extra operations cost. readyio's differences, syscall by syscall, must equal raw
# epoll's: any extra call (an fcntl before each epoll_wait, a second wait per poll) or a
# different call (epoll_pwait for epoll_wait, send for sendto) fails the script.
#
# How many waits a K=256 round takes can depend on the kernel's timing (loopback delivery
# deferred to ksoftirqd on a loaded machine), so a workload whose counts differ is measured
# again, up to 3 times, and fails only if they differ every time; a real extra syscall
# differs every time.
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

# The first two are compared; the others are shown beside them.
contenders="raw-epoll readyio mio polling"
attempts=3
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

# Measures contender $1 with the environments "$2" (few ops) and "$3" (many ops); writes
# "syscall extra-calls" lines (the calls the extra operations made, by syscall) to $4.
measure() {
    traced_run "$1" "$2" "$work/few"
    traced_run "$1" "$3" "$work/many"
    join -a 2 -e 0 -o 0,1.2,2.2 "$work/few" "$work/many" | awk '$3 != $2 { print $1, $3 - $2 }' >"$4"
}

# Prints one table row from the extra calls in $3 for $4 extra operations.
print_row() {
    awk -v ops="$4" -v c="$1" -v w="$2" '
        { d = $2 / ops; if (d > 0.0005) { total += d; parts = parts sprintf("%s %.3f, ", $1, d) } }
        END { sub(/, $/, "", parts); printf "| %s | %s | %.3f | %s |\n", c, w, total, parts }' "$3"
}

failures=0
# One workload for every contender: "$1" its name, "$2"/"$3" the few/many environments,
# "$4" the extra operations. readyio's extra calls must equal raw epoll's.
workload() {
    local name=$1 few=$2 many=$3 ops=$4 c attempt
    for attempt in $(seq 1 "$attempts"); do
        measure raw-epoll "$few" "$many" "$work/raw-epoll"
        measure readyio "$few" "$many" "$work/readyio"
        if cmp -s "$work/raw-epoll" "$work/readyio"; then
            break
        fi
        echo "  ($name: readyio's syscalls differ from raw epoll's, measurement $attempt of $attempts)" >&2
    done
    for c in $contenders; do
        case $c in
            raw-epoll | readyio) ;;
            *) measure "$c" "$few" "$many" "$work/$c" ;;
        esac
        print_row "$c" "$name" "$work/$c" "$ops"
    done
    if ! cmp -s "$work/raw-epoll" "$work/readyio"; then
        failures=$((failures + 1))
        {
            echo "FAIL $name: readyio's syscalls differ from raw epoll's in $ops operations:"
            join -a 1 -a 2 -e 0 -o 0,1.2,2.2 "$work/raw-epoll" "$work/readyio" |
                awk '$2 != $3 { printf "  %s: raw epoll %d calls, readyio %d\n", $1, $2, $3 }'
        } >&2
    fi
}

echo "| contender | workload | syscalls per op | per op, by syscall |"
echo "|---|---|---:|---|"
workload "empty poll" "READYIO_BENCH_STRACE_POLLS=1000" "READYIO_BENCH_STRACE_POLLS=11000" 10000
for k in ${PAIRS:-1 256}; do
    if [ "$k" -eq 1 ]; then few=200 many=2200; else few=2 many=12; fi
    workload "ping-pong K=$k, per round trip" \
        "READYIO_BENCH_PAIRS=$k READYIO_BENCH_STRACE_ROUNDS=$few" \
        "READYIO_BENCH_PAIRS=$k READYIO_BENCH_STRACE_ROUNDS=$many" $(((many - few) * k))
done
if ((failures)); then
    echo "syscalls-per-roundtrip: readyio makes syscalls raw epoll does not in $failures workload(s)" >&2
    exit 1
fi
echo "ok: readyio makes exactly raw epoll's syscalls per empty poll and per round trip"
