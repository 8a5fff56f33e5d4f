#!/usr/bin/env python3
"""Draws BENCHMARKS.md's charts as SVG, by hand (Python 3 standard library only), from the
benchmarks' machine-readable output.

    python3 ci/charts.py --benches BENCHES.jsonl --http SUMMARY.json --out DIR

BENCHES.jsonl is what the compare/ benchmarks append with READYIO_BENCH_JSON=PATH (one JSON
object per table row); SUMMARY.json is what ci/bench-http.sh writes. Either may be left
out; the charts that need it are then skipped. Writes into DIR:

* ratio-to-raw-epoll.svg   time per operation / raw epoll's, per workload (poll, event_loop)
* timer-lateness.svg       how late timers fire, as a distribution (timers)
* notify-throughput.svg    messages per second by producer count (notify)
* http-requests.svg        HTTP requests per second by connection count (bench-http)
* http-p99.svg             HTTP p99 latency by connection count (bench-http)

ci/charts.sh runs the benchmarks and then this script: one command regenerates them all.
"""

import argparse
import json
import math
import os
import sys
from xml.sax.saxutils import escape

PALETTE = ["#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2", "#edc948", "#b07aa1", "#9c755f"]
FONT = 'font-family="Helvetica, Arial, sans-serif"'
# The same contender has the same colour in every chart: the first rule whose word is in
# its name (lower-cased) decides.
COLOURS = [
    ("raw", "#8c8c8c"),
    ("floor", "#8c8c8c"),
    ("readyio poll", "#a0cbe8"),
    ("2loops", "#a0cbe8"),
    ("readyio", "#4e79a7"),
    ("mio", "#f28e2b"),
    ("tokio", "#59a14f"),
    ("polling", "#9c755f"),
]


def colour_for(name, names):
    lowered = name.lower()
    for word, colour in COLOURS:
        if word in lowered:
            return colour
    return PALETTE[names.index(name) % len(PALETTE)]


def wrap(text, width=125):
    """Splits a note into lines of at most `width` characters."""
    lines, current = [], ""
    for word in text.split():
        if current and len(current) + 1 + len(word) > width:
            lines.append(current)
            current = word
        else:
            current = f"{current} {word}".strip()
    return lines + ([current] if current else [])


def nice_step(span, target_ticks=6):
    raw = span / target_ticks
    magnitude = 10 ** math.floor(math.log10(raw))
    for factor in (1, 2, 2.5, 5, 10):
        if raw <= factor * magnitude:
            return factor * magnitude
    return 10 * magnitude


def fmt_number(value):
    if value == 0:
        return "0"
    if abs(value) >= 1e6:
        return f"{value / 1e6:.3g}M"
    if abs(value) >= 1e4:
        return f"{value / 1e3:.3g}k"
    if abs(value) >= 100:
        return f"{value:.0f}"
    return f"{value:.3g}"


class Svg:
    def __init__(self, width, height):
        self.width, self.height, self.parts = width, height, []

    def text(self, x, y, content, size=12, anchor="start", weight="normal", colour="#222"):
        self.parts.append(
            f'<text x="{x:.1f}" y="{y:.1f}" font-size="{size}" text-anchor="{anchor}" '
            f'font-weight="{weight}" fill="{colour}" {FONT}>{escape(str(content))}</text>'
        )

    def line(self, x1, y1, x2, y2, colour="#ccc", width=1, dash=None):
        dashed = f' stroke-dasharray="{dash}"' if dash else ""
        self.parts.append(
            f'<line x1="{x1:.1f}" y1="{y1:.1f}" x2="{x2:.1f}" y2="{y2:.1f}" stroke="{colour}" stroke-width="{width}"{dashed}/>'
        )

    def rect(self, x, y, w, h, colour):
        self.parts.append(f'<rect x="{x:.1f}" y="{y:.1f}" width="{max(w, 0):.1f}" height="{h:.1f}" fill="{colour}"/>')

    def polyline(self, points, colour, width=2):
        coords = " ".join(f"{x:.1f},{y:.1f}" for x, y in points)
        self.parts.append(f'<polyline points="{coords}" fill="none" stroke="{colour}" stroke-width="{width}"/>')

    def render(self):
        return (
            f'<svg xmlns="http://www.w3.org/2000/svg" width="{self.width}" height="{self.height}" '
            f'viewBox="0 0 {self.width} {self.height}">\n'
            f'<rect width="100%" height="100%" fill="white"/>\n' + "\n".join(self.parts) + "\n</svg>\n"
        )


