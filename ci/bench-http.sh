#!/usr/bin/env bash
# The HTTP server benchmark: the same HTTP handling (examples/http/parse.rs and session.rs,
# the same response bytes) on readyio's EventLoop (examples/http_server.rs), on mio 1.x and
# on tokio's current-thread runtime (compare/src/bin/http_mio.rs, http_tokio.rs), each on one
# thread, loaded by Debian's wrk on 127.0.0.1 with GET / at several connection counts.
#
#   bash ci/bench-http.sh                       full: 1, 64, 1024 connections, 5 runs of 10 s each
#   bash ci/bench-http.sh --smoke               CI: 1 run of 1 s per count, fails on any error
#   bash ci/bench-http.sh --servers "readyio readyio-2loops" --server-cpus-2loops 0,1   1 vs 2 loops
#
# Options: --runs N, --duration S, --connections "1 64 1024", --servers "readyio mio tokio",
# --out DIR (default target/bench-http), --server-cpus LIST (default 1), --wrk-cpus LIST
# (default 0), --server-cpus-2loops LIST (default 0,1), --no-pin, --pipeline N (N requests
# per write, HTTP pipelining; default 1: each connection waits for each response).
#
# Runs are interleaved (run 1 of every server at every count, then run 2, ...) so that
# noise from a shared machine hits all servers alike. Each wrk run gets a 1 s warm-up first.
# wrk and the server are pinned to different cores (taskset) so that they do not steal
# each other's time; the server's CPU use during each run (from /proc) tells whether the
# server (near 100% of its core) or the client limited the rate.
#
# Writes DIR/runs.jsonl (every run), DIR/summary.json and DIR/summary.csv (medians, ratio
# to mio), and prints the summary as a markdown table. Fails (exit 1) if a server crashes,
# answers anything but 2xx, or wrk reports socket errors, or if the servers' responses to
# the same request differ in anything but the Date header.
set -euo pipefail
cd "$(dirname "$0")/.."

runs=5 duration=10 connections="1 64 1024" servers="readyio mio tokio" out=target/bench-http
server_cpus=1 wrk_cpus=0 server_cpus_2loops=0,1 pin=1 smoke=0 warmup=1 pipeline=1
while (($#)); do
    case $1 in
        --smoke) smoke=1 runs=1 duration=1 warmup=0 ;;
        --runs) runs=$2; shift ;;
        --duration) duration=$2; shift ;;
        --connections) connections=$2; shift ;;
        --servers) servers=$2; shift ;;
        --out) out=$2; shift ;;
        --server-cpus) server_cpus=$2; shift ;;
        --wrk-cpus) wrk_cpus=$2; shift ;;
        --server-cpus-2loops) server_cpus_2loops=$2; shift ;;
        --no-pin) pin=0 ;;
        --pipeline) pipeline=$2; shift ;;
        *) echo "bench-http: unknown option $1 (see the header of $0)" >&2; exit 2 ;;
    esac
    shift
done

for tool in wrk curl python3; do
    command -v "$tool" >/dev/null || { echo "bench-http: $tool is missing; run ci/install-deps.sh" >&2; exit 1; }
done
if ((pin)) && ! command -v taskset >/dev/null; then pin=0; fi
# 1024 connections need 1024 fds in wrk and in the server, and a few more.
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"

echo "bench-http: building the servers (release)"
cargo build --quiet --release --example http_server
cargo build --quiet --release -p readyio-compare --bin http_mio --bin http_tokio

mkdir -p "$out"
work=$(mktemp -d)
declare -A pid addr
cleanup() {
    local name
    for name in "${!pid[@]}"; do kill "${pid[$name]}" 2>/dev/null || true; done
    rm -rf "$work"
}
trap cleanup EXIT

release="${CARGO_TARGET_DIR:-target}/release"
command_of() {
    case $1 in
        readyio) echo "$release/examples/http_server" ;;
        readyio-2loops) echo "$release/examples/http_server --threads 2" ;;
        mio) echo "$release/http_mio" ;;
        tokio) echo "$release/http_tokio" ;;
        *) echo "bench-http: unknown server $1" >&2; return 1 ;;
    esac
}

cpus_of() {
    if [ "$1" = readyio-2loops ]; then echo "$server_cpus_2loops"; else echo "$server_cpus"; fi
}

