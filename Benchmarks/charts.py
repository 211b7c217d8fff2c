#!/usr/bin/env python3
"""Draws the charts of Docs/benchmarks.md from saved benchmark output.

Usage: Benchmarks/charts.py OUTDIR FILE...
       make charts   (= Benchmarks/charts.py Docs Benchmarks/results/*.txt)

FILEs are saved outputs of `../shared/bench/side-by-side.sh` ("side ..."
lines) and of `strata bench --benchmarks=msg_enqueue,msg_roundtrip ...`
(one line per configuration with msg/s and latency percentiles); other
lines are ignored. Writes two SVG files into OUTDIR:

  benchmarks-throughput.svg  messages/s against client count, one line per
                             system and configuration (log scale)
  benchmarks-latency.svg     add latency p50 / p99 per LSM commit mode and
                             client count

Plain python3, no packages: the SVG is written by hand.
"""
import math
import re
import sys
from collections import defaultdict

COLORS = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b",
          "#e377c2", "#7f7f7f", "#bcbd22", "#17becf", "#393b79", "#637939"]

# side queue strata msg_roundtrip lsm/sync 64c batch=1 33600
SIDE_QUEUE = re.compile(r"^side queue strata (msg_\w+) (\S+) (\d+)c batch=(\d+) ([\d.]+)")
# side peer redis-xadd clients=1 batch=1 msg/s=3500
SIDE_PEER = re.compile(r"^side peer (\S+) clients=(\d+) batch=(\d+) msg/s=([\d.]+)")
# msg_enqueue lsm/sync 100B 1c       :      2500 msg/s  add p50    380 p99    900 µs ...
BENCH = re.compile(r"^(msg_\w+) (\S+) (\d+)B (\d+)c\s*:\s*([\d.]+) msg/s\s+add p50\s+([\d.]+) p99\s+([\d.]+)")


def parse(paths):
    throughput = defaultdict(dict)   # label -> {clients: msg/s}
    latency = defaultdict(dict)      # (bench, mode) -> {clients: (p50, p99)}
    for path in paths:
        with open(path, encoding="utf-8") as f:
            for line in f:
                line = line.strip()
                m = SIDE_QUEUE.match(line)
                if m:
                    bench, config, clients, batch, rate = m.groups()
                    label = f"Strata {config} {bench[4:]} batch {batch}"
                    throughput[label][int(clients)] = float(rate)
                    continue
                m = SIDE_PEER.match(line)
                if m:
                    name, clients, batch, rate = m.groups()
                    if name.startswith("raw"):
                        continue
                    throughput[f"{name} batch {batch}"][int(clients)] = float(rate)
                    continue
                m = BENCH.match(line)
                if m:
                    bench, config, _size, clients, _rate, p50, p99 = m.groups()
                    if config.startswith("lsm/"):
                        latency[(bench, config)][int(clients)] = (float(p50), float(p99))
    return throughput, latency


def esc(s):
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def nice_log_ticks(lo, hi):
    ticks = []
    e = math.floor(math.log10(lo))
    while 10 ** e <= hi * 1.0001:
        for m in (1, 2, 5):
            v = m * 10 ** e
            if lo / 1.0001 <= v <= hi * 1.0001:
                ticks.append(v)
        e += 1
    return ticks


def fmt_rate(v):
    if v >= 1e6:
        return f"{v / 1e6:g}M"
    if v >= 1e3:
        return f"{v / 1e3:g}k"
    return f"{v:g}"


def svg_start(width, height, left, title):
    """The opening lines of a chart: the svg element, background, title."""
    return [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" font-family="sans-serif" font-size="12">',
            f'<rect width="{width}" height="{height}" fill="white"/>',
            f'<text x="{left}" y="22" font-size="15">{esc(title)}</text>']


def log_scale(values, top, ph):
    """(lo, hi, y): decade bounds around the values and a log-scale y mapping."""
    lo = 10 ** math.floor(math.log10(min(values)))
    hi = 10 ** math.ceil(math.log10(max(values)))
    def y(v):
        v = max(v, lo)
        return top + ph - (math.log10(v) - math.log10(lo)) / (math.log10(hi) - math.log10(lo)) * ph
    return lo, hi, y