def grouped_bars(title, note, groups, unit, reference=None, log=False, cap=None):
    """Horizontal bars: each group is (label, [(series, value), ...]); one row per bar.
    With `cap`, the axis ends there and longer bars are cut (their label says so)."""
    series_names = []
    for _, bars in groups:
        for name, _ in bars:
            if name not in series_names:
                series_names.append(name)
    values = [v for _, bars in groups for _, v in bars if v is not None and v > 0]
    if not values:
        raise ValueError(f"no values for chart {title!r}")
    shown = [min(v, cap) for v in values] if cap else values
    label_width, bar_height, gap, group_gap = 230, 16, 4, 14
    left, right, top = 20 + label_width, 110, 64
    width = 860
    plot_width = width - left - right
    rows = sum(1 + len(bars) for _, bars in groups)
    height = top + rows * (bar_height + gap) + len(groups) * group_gap + 40
    if log and cap:
        # A tight logarithmic axis for ratios near 1: from a round value at or below the
        # smallest one to the cap.
        candidates = [0.1, 0.2, 0.25, 0.5, 0.67, 0.8, 0.9, 1, 1.1, 1.25, 1.5, 2, 3, 4, 5, 10, 20, 50, 100]
        low = max([c for c in candidates if c <= min(shown) * 0.97] or [min(shown) * 0.9])
        high = min([c for c in candidates if c >= max(shown)] or [max(shown)])
        ticks = [c for c in candidates if low <= c <= high]

        def scale(v):
            return left + plot_width * (math.log10(v) - math.log10(low)) / (math.log10(high) - math.log10(low))

    elif log:
        low = 10 ** math.floor(math.log10(min(shown + ([reference] if reference else []))))
        high = 10 ** math.ceil(math.log10(max(shown + ([reference] if reference else []))))
        high = high if high > low else low * 10

        def scale(v):
            return left + plot_width * (math.log10(v) - math.log10(low)) / (math.log10(high) - math.log10(low))

        ticks = [low * 10**i for i in range(int(round(math.log10(high / low))) + 1)]
    else:
        high = max(shown + ([reference] if reference else [])) * 1.08
        step = nice_step(high)
        high = math.ceil(high / step) * step

        def scale(v):
            return left + plot_width * v / high

        ticks = [i * step for i in range(int(round(high / step)) + 1)]
    note_lines = wrap(note)
    top += 14 * (len(note_lines) - 1)
    height += 14 * (len(note_lines) - 1)
    svg = Svg(width, height)
    svg.text(20, 24, title, size=16, weight="bold")
    for i, line in enumerate(note_lines):
        svg.text(20, 44 + 14 * i, line, size=11, colour="#555")
    bottom = height - 30
    for tick in ticks:
        x = scale(tick)
        svg.line(x, top - 6, x, bottom, colour="#e4e4e4")
        svg.text(x, bottom + 14, fmt_number(tick), size=10, anchor="middle", colour="#555")
    svg.text(left + plot_width / 2, bottom + 28, unit, size=11, anchor="middle", colour="#555")
    y = top
    for label, bars in groups:
        svg.text(20, y + bar_height - 4, label, size=12, weight="bold")
        y += bar_height + gap
        for name, value in bars:
            svg.text(left - 8, y + bar_height - 4, name, size=11, anchor="end")
            if value is not None and value > 0:
                # With a reference, bars grow from it (left: below it, right: above it).
                x0 = scale(reference) if reference is not None else (scale(low) if log else left)
                cut = cap is not None and value > cap
                x1 = scale(cap if cut else value)
                svg.rect(min(x0, x1), y, abs(x1 - x0), bar_height, colour_for(name, series_names))
                label = fmt_number(value) + (" (cut)" if cut else "")
                if cut:
                    svg.line(x1 - 10, y - 1, x1 - 4, y + bar_height + 1, colour="white", width=3)
                svg.text(max(x0, x1) + 4, y + bar_height - 4, label, size=10, colour="#333")
            y += bar_height + gap
        y += group_gap
    if reference is not None:
        x = scale(reference)
        svg.line(x, top - 6, x, bottom, colour="#333", width=1, dash="4,3")
    return svg.render()