pinned() { # pinned CPUS COMMAND...: runs COMMAND on CPUS when pinning
    local cpus=$1
    shift
    if ((pin)); then taskset -c "$cpus" "$@"; else "$@"; fi
}

start_server() {
    local name=$1 cmd i
    cmd=$(command_of "$name")
    # Created here, not by the background job's redirection, which may come after the
    # first look for the address below.
    : >"$work/$name.log"
    # $cmd is unquoted on purpose: a binary and its arguments. Started directly (not
    # through a function, which would run in a subshell) so that $! is the server itself.
    if ((pin)); then
        taskset -c "$(cpus_of "$name")" $cmd --addr 127.0.0.1:0 --max-connections 4096 >"$work/$name.log" 2>&1 &
    else
        $cmd --addr 127.0.0.1:0 --max-connections 4096 >"$work/$name.log" 2>&1 &
    fi
    pid[$name]=$!
    for i in $(seq 100); do
        addr[$name]=$(sed -n 's|^listening on http://\([^ ]*\).*|\1|p' "$work/$name.log")
        [ -n "${addr[$name]}" ] && return 0
        kill -0 "${pid[$name]}" 2>/dev/null || break
        sleep 0.1
    done
    echo "bench-http: $name did not start:" >&2
    cat "$work/$name.log" >&2
    exit 1
}

require_alive() {
    if ! kill -0 "${pid[$1]}" 2>/dev/null; then
        echo "bench-http: the $1 server died:" >&2
        cat "$work/$1.log" >&2
        exit 1
    fi
}

# CPU seconds (user + system) the process has used, from /proc/PID/stat.
cpu_seconds() {
    awk -v hz="$(getconf CLK_TCK)" '{ sub(/^.*\) /, ""); print ($12 + $13) / hz }' "/proc/$1/stat"
}

for name in $servers; do start_server "$name"; done

# Same request, same bytes: every server's answers to a GET, a POST and a 404, Date removed.
reference=""
for name in $servers; do
    base="http://${addr[$name]}"
    curl --silent --show-error --include "$base/" "$base/nope" --data-binary x -X POST "$base/echo" \
        | grep -v -e '^Date: ' -e '^X-Loop: ' >"$work/$name.responses"
    if [ -z "$reference" ]; then
        reference=$name
    elif ! cmp -s "$work/$reference.responses" "$work/$name.responses"; then
        echo "bench-http: $name answers differently from $reference:" >&2
        diff "$work/$reference.responses" "$work/$name.responses" >&2 || true
        exit 1
    fi
done
echo "bench-http: ${servers// /, } answer with the same bytes"

export WRK_PIPELINE=$pipeline
machine="$(nproc) cpus, $(uname -r), load $(cut -d' ' -f1-3 /proc/loadavg), pipeline depth $pipeline"
echo "bench-http: $runs run(s) of ${duration}s per server and connection count; $machine"
((pin)) && echo "bench-http: wrk on cpu $wrk_cpus, servers on cpu $server_cpus (2-loop server on $server_cpus_2loops)"
: >"$out/runs.jsonl"
for run in $(seq "$runs"); do
    for c in $connections; do
        for name in $servers; do
            url="http://${addr[$name]}/"
            if ((warmup)); then
                pinned "$wrk_cpus" wrk -t1 -c"$c" -d"${warmup}s" "$url" >/dev/null
            fi
            cpu_before=$(cpu_seconds "${pid[$name]}")
            result=$(pinned "$wrk_cpus" wrk -t1 -c"$c" -d"${duration}s" --timeout 5s -s ci/wrk-report.lua "$url" |
                sed -n 's/^WRK_JSON //p')
            require_alive "$name"
            cpu_after=$(cpu_seconds "${pid[$name]}")
            [ -n "$result" ] || { echo "bench-http: wrk printed no summary for $name" >&2; exit 1; }
            printf '{"server": "%s", "connections": %s, "run": %s, "server_cpu_s": %s, "wrk": %s}\n' \
                "$name" "$c" "$run" "$(awk -v a="$cpu_before" -v b="$cpu_after" 'BEGIN { print b - a }')" "$result" \
                >>"$out/runs.jsonl"
            printf 'bench-http: run %s, %4s connections, %-15s %s\n' "$run" "$c" "$name" \
                "$(python3 ci/bench-http-report.py --one-line "$out/runs.jsonl")"
        done
    done
done

python3 ci/bench-http-report.py --machine "$machine" --out "$out" "$out/runs.jsonl"
