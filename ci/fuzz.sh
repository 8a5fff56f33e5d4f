#!/usr/bin/env bash
# A bounded run of the cargo-fuzz targets in fuzz/ (libFuzzer, coverage-guided, with
# AddressSanitizer and debug assertions), each against a model:
#   timer_wheel     the timer wheel against the sorted-map model of tests/support/timer_model.rs
#   ring_buf        RingBuf against the VecDeque model of tests/support/ring_model.rs
#   kqueue_results  the kqueue result translation, coalescing and registration receipts,
#                   for the FreeBSD, macOS and NetBSD bindings (src/sys/kqueue_fuzz.rs)
#
# Each starts from its committed corpus (fuzz/corpus/<target>, minimised) and runs for
# READYIO_FUZZ_SECONDS (default 60), all three at once: libFuzzer runs one input at a time,
# so three processes keep this 2-core machine busy for one period instead of three. New
# inputs go to target/fuzz/corpus/, not to the committed corpus. Any finding (a panic, a
# sanitizer report, an input running over 10 s) fails the run and leaves the input in
# fuzz/artifacts/<target>/; reproduce it with `cargo +nightly fuzz run <target> <file>`.
#
# To grow the committed corpus: run longer, then `cargo +nightly fuzz cmin <target>` and
# commit fuzz/corpus/.
#
# cargo-fuzz comes from ci/install-deps.sh (target/tools/bin); builds go to target/fuzz.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/target/tools/bin:$PATH"
seconds="${READYIO_FUZZ_SECONDS:-60}"
targets=(timer_wheel ring_buf kqueue_results)
start=$SECONDS

# fuzz/ is a workspace of its own, which the top-level `cargo fmt --check` does not see.
cargo fmt --check --manifest-path fuzz/Cargo.toml
cargo +nightly fuzz build --target-dir target/fuzz
echo "fuzz: targets built in $((SECONDS - start))s; running each for ${seconds}s"

pids=()
for target in "${targets[@]}"; do
    mkdir -p "target/fuzz/corpus/$target" "fuzz/corpus/$target"
    cargo +nightly fuzz run --target-dir target/fuzz "$target" \
        "target/fuzz/corpus/$target" "fuzz/corpus/$target" -- \
        -max_total_time="$seconds" -max_len=4096 -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
        >"target/fuzz/$target.log" 2>&1 &
    pids+=($!)
done

failed=0
printf '%-16s %12s %10s %16s\n' target executions "exec/s" "corpus (seeds)"
for i in "${!targets[@]}"; do
    target=${targets[$i]}
    status=0
    wait "${pids[$i]}" || status=$?
    log="target/fuzz/$target.log"
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
    seeds=$(find "fuzz/corpus/$target" -type f | wc -l)
    corpus=$(sed -n 's/.*corp: \([0-9]*\)\/.*/\1/p' "$log" | tail -1)
    printf '%-16s %12s %10s %16s\n' "$target" "${runs:-?}" "${rate:-?}" "${corpus:-?} ($seeds)"
    if [ "$status" -ne 0 ]; then
        failed=$((failed + 1))
        echo "--- fuzz target $target failed (exit $status):" >&2
        grep -v '^#' "$log" | tail -40 >&2
    fi
done

if [ "$failed" -ne 0 ]; then
    echo "fuzz: $failed target(s) found a failing input (see fuzz/artifacts/)" >&2
    exit 1
fi
echo "fuzz: no finding in ${seconds}s per target; $((SECONDS - start))s in all"
