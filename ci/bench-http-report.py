#!/usr/bin/env python3
"""Summarises ci/bench-http.sh's runs (one JSON object per line, each holding wrk's report).

    bench-http-report.py --one-line RUNS.jsonl       the last run, in one line
    bench-http-report.py [--machine TEXT] [--out DIR] RUNS.jsonl
        medians per server and connection count, with ratios to mio: printed as a
        markdown table and written to DIR/summary.json and DIR/summary.csv.

Exits 1 if any run saw an error (a socket error, a timeout, or a non-2xx/3xx response):
a benchmark whose server fails is not a measurement.
"""

import argparse
import csv
import json
import statistics
import sys
import time

ERROR_FIELDS = ("errors_connect", "errors_read", "errors_write", "errors_timeout", "errors_status")


def load(path):
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def rate(run):
    wrk = run["wrk"]
    return wrk["requests"] / (wrk["duration_us"] / 1e6)


def cpu_share(run):
    return run["server_cpu_s"] / (run["wrk"]["duration_us"] / 1e6)


def errors(run):
    return sum(run["wrk"][field] for field in ERROR_FIELDS)


def one_line(run):
    wrk = run["wrk"]
    text = "{:9.0f} req/s  p50 {:8.3f} ms  p99 {:8.3f} ms  server cpu {:4.0f}%".format(
        rate(run), wrk["latency_p50_us"] / 1000, wrk["latency_p99_us"] / 1000, 100 * cpu_share(run)
    )
    if errors(run):
        text += "  ERRORS " + ", ".join(f"{f[7:]} {wrk[f]}" for f in ERROR_FIELDS if wrk[f])
    return text


def summarise(runs):
    order = []
    groups = {}
    for run in runs:
        key = (run["server"], run["connections"])
        if key not in groups:
            order.append(key)
            groups[key] = []
        groups[key].append(run)
    rows = []
    for server, connections in sorted(order, key=lambda k: (k[1], order.index(k))):
        group = groups[(server, connections)]
        rows.append({
            "server": server,
            "connections": connections,
            "runs": len(group),
            "requests_per_s": statistics.median(rate(r) for r in group),
            "p50_ms": statistics.median(r["wrk"]["latency_p50_us"] for r in group) / 1000,
            "p99_ms": statistics.median(r["wrk"]["latency_p99_us"] for r in group) / 1000,
            "server_cpu_percent": 100 * statistics.median(cpu_share(r) for r in group),
            "requests_per_server_cpu_s": statistics.median(rate(r) / max(cpu_share(r), 1e-9) for r in group),
            "errors": sum(errors(r) for r in group),
        })
    for row in rows:
        base = next((r for r in rows if r["server"] == "mio" and r["connections"] == row["connections"]), None)
        row["ratio_to_mio"] = row["requests_per_s"] / base["requests_per_s"] if base else None
        row["p99_ratio_to_mio"] = row["p99_ms"] / base["p99_ms"] if base and base["p99_ms"] else None
        row["cpu_efficiency_ratio_to_mio"] = (
            row["requests_per_server_cpu_s"] / base["requests_per_server_cpu_s"] if base else None
        )
    return rows


def fmt(value, pattern):
    return "-" if value is None else pattern.format(value)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("runs")
    parser.add_argument("--one-line", action="store_true")
    parser.add_argument("--machine", default="")
    parser.add_argument("--out")
    args = parser.parse_args()
    runs = load(args.runs)
    if args.one_line:
        print(one_line(runs[-1]))
        return 0
    rows = summarise(runs)
    print("\n### HTTP: GET / with wrk on 127.0.0.1 (median of {} runs)\n".format(max(r["runs"] for r in rows)))
    if args.machine:
        print(f"Machine: {args.machine}\n")
    print("| connections | server | requests/s | ratio to mio | p50 ms | p99 ms | server CPU | requests per server CPU-second | ratio to mio |")
    print("|---:|---|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print("| {} | {} | {:.0f} | {} | {:.3f} | {:.3f} | {:.0f}% | {:.0f} | {} |".format(
            r["connections"], r["server"], r["requests_per_s"], fmt(r["ratio_to_mio"], "{:.3f}"),
            r["p50_ms"], r["p99_ms"], r["server_cpu_percent"], r["requests_per_server_cpu_s"],
            fmt(r["cpu_efficiency_ratio_to_mio"], "{:.3f}")))
    if args.out:
        document = {
            "benchmark": "http",
            "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "machine": args.machine,
            "summary": rows,
            "runs": runs,
        }
        with open(f"{args.out}/summary.json", "w") as f:
            json.dump(document, f, indent=1)
        with open(f"{args.out}/summary.csv", "w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=list(rows[0].keys()))
            writer.writeheader()
            writer.writerows(rows)
        print(f"\nwritten: {args.out}/summary.json, {args.out}/summary.csv, {args.runs}")
    failed = [r for r in rows if r["errors"]]
    for r in failed:
        print(f"bench-http: {r['server']} at {r['connections']} connections: {r['errors']} errors", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