def throughput_svg(series, title):
    width, height = 900, 520
    left, right, top, bottom = 70, 330, 40, 50
    pw, ph = width - left - right, height - top - bottom
    clients = sorted({c for s in series.values() for c in s})
    values = [v for s in series.values() for v in s.values() if v > 0]
    out = svg_start(width, height, left, title)
    if not values:
        out.append(f'<text x="{left}" y="{top + 20}">no data</text></svg>')
        return "\n".join(out)
    lo, hi, y = log_scale(values, top, ph)
    def x(c):
        if len(clients) == 1:
            return left + pw / 2
        i = clients.index(c)
        return left + i * pw / (len(clients) - 1)
    for t in nice_log_ticks(lo, hi):
        out.append(f'<line x1="{left}" x2="{left + pw}" y1="{y(t):.1f}" y2="{y(t):.1f}" stroke="#ddd"/>')
        out.append(f'<text x="{left - 6}" y="{y(t) + 4:.1f}" text-anchor="end">{fmt_rate(t)}</text>')
    for c in clients:
        out.append(f'<line x1="{x(c):.1f}" x2="{x(c):.1f}" y1="{top}" y2="{top + ph}" stroke="#eee"/>')
        out.append(f'<text x="{x(c):.1f}" y="{top + ph + 18}" text-anchor="middle">{c}</text>')
    out.append(f'<text x="{left + pw / 2}" y="{height - 10}" text-anchor="middle">clients (producers, and as many consumers for round trips)</text>')
    out.append(f'<text x="16" y="{top + ph / 2}" transform="rotate(-90 16 {top + ph / 2})" text-anchor="middle">messages / s (log scale)</text>')
    out.append(f'<rect x="{left}" y="{top}" width="{pw}" height="{ph}" fill="none" stroke="#444"/>')
    for i, (label, pts) in enumerate(sorted(series.items())):
        color = COLORS[i % len(COLORS)]
        dash = "" if label.startswith("Strata") else ' stroke-dasharray="6 3"'
        coords = [(x(c), y(v)) for c, v in sorted(pts.items()) if v > 0]
        if len(coords) > 1:
            path = " ".join(f"{a:.1f},{b:.1f}" for a, b in coords)
            out.append(f'<polyline points="{path}" fill="none" stroke="{color}" stroke-width="2"{dash}/>')
        for a, b in coords:
            out.append(f'<circle cx="{a:.1f}" cy="{b:.1f}" r="3" fill="{color}"/>')
        ly = top + 10 + i * 18
        out.append(f'<line x1="{left + pw + 15}" x2="{left + pw + 40}" y1="{ly}" y2="{ly}" stroke="{color}" stroke-width="2"{dash}/>')
        out.append(f'<text x="{left + pw + 46}" y="{ly + 4}">{esc(label)}</text>')
    out.append("</svg>")
    return "\n".join(out)


def latency_svg(latency, title):
    groups = sorted(latency.items())
    bars = [(bench, mode, c, p) for (bench, mode), pts in groups for c, p in sorted(pts.items())]
    width = max(600, 120 + len(bars) * 46)
    height = 480
    left, top, bottom = 70, 40, 110
    ph = height - top - bottom
    out = svg_start(width, height, left, title)
    values = [v for *_, p in bars for v in p if v > 0]
    if not values:
        out.append(f'<text x="{left}" y="{top + 20}">no data</text></svg>')
        return "\n".join(out)
    lo, hi, y = log_scale(values, top, ph)
    for t in nice_log_ticks(lo, hi):
        out.append(f'<line x1="{left}" x2="{width - 20}" y1="{y(t):.1f}" y2="{y(t):.1f}" stroke="#ddd"/>')
        out.append(f'<text x="{left - 6}" y="{y(t) + 4:.1f}" text-anchor="end">{t:g}</text>')
    out.append(f'<text x="16" y="{top + ph / 2}" transform="rotate(-90 16 {top + ph / 2})" text-anchor="middle">µs per call (log scale)</text>')
    modes = sorted({m for _, m, _, _ in bars})
    x = left + 10
    last = None
    for bench, mode, c, (p50, p99) in bars:
        if last is not None and last != (bench, mode):
            x += 14
        last = (bench, mode)
        color = COLORS[modes.index(mode) % len(COLORS)]
        for j, (v, opacity) in enumerate(((p50, "1"), (p99, "0.45"))):
            bx = x + j * 18
            out.append(f'<rect x="{bx}" y="{y(v):.1f}" width="16" height="{top + ph - y(v):.1f}" fill="{color}" fill-opacity="{opacity}"/>')
        out.append(f'<text x="{x + 17}" y="{top + ph + 14}" text-anchor="middle">{c}c</text>')
        out.append(f'<text x="{x + 17}" y="{top + ph + 28}" text-anchor="middle" font-size="10">{esc(mode[4:])}</text>')
        out.append(f'<text x="{x + 17}" y="{top + ph + 40}" text-anchor="middle" font-size="10">{esc(bench[4:])}</text>')
        x += 46
    out.append(f'<text x="{left}" y="{height - 30}">solid: p50, light: p99 of one call (add for msg_enqueue; add while consumers run for msg_roundtrip)</text>')
    out.append(f'<text x="{left}" y="{height - 12}">sync = .syncDurable, async = .asyncDurable(groupWindow: 5 ms), memory = .memoryOnly</text>')
    out.append(f'<line x1="{left}" x2="{width - 20}" y1="{top + ph}" y2="{top + ph}" stroke="#444"/>')
    out.append("</svg>")
    return "\n".join(out)


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    outdir, paths = sys.argv[1], sys.argv[2:]
    throughput, latency = parse(paths)
    with open(f"{outdir}/benchmarks-throughput.svg", "w", encoding="utf-8") as f:
        f.write(throughput_svg(throughput, "Durable work queue, 100-byte messages: throughput against clients"))
    with open(f"{outdir}/benchmarks-latency.svg", "w", encoding="utf-8") as f:
        f.write(latency_svg(latency, "LSM message store: add latency per commit mode"))
    print(f"{len(throughput)} throughput series, {len(latency)} latency groups -> {outdir}")


if __name__ == "__main__":
    main()
