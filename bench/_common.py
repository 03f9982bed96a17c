"""Shared helpers for the benchmarks: percentiles, resident memory, a synthetic source file."""

from __future__ import annotations

import statistics
from pathlib import Path


def percentile(values: list[float], q: float) -> float:
    """The ``q``-th percentile (0-100) by linear interpolation."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    k = (len(ordered) - 1) * q / 100
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def summary_ms(values_s: list[float]) -> str:
    ms = [v * 1000 for v in values_s]
    return (
        f"n={len(ms)} p50={percentile(ms, 50):.2f} ms p90={percentile(ms, 90):.2f} ms "
        f"p99={percentile(ms, 99):.2f} ms mean={statistics.fmean(ms):.2f} ms"
    )


def rss_mb(pid: int) -> float:
    """Resident set size of process ``pid`` in MB (Linux /proc)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def python_source(lines: int, seed: int = 0) -> str:
    """A syntactically valid Python module of about ``lines`` lines."""
    out = ['"""Synthetic module for benchmarks."""', "import os", "import sys", ""]
    i = seed * 100_000
    while len(out) < lines - 8:
        out += [
            "",
            f"class Widget{i}:",
            f'    """Widget number {i}."""',
            "",
            "    def __init__(self, size: int) -> None:",
            "        self.size = size",
            "",
            "    def area(self) -> int:",
            "        total = 0",
            "        for step in range(self.size):",
            "            total += step * self.size",
            "        return total",
            "",
            f"def helper_{i}(value: int) -> int:",
            f"    return Widget{i}(value).area() + len(os.sep) + len(sys.argv)",
        ]
        i += 1
    return "\n".join(out) + "\n"
