"""The GPU load benchmark's workload: rates, bursts and token-length statistics; no-GPU behaviour."""

from __future__ import annotations

import importlib.util
import itertools
import random
import statistics
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest


def load_bench() -> ModuleType:
    path = Path(__file__).resolve().parents[2] / "bench" / "bench_gpu_vllm_load.py"
    spec = importlib.util.spec_from_file_location("bench_gpu_vllm_load", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses resolve their module by name
    spec.loader.exec_module(module)
    return module


bench = load_bench()
HOUR = 3600.0


@pytest.fixture(scope="module")
def hour() -> list[Any]:
    workload: list[Any] = bench.generate_workload(bench.WorkloadSpec(duration_s=HOUR, seed=7))
    return workload


def test_mean_rate_is_7_5_per_second(hour: list[Any]) -> None:
    assert bench.WorkloadSpec().mean_rate == pytest.approx(7.5)
    assert len(hour) / HOUR == pytest.approx(7.5, rel=0.03)


def test_bursts_run_at_20_per_second_and_the_rest_at_5(hour: list[Any]) -> None:
    burst_time = HOUR / 30 * 5  # 5 s of every 30 s cycle
    in_burst = sum(r.in_burst for r in hour)
    assert in_burst / burst_time == pytest.approx(20.0, rel=0.04)
    assert (len(hour) - in_burst) / (HOUR - burst_time) == pytest.approx(5.0, rel=0.04)
    per_second = [0] * int(HOUR)
    for r in hour:
        per_second[int(r.arrival_s)] += 1
    assert max(per_second) >= 25  # some burst seconds see more than 20 arrivals
    assert statistics.mean(per_second[25:30]) > statistics.mean(per_second[0:25])


def test_arrivals_are_ordered_within_the_duration_and_poisson(hour: list[Any]) -> None:
    arrivals = [r.arrival_s for r in hour]
    assert arrivals == sorted(arrivals)
    assert arrivals[0] >= 0 and arrivals[-1] < HOUR
    gaps = [b.arrival_s - a.arrival_s for a, b in itertools.pairwise(hour) if not a.in_burst and not b.in_burst]
    # Exponential gaps: the standard deviation equals the mean (1/5 s at the base rate).
    assert statistics.mean(gaps) == pytest.approx(0.2, rel=0.05)
    assert statistics.pstdev(gaps) == pytest.approx(statistics.mean(gaps), rel=0.08)


def quantile(values: list[float], q: float) -> float:
    return sorted(values)[int(q * len(values))]


def test_input_lengths_fit_p50_1500_p90_5000_capped_at_2048(hour: list[Any]) -> None:
    dist = bench.WorkloadSpec().inputs
    rng = random.Random(1)
    raw = [dist.sample_uncapped(rng) for _ in range(40_000)]
    assert quantile(raw, 0.5) == pytest.approx(1500, rel=0.04)
    assert quantile(raw, 0.9) == pytest.approx(5000, rel=0.06)
    inputs = [r.input_tokens for r in hour]
    assert max(inputs) == 2048 and min(inputs) >= 16
    assert quantile(inputs, 0.5) == pytest.approx(1500, rel=0.05)
    assert sum(i == 2048 for i in inputs) / len(inputs) == pytest.approx(0.37, abs=0.03)  # P(X > 2048)


def test_output_lengths_fit_p50_13_p90_55_capped_at_64(hour: list[Any]) -> None:
    dist = bench.WorkloadSpec().outputs
    rng = random.Random(2)
    raw = [dist.sample_uncapped(rng) for _ in range(40_000)]
    assert quantile(raw, 0.5) == pytest.approx(13, rel=0.05)
    assert quantile(raw, 0.9) == pytest.approx(55, rel=0.06)
    outputs = [r.output_tokens for r in hour]
    assert max(outputs) == 64 and min(outputs) >= 1
    assert quantile(outputs, 0.5) in (12, 13, 14)
    assert quantile(outputs, 0.9) in range(50, 61)


def test_workload_is_reproducible_by_seed() -> None:
    spec = bench.WorkloadSpec(duration_s=60.0, seed=3)
    assert bench.generate_workload(spec) == bench.generate_workload(spec)
    assert bench.generate_workload(spec) != bench.generate_workload(bench.WorkloadSpec(duration_s=60.0, seed=4))


def test_without_gpu_it_stops_with_a_clear_message(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(bench, "cuda_available", lambda: False)
    assert bench.main(["--duration", "2", "--backend", "transformers"]) == 2
    err = capsys.readouterr().err
    assert "needs an NVIDIA GPU" in err and "--dry-run" in err
    assert bench.main(["--dry-run", "--duration", "30"]) == 0
    assert '"requests"' in capsys.readouterr().out


def test_bad_arguments_are_refused() -> None:
    with pytest.raises(SystemExit):
        bench.parse_args(["--backend", "tgi"])
    args = bench.parse_args(["--arch", "codellama-7b", "--tp", "2"])
    assert (args.arch, args.tp, args.backend) == ("codellama-7b", 2, "vllm")
