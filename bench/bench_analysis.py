"""Benchmarks of lsp_server.analysis on the CPython standard library installed here.

Prints, for the stdlib tree (site-packages excluded):

* cold index (empty cache) and warm restart (from the on-disk cache), each in
  a fresh process, with the peak resident memory of the indexing process and
  of its worker processes;
* scope measurement (task ``completion``) at random positions: on a freshly
  opened document (first request), on an already analysed one, right after a
  one-character edit there; and for ``explain`` (whole unit, no window);
* context assembly at the same positions (estimated tokens, 2,048 budget);
* one-character edits on a 5,000-line file (the first 5,000 lines of
  ``_pydecimal.py``, and the synthetic file of ``bench_lsp_roundtrip.py``),
  edit to updated syntax: the whole tree (``Document.tree``), and what a
  request at the cursor reads (``Document.local_syntax``, the edited
  statement parsed alone, else the whole tree).

Usage: ``python bench/bench_analysis.py [--positions N] [--edits N] [--seed S]``.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import statistics
import subprocess
import sys
import sysconfig
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._common import python_source
from lsp_server.analysis.context import assemble_context
from lsp_server.analysis.documents import Document
from lsp_server.analysis.index import WorkspaceIndex
from lsp_server.analysis.paths import path_to_uri
from lsp_server.analysis.scope import measure_scope
from lsp_server.analysis.settings import AnalysisSettings

STDLIB = Path(sysconfig.get_paths()["stdlib"])


def _settings(cache: str) -> AnalysisSettings:
    return AnalysisSettings(index_cache_dir=cache, extra_excludes=["site-packages/"])


def _rss_mb(who: int) -> float:
    return resource.getrusage(who).ru_maxrss / 1024


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def _ms(values: list[float]) -> str:
    return (
        f"p50 {statistics.median(values) * 1000:.2f} ms, p99 {_percentile(values, 0.99) * 1000:.2f} ms,"
        f" max {max(values) * 1000:.2f} ms"
    )


def _pair(wall: list[float], cpu: list[float]) -> str:
    return f"wall {_ms(wall)} | cpu {_ms(cpu)} (n={len(wall)})"


def _cpu_seconds(who: int) -> float:
    usage = resource.getrusage(who)
    return usage.ru_utime + usage.ru_stime


def _pressure() -> str:
    try:
        with open("/proc/pressure/cpu", encoding="ascii") as handle:
            return handle.readline().strip()
    except OSError:
        return "n/a"


class _Timer:
    """Wall and CPU time of a block (CPU: this process only)."""

    def __init__(self, wall: list[float], cpu: list[float]) -> None:
        self.wall, self.cpu = wall, cpu

    def __enter__(self) -> None:
        self._w, self._c = time.perf_counter(), time.process_time()

    def __exit__(self, *exc: object) -> None:
        self.wall.append(time.perf_counter() - self._w)
        self.cpu.append(time.process_time() - self._c)


def phase_index(cache: str) -> dict[str, object]:
    """Build the index once in this process; report time and memory."""
    index = WorkspaceIndex([STDLIB], _settings(cache))
    stats = index.build_sync()
    return {
        "cpu_seconds": _cpu_seconds(resource.RUSAGE_SELF) + _cpu_seconds(resource.RUSAGE_CHILDREN),
        "seconds": stats.seconds,
        "files": stats.files,
        "parsed": stats.parsed,
        "from_cache": stats.from_cache,
        "definitions": stats.definitions,
        "rss_mb": _rss_mb(resource.RUSAGE_SELF),
        "workers_rss_mb": _rss_mb(resource.RUSAGE_CHILDREN),
    }


def phase_scope(cache: str, positions: int, seed: int) -> dict[str, object]:
    """Scope measurement and context assembly at random positions of the tree."""
    settings = _settings(cache)
    index = WorkspaceIndex([STDLIB], settings)
    index.build_sync()
    rng = random.Random(seed)
    paths = index.paths()
    names = ("first", "again", "typed", "explain", "context")
    timings: dict[str, list[float]] = {n + suffix: [] for n in names for suffix in ("", "_cpu")}
    levels: dict[str, int] = {}
    for _ in range(positions):
        path = rng.choice(paths)
        raw = Path(path).read_bytes()
        doc = Document(path_to_uri(path), raw.decode("utf-8", "replace"), "python")
        size = len(doc.source)
        offset = rng.randrange(size + 1)
        with _Timer(timings["first"], timings["first_cpu"]):
            report = measure_scope(doc, offset, "completion", index, settings)
        levels[report.level] = levels.get(report.level, 0) + 1
        offset = rng.randrange(size + 1)
        with _Timer(timings["again"], timings["again_cpu"]):
            report = measure_scope(doc, offset, "completion", index, settings)
        with _Timer(timings["context"], timings["context_cpu"]):
            assemble_context(doc, offset, report, index, settings.context_max_tokens)
        with _Timer(timings["explain"], timings["explain_cpu"]):
            measure_scope(doc, offset, "explain", index, settings)
        line, column = doc.position_at(offset, "utf-16")
        doc.apply_change((line, column), (line, column), "x", "utf-16")
        with _Timer(timings["typed"], timings["typed_cpu"]):
            measure_scope(doc, offset + 1, "completion", index, settings)
    return {**timings, "levels": levels, "rss_mb": _rss_mb(resource.RUSAGE_SELF)}


def phase_edits(source: str, edits: int, seed: int, local: bool) -> tuple[list[float], list[float]]:
    """One-character edits on a 5,000-line file: apply_change and bringing the syntax up to date.

    A random character is typed at a random position and deleted again by the next edit, so every
    other edit restores the text last parsed. ``local``: what a request at the cursor reads
    (:meth:`Document.local_syntax`, else the whole tree); otherwise the whole tree.
    """
    lines = source.splitlines(keepends=True)[:5000]
    doc = Document("file:///bench/five_thousand.py", "".join(lines), "python")
    rng = random.Random(seed)
    wall: list[float] = []
    cpu: list[float] = []
    pending = (0, 0)
    for i in range(edits):
        if i % 2 == 0:
            line = rng.randrange(len(lines))
            column = rng.randrange(len(lines[line].rstrip("\n")) + 1)
            start, end, text = (line, column), (line, column), "x"
            pending = (line, column)
            cursor = (line, column + 1)
        else:
            start, end, text = pending, (pending[0], pending[1] + 1), ""
            cursor = pending
        with _Timer(wall, cpu):
            doc.apply_change(start, end, text, "utf-16")
            if not local or doc.local_syntax(doc.offset_at(*cursor, "utf-16")) is None:
                assert doc.tree is not None
    assert doc.tree is not None and doc.text == "".join(lines)
    return wall, cpu


def _child(args: list[str]) -> dict[str, object]:
    out = subprocess.run([sys.executable, __file__, *args], check=True, capture_output=True, text=True)
    result: dict[str, object] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--phase", choices=["index", "scope"], help=argparse.SUPPRESS)
    parser.add_argument("--cache", help=argparse.SUPPRESS)
    parser.add_argument("--positions", type=int, default=500)
    parser.add_argument("--edits", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    if args.phase == "index":
        print(json.dumps(phase_index(args.cache)))
        return
    if args.phase == "scope":
        print(json.dumps(phase_scope(args.cache, args.positions, args.seed)))
        return
    print(
        f"stdlib: {STDLIB} (site-packages excluded); cpus: {os.cpu_count()};"
        f" load average: {os.getloadavg()[0]:.2f}; cpu pressure: {_pressure()}"
    )
    with tempfile.TemporaryDirectory(prefix="bench-index-") as cache:
        cold = _child(["--phase", "index", "--cache", cache])
        print(
            f"cold index:   {cold['seconds']:.2f} s wall, {cold['cpu_seconds']:.2f} s cpu"
            f" ({cold['files']} files, {cold['parsed']} parsed, {cold['definitions']} definitions);"
            f" peak RSS {cold['rss_mb']:.0f} MB, largest worker {cold['workers_rss_mb']:.0f} MB"
        )
        warm = _child(["--phase", "index", "--cache", cache])
        print(
            f"warm restart: {warm['seconds']:.2f} s wall, {warm['cpu_seconds']:.2f} s cpu"
            f" ({warm['from_cache']} from cache, {warm['parsed']} parsed);"
            f" peak RSS {warm['rss_mb']:.0f} MB"
        )
        scope = _child(
            ["--phase", "scope", "--cache", cache, "--positions", str(args.positions), "--seed", str(args.seed)]
        )

    def series(name: str) -> list[float]:
        values = scope[name]
        assert isinstance(values, list)
        return [float(v) for v in values]

    print(f"scope, first request on a just-opened document: {_pair(series('first'), series('first_cpu'))}")
    print(f"scope, document already analysed:               {_pair(series('again'), series('again_cpu'))}")
    print(f"scope, right after a keystroke in that unit:    {_pair(series('typed'), series('typed_cpu'))}")
    print(f"scope for `explain` (whole unit, not windowed): {_pair(series('explain'), series('explain_cpu'))}")
    print(f"context assembly (2,048 tokens, estimated):     {_pair(series('context'), series('context_cpu'))}")
    print(f"scope levels: {scope['levels']}; scope process peak RSS {scope['rss_mb']:.0f} MB")
    files = {
        "_pydecimal.py": (STDLIB / "_pydecimal.py").read_text(encoding="utf-8"),
        "synthetic": python_source(5000),
    }
    for name, source in files.items():
        for local, what in ((False, "whole tree"), (True, "syntax at the cursor")):
            wall, cpu = phase_edits(source, args.edits, args.seed, local)
            print(f"one-character edit, 5,000 lines of {name}, edit to {what}: {_pair(wall, cpu)}")
    print(f"cpu pressure at the end: {_pressure()}")
    print("(wall: elapsed time; cpu: time this process ran. On a shared machine wall >> cpu means")
    print(" the process was waiting for a core: the cpu column is the cost of the work itself.)")


if __name__ == "__main__":
    main()
