"""Load test for an accelerator machine: 100 developers' completions against a 7B code model.

The model is a real 7B architecture (Qwen2.5-Coder-7B or CodeLlama-7B
``config.json``, written here) with random weights (``load_format =
"dummy"``), so nothing is downloaded; the tokenizer is a tiny one trained
locally (the config keeps the real vocabulary size, so every id is valid).
The workload replays completion traffic of about 100 developers:

- input tokens: lognormal with p50 1,500 and p90 5,000, capped at 2,048;
- output tokens: lognormal with p50 13 and p90 55, capped at 64;
- arrivals: Poisson, 7.5 requests/s on average: cycles of 25 s at 5/s
  followed by a 5 s burst at 20/s.

It reports TTFT p50/p95, end-to-end p50/p95, throughput, the deepest queue
seen and GPU memory, for ``--backend vllm`` (in-process ``AsyncLLM``) or
``--backend transformers`` (the GPU machine may lack vLLM). Without a GPU it
stops with exit code 2 and says so; ``--dry-run`` only prints the workload.

Example: ``python bench/bench_gpu_vllm_load.py --duration 120 --arch qwen2.5-coder-7b``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

Z90 = 1.2815515655446004  # standard normal 90th percentile

#: Real configurations of the 7B code models (from their hub config.json files).
ARCHITECTURES: dict[str, tuple[str, dict[str, Any]]] = {
    "qwen2.5-coder-7b": (
        "qwen2.5-coder",
        {
            "architectures": ["Qwen2ForCausalLM"],
            "model_type": "qwen2",
            "hidden_size": 3584,
            "intermediate_size": 18944,
            "num_hidden_layers": 28,
            "num_attention_heads": 28,
            "num_key_value_heads": 4,
            "max_position_embeddings": 32768,
            "max_window_layers": 28,
            "rope_theta": 1000000.0,
            "rms_norm_eps": 1e-06,
            "sliding_window": 131072,
            "use_sliding_window": False,
            "tie_word_embeddings": False,
            "vocab_size": 152064,
            "hidden_act": "silu",
            "torch_dtype": "bfloat16",
        },
    ),
    "codellama-7b": (
        "codellama",
        {
            "architectures": ["LlamaForCausalLM"],
            "model_type": "llama",
            "hidden_size": 4096,
            "intermediate_size": 11008,
            "num_hidden_layers": 32,
            "num_attention_heads": 32,
            "num_key_value_heads": 32,
            "max_position_embeddings": 16384,
            "rope_theta": 1000000,
            "rms_norm_eps": 1e-05,
            "tie_word_embeddings": False,
            "vocab_size": 32016,
            "hidden_act": "silu",
            "torch_dtype": "bfloat16",
        },
    ),
}


@dataclass(frozen=True, slots=True)
class LengthDistribution:
    """A lognormal token count given by its median and 90th percentile, floored and capped."""

    p50: float
    p90: float
    cap: int
    floor: int = 1

    @property
    def mu(self) -> float:
        return math.log(self.p50)

    @property
    def sigma(self) -> float:
        return (math.log(self.p90) - math.log(self.p50)) / Z90

    def sample_uncapped(self, rng: random.Random) -> float:
        return rng.lognormvariate(self.mu, self.sigma)

    def sample(self, rng: random.Random) -> int:
        return max(self.floor, min(self.cap, round(self.sample_uncapped(rng))))


@dataclass(frozen=True, slots=True)
class WorkloadSpec:
    """The traffic of the reference team (100 developers)."""

    duration_s: float = 60.0
    base_rate: float = 5.0  # requests/s outside bursts
    burst_rate: float = 20.0  # requests/s in a burst
    burst_s: float = 5.0
    base_s: float = 25.0  # bursts are 1/6 of the time: mean rate 7.5/s
    inputs: LengthDistribution = LengthDistribution(1500, 5000, cap=2048, floor=16)
    outputs: LengthDistribution = LengthDistribution(13, 55, cap=64)
    seed: int = 0

    @property
    def mean_rate(self) -> float:
        share = self.burst_s / (self.burst_s + self.base_s)
        return share * self.burst_rate + (1 - share) * self.base_rate


@dataclass(frozen=True, slots=True)
class WorkloadRequest:
    arrival_s: float
    input_tokens: int
    output_tokens: int
    in_burst: bool


def generate_workload(spec: WorkloadSpec) -> list[WorkloadRequest]:
    """Poisson arrivals whose rate alternates: ``base_s`` at the base rate, then ``burst_s`` at the burst rate.

    Fixed periods (rather than random ones) give every run of a whole number
    of cycles the same mean rate and at least one burst per cycle.
    """
    rng = random.Random(spec.seed)
    requests: list[WorkloadRequest] = []
    now = 0.0
    burst = False
    while now < spec.duration_s:
        period_end = min(spec.duration_s, now + (spec.burst_s if burst else spec.base_s))
        rate = spec.burst_rate if burst else spec.base_rate
        t = now + rng.expovariate(rate)
        while t < period_end:
            requests.append(WorkloadRequest(t, spec.inputs.sample(rng), spec.outputs.sample(rng), in_burst=burst))
            t += rng.expovariate(rate)
        now = period_end
        burst = not burst
    return requests


def percentile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def summarize_workload(requests: Sequence[WorkloadRequest], duration_s: float) -> dict[str, float]:
    inputs = [r.input_tokens for r in requests]
    outputs = [r.output_tokens for r in requests]
    return {
        "requests": len(requests),
        "rate_per_s": round(len(requests) / duration_s, 2),
        "input_p50": percentile(inputs, 0.5),
        "input_p90": percentile(inputs, 0.9),
        "output_p50": percentile(outputs, 0.5),
        "output_p90": percentile(outputs, 0.9),
        "burst_share_of_requests": round(sum(r.in_burst for r in requests) / max(1, len(requests)), 3),
    }


def write_model_dir(directory: Path, arch: str) -> Path:
    """The 7B config.json plus a tiny locally trained tokenizer of the same family; no weights."""
    from inference.testing.tiny_models import build_tiny_model

    family, config = ARCHITECTURES[arch]
    build_tiny_model(directory, family)
    tiny = json.loads((directory / "config.json").read_text())
    real = dict(config)
    real.update({"bos_token_id": tiny["bos_token_id"], "eos_token_id": tiny["eos_token_id"]})
    (directory / "config.json").write_text(json.dumps(real, indent=2))
    gen = {"bos_token_id": tiny["bos_token_id"], "eos_token_id": tiny["eos_token_id"]}
    (directory / "generation_config.json").write_text(json.dumps(gen))
    (directory / "model.safetensors").unlink()  # tiny weights would not fit the 7B shapes
    return directory


def cuda_available() -> bool:
    try:
        import torch
    except ImportError:
        return False
    return bool(torch.cuda.is_available())


def gpu_memory_gib() -> dict[str, float]:
    """Device-wide memory in use (covers vLLM's engine process) and this process's peak."""
    import torch

    free, total = torch.cuda.mem_get_info()
    return {
        "gpu_used_gib": round((total - free) / 2**30, 2),
        "gpu_total_gib": round(total / 2**30, 2),
        "this_process_peak_gib": round(torch.cuda.max_memory_allocated() / 2**30, 2),
    }


class PromptSource:
    """Code prompts of a requested token length, cut from a tokenized corpus."""

    def __init__(self, tokenizer: Any, seed: int) -> None:
        from inference.testing.tiny_models import training_corpus

        self.tokenizer = tokenizer
        self.ids: list[int] = tokenizer("\n".join(training_corpus()), add_special_tokens=False).input_ids
        self.rng = random.Random(seed)

    def fim(self, tokens: int) -> tuple[str, str]:
        tokens = min(tokens, len(self.ids) - 1)
        start = self.rng.randrange(0, len(self.ids) - tokens)
        ids = self.ids[start : start + tokens]
        cut = int(len(ids) * 0.8)
        decode = self.tokenizer.decode
        return str(decode(ids[:cut])), str(decode(ids[cut:]))


def make_backend(args: argparse.Namespace, model_dir: Path) -> Any:
    from inference.settings import LocalSettings

    settings = LocalSettings(
        backend=args.backend,
        model=str(model_dir),
        device="cuda",
        dtype="bfloat16",
        load_format="dummy",
        download=False,
        max_model_len=4096,
        tensor_parallel_size=args.tp,
        gpu_memory_utilization=args.gpu_memory_utilization,
        max_concurrency=args.max_concurrency,
    )
    if args.backend == "vllm":
        from inference.local.vllm_backend import VllmBackend

        return VllmBackend("local", settings)
    from inference.local.transformers_backend import TransformersBackend

    return TransformersBackend("local", settings)


async def replay(backend: Any, workload: Sequence[WorkloadRequest], prompts: PromptSource) -> dict[str, Any]:
    from inference.backend import collect
    from inference.types import GenerationRequest

    results: list[Any] = []
    errors: list[str] = []
    max_queued = 0

    async def one(index: int, item: WorkloadRequest) -> None:
        prefix, suffix = prompts.fim(item.input_tokens)
        request = GenerationRequest.fim(f"load-{index}", prefix, suffix, max_tokens=item.output_tokens)
        try:
            results.append(await collect(backend, request))
        except Exception as exc:
            errors.append(f"{type(exc).__name__}: {exc}")

    started = time.perf_counter()
    tasks = []
    for index, item in enumerate(workload):
        delay = started + item.arrival_s - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(index, item)))
        max_queued = max(max_queued, backend.load().queued)
    await asyncio.gather(*tasks)
    wall = time.perf_counter() - started
    ttft = [r.ttft_ms for r in results if r.ttft_ms is not None]
    e2e = [r.latency_ms for r in results]
    return {
        "completed": len(results),
        "errors": len(errors),
        "first_errors": errors[:3],
        "wall_s": round(wall, 1),
        "ttft_p50_ms": round(percentile(ttft, 0.5), 1),
        "ttft_p95_ms": round(percentile(ttft, 0.95), 1),
        "e2e_p50_ms": round(percentile(e2e, 0.5), 1),
        "e2e_p95_ms": round(percentile(e2e, 0.95), 1),
        "throughput_req_s": round(len(results) / wall, 2),
        "output_tokens_s": round(sum(r.usage.completion_tokens for r in results) / wall, 1),
        "prompt_tokens_p50": statistics.median([r.usage.prompt_tokens for r in results]) if results else 0,
        "max_queued_seen": max_queued,
    }


async def run(args: argparse.Namespace, workload: list[WorkloadRequest]) -> dict[str, Any]:
    from transformers import AutoTokenizer

    from inference.backend import collect
    from inference.types import GenerationRequest

    with tempfile.TemporaryDirectory(prefix="bench-gpu-") as root:
        os.environ.setdefault("VLLM_CACHE_ROOT", os.path.join(root, "vllm-cache"))
        model_dir = write_model_dir(Path(root) / args.arch, args.arch)
        backend = make_backend(args, model_dir)
        started = time.perf_counter()
        await backend.start()
        start_s = time.perf_counter() - started
        prompts = PromptSource(AutoTokenizer.from_pretrained(str(model_dir)), args.seed)
        for i in range(3):  # warm-up outside the measurement
            await collect(backend, GenerationRequest.fim(f"warm{i}", *prompts.fim(256), max_tokens=8))
        report = {"backend": args.backend, "arch": args.arch, "start_s": round(start_s, 1)}
        report.update(await replay(backend, workload, prompts))
        report.update(gpu_memory_gib())
        await backend.close()
        return report


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=["vllm", "transformers"], default="vllm")
    parser.add_argument("--arch", choices=sorted(ARCHITECTURES), default="qwen2.5-coder-7b")
    parser.add_argument("--duration", type=float, default=60.0, help="seconds of arrivals to replay")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--tp", type=int, default=1, help="tensor parallel size (GPUs)")
    parser.add_argument("--gpu-memory-utilization", type=float, default=0.85)
    parser.add_argument("--max-concurrency", type=int, default=64, help="vLLM max_num_seqs / transformers slots")
    parser.add_argument("--dry-run", action="store_true", help="print the workload only (no GPU needed)")
    parser.add_argument("--json", default="", help="also write the report here")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    spec = WorkloadSpec(duration_s=args.duration, seed=args.seed)
    workload = generate_workload(spec)
    summary = summarize_workload(workload, spec.duration_s)
    print(json.dumps({"workload": summary, "spec": asdict(spec)}, default=str))
    if args.dry_run:
        return 0
    if not cuda_available():
        print(
            "error: this benchmark needs an NVIDIA GPU, and torch.cuda.is_available() is False here; "
            "run it on the accelerator machine, or pass --dry-run to print the workload only",
            file=sys.stderr,
        )
        return 2
    report = asyncio.run(run(args, workload))
    print(json.dumps(report))
    if args.json:
        Path(args.json).write_text(json.dumps({"workload": summary, "report": report}, indent=2))
    return 0 if report["errors"] == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