def quantile_lines(title, note, series, unit):
    """Value by quantile, with the tail spread out as latency plots do: x is the number of
    nines of the quantile (p90 = 1, p99 = 2, p99.9 = 3), the maximum last; y is
    logarithmic. `series` holds (name, quantiles, values)."""
    width, left, right, bottom_margin = 860, 80, 40, 70
    note_lines = wrap(note)
    top = 64 + 14 * (len(note_lines) - 1)
    height = top + 300 + bottom_margin
    plot_w, plot_h = width - left - right, height - top - bottom_margin
    positives = [v for _, _, values in series for v in values if v > 0]
    low = 10 ** math.floor(math.log10(min(positives)))
    high = 10 ** math.ceil(math.log10(max(positives)))
    high = high if high > low else low * 10
    max_nines = 3.3

    def nines(q):
        return max_nines if q >= 1 else min(-math.log10(1 - q), 3)

    def sx(q):
        return left + plot_w * nines(q) / max_nines

    def sy(v):
        v = max(v, low)
        return top + plot_h * (1 - (math.log10(v) - math.log10(low)) / (math.log10(high) - math.log10(low)))

    svg = Svg(width, height)
    svg.text(20, 24, title, size=16, weight="bold")
    for i, line in enumerate(note_lines):
        svg.text(20, 44 + 14 * i, line, size=11, colour="#555")
    decade = low
    while decade <= high * 1.0001:
        svg.line(left, sy(decade), left + plot_w, sy(decade), colour="#e4e4e4")
        svg.text(left - 6, sy(decade) + 4, fmt_number(decade), size=10, anchor="end", colour="#555")
        decade *= 10
    for q, label in ((0, "p0"), (0.5, "p50"), (0.9, "p90"), (0.99, "p99"), (0.999, "p99.9"), (1.0, "max")):
        svg.line(sx(q), top, sx(q), top + plot_h, colour="#f0f0f0")
        svg.text(sx(q), top + plot_h + 14, label, size=10, anchor="middle", colour="#555")
    svg.text(left + plot_w / 2, top + plot_h + 32, "quantile (share of timers at most this late)", size=11, anchor="middle", colour="#555")
    svg.parts.append(
        f'<text x="24" y="{top + plot_h / 2:.1f}" font-size="11" fill="#555" text-anchor="middle" '
        f'transform="rotate(-90 24 {top + plot_h / 2:.1f})" {FONT}>{escape(unit)}</text>'
    )
    names = [name for name, _, _ in series]
    for index, (name, quantiles, values) in enumerate(series):
        colour = colour_for(name, names)
        svg.polyline([(sx(q), sy(v)) for q, v in zip(quantiles, values)], colour)
        legend_x, legend_y = left + index * 380, height - 16
        svg.rect(legend_x, legend_y - 9, 14, 10, colour)
        svg.text(legend_x + 20, legend_y, name, size=11)
    return svg.render()


def short_title(row):
    title = row["table"].split(" (")[0]
    return f'{row["bench"]}: {title}'


