#!/usr/bin/env bash
# Regenerates BENCHMARKS.md's charts (charts/*.svg, which the package leaves out) in one
# command: runs the compare/ benchmarks with READYIO_BENCH_JSON (every table row as a JSON
# line) and the HTTP benchmark (ci/bench-http.sh), then draws the SVGs with ci/charts.py.
#
#   bash ci/charts.sh                  full runs (about 10 minutes on the 2-core machine; use a quiet one), then draw
#   bash ci/charts.sh --quick          quick benchmarks and a smoke HTTP run: checks the pipeline,
#                                      figures not fit to commit
#   bash ci/charts.sh --from PATH...   only draw, from saved output: a directory holding
#                                      benches.jsonl and http/summary.json (what a run leaves in
#                                      target/charts), or those files themselves
#   --out DIR                          where the SVGs go (default charts)
set -euo pipefail
cd "$(dirname "$0")/.."

data=target/charts out=charts quick=0 from=()
while (($#)); do
    case $1 in
        --quick) quick=1 ;;
        --out) out=$2; shift ;;
        --from)
            shift
            while (($#)) && [[ $1 != --* ]]; do from+=("$1"); shift; done
            continue
            ;;
        *) echo "charts: unknown option $1 (see the header of $0)" >&2; exit 2 ;;
    esac
    shift
done

inputs=()
if ((${#from[@]})); then
    for path in "${from[@]}"; do
        if [ -d "$path" ]; then
            [ -f "$path/benches.jsonl" ] && inputs+=(--benches "$path/benches.jsonl")
            [ -f "$path/http/summary.json" ] && inputs+=(--http "$path/http/summary.json")
        elif [[ $path == *.jsonl ]]; then
            inputs+=(--benches "$path")
        elif [[ $path == *.json ]]; then
            inputs+=(--http "$path")
        else
            echo "charts: $path is neither a directory, a .jsonl nor a .json file" >&2
            exit 2
        fi
    done
    ((${#inputs[@]})) || { echo "charts: nothing to draw from ${from[*]}" >&2; exit 1; }
else
    mkdir -p "$data"
    rm -f "$data/benches.jsonl"
    quick_env=()
    http_mode=()
    if ((quick)); then quick_env=(READYIO_BENCH_QUICK=1); http_mode=(--smoke); fi
    echo "charts: running the benchmarks (output: $data/benches.jsonl)"
    env "${quick_env[@]}" READYIO_BENCH_JSON="$PWD/$data/benches.jsonl" \
        cargo bench -p readyio-compare --bench poll --bench event_loop --bench notify --bench timers
    echo "charts: running the HTTP benchmark (output: $data/http)"
    bash ci/bench-http.sh "${http_mode[@]}" --out "$data/http"
    inputs=(--benches "$data/benches.jsonl" --http "$data/http/summary.json")
fi
python3 ci/charts.py "${inputs[@]}" --out "$out"