def ratio_chart(rows):
    groups = {}
    for row in rows:
        if row.get("bench") not in ("poll", "event_loop"):
            continue
        ratio_key = next((k for k in row if k.startswith("ratio to raw")), None)
        if ratio_key is None:
            continue
        groups.setdefault(short_title(row), []).append((row["contender"], row[ratio_key]))
    if not groups:
        return None
    return grouped_bars(
        "Time per operation, relative to raw epoll",
        "Median time per operation / raw epoll's (through libc), same process, interleaved samples. "
        "Lower is better; 1.0 (dashed) is raw epoll.",
        list(groups.items()),
        "ratio to raw epoll (log scale; bars grow from 1.0)",
        reference=1.0,
        log=True,
        cap=2.0,
    )


def lateness_chart(rows):
    series = [
        (row["run"], row["quantiles"], row["late_us"])
        for row in rows
        if row.get("bench") == "timers" and row.get("table") == "Timer lateness distribution"
    ]
    if not series:
        return None
    return quantile_lines(
        "Timer lateness",
        "How late each timeout fired (µs after its deadline) on an otherwise idle EventLoop, "
        "beside one thread sleeping to each deadline in turn. None fired early.",
        series,
        "µs late",
    )


def notify_chart(rows):
    groups = {}
    for row in rows:
        if row.get("bench") == "notify" and row.get("table", "").startswith("Notify throughput"):
            producers = int(row["producers"])
            groups.setdefault(f"{producers} producer{'s' if producers > 1 else ''}", []).append(
                (row["contender"], row["Mmsg/s"])
            )
    if not groups:
        return None
    return grouped_bars(
        "Cross-thread notify throughput",
        "Messages per second from N producer threads to one loop (median). Higher is better.",
        list(groups.items()),
        "million messages per second",
    )


def http_charts(summary):
    rows = summary["summary"]
    counts = sorted({r["connections"] for r in rows})
    machine = summary.get("machine", "")
    runs = max(r["runs"] for r in rows)
    requests = [(f"{c} connection{'s' if c > 1 else ''}", [(r["server"], r["requests_per_s"]) for r in rows if r["connections"] == c]) for c in counts]
    p99 = [(f"{c} connection{'s' if c > 1 else ''}", [(r["server"], r["p99_ms"]) for r in rows if r["connections"] == c]) for c in counts]
    note = f"wrk on 127.0.0.1, GET /, one server thread, median of {runs} run{'s' if runs > 1 else ''}. Machine: {machine}."
    return (
        grouped_bars("HTTP requests per second", note + " Higher is better.", requests, "requests per second"),
        grouped_bars("HTTP p99 latency", note + " Lower is better.", p99, "p99 latency, ms (log scale)", log=True),
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--benches", help="JSON lines from READYIO_BENCH_JSON")
    parser.add_argument("--http", help="summary.json from ci/bench-http.sh")
    parser.add_argument("--out", default="charts")
    args = parser.parse_args()
    if not args.benches and not args.http:
        parser.error("give --benches and/or --http")
    charts = {}
    if args.benches:
        with open(args.benches) as f:
            rows = [json.loads(line) for line in f if line.strip()]
        charts["ratio-to-raw-epoll.svg"] = ratio_chart(rows)
        charts["timer-lateness.svg"] = lateness_chart(rows)
        charts["notify-throughput.svg"] = notify_chart(rows)
    if args.http:
        with open(args.http) as f:
            summary = json.load(f)
        charts["http-requests.svg"], charts["http-p99.svg"] = http_charts(summary)
    os.makedirs(args.out, exist_ok=True)
    missing = [name for name, svg in charts.items() if svg is None]
    for name, svg in charts.items():
        if svg is not None:
            with open(os.path.join(args.out, name), "w") as f:
                f.write(svg)
            print(f"charts: wrote {os.path.join(args.out, name)}")
    for name in missing:
        print(f"charts: no data for {name} in the input", file=sys.stderr)
    return 1 if missing else 0


if __name__ == "__main__":
    sys.exit(main())
