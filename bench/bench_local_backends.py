"""Benchmark of the local engines (transformers, in-process vLLM) on this machine with a tiny model.

For each engine it prints: start time; time to first token for a 512-token
prompt (distinct prompts, so no prefix-cache help); decode tokens/s for
one stream and for 8 concurrent streams; resident memory (this process and
the engine's child processes); and the per-request overhead of the engine
and of our wrapper, as p50 over ``--requests`` short FIM requests:

- transformers: backend wall time minus a direct ``model.generate`` of the
  same ids and length, requests alternating (paired differences);
- vLLM: backend minus raw ``AsyncLLM.generate`` of the same ids, requests
  alternating (our wrapper: tokenizing, rendering, streaming), and raw
  ``AsyncLLM.generate`` minus the direct transformers ``generate`` of the
  same tiny model (the engine: scheduling, IPC to its engine-core process,
  detokenization; different kernels, so approximate).

Usage: ``python bench/bench_local_backends.py [--backends transformers,vllm]
[--family qwen2.5-coder] [--requests 60] [--json out.json]``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from inference.backend import Backend, collect
from inference.settings import LocalSettings
from inference.types import GenerationRequest

CODE_LINE = "    total = compute(total, values[index]) + offset  # keep going\n"


def rss_bytes() -> int:
    """Resident memory of this process and all its children."""
    import psutil

    me = psutil.Process()
    procs = [me, *me.children(recursive=True)]
    total = 0
    for proc in procs:
        try:
            total += proc.memory_info().rss
        except psutil.Error:
            continue
    return total


def prefix_of(tokenizer: Any, tokens: int, tag: str) -> str:
    """Code whose FIM prompt is about ``tokens`` long, starting with a unique tag line."""
    text = f"# request {tag}\ndef work(values, offset):\n    total = 0\n"
    while len(tokenizer(text).input_ids) < tokens:
        text += CODE_LINE
    ids = tokenizer(text).input_ids[:tokens]
    return str(tokenizer.decode(ids, skip_special_tokens=True))


def make_backend(kind: str, model_dir: Path) -> Backend:
    settings = LocalSettings(
        backend=kind,  # type: ignore[arg-type]
        model=str(model_dir),
        device="cpu",
        dtype="float32",
        download=False,
        max_model_len=2048,
        kv_cache_memory_bytes=256 << 20,
        max_concurrency=8,
    )
    if kind == "vllm":
        from inference.local.vllm_backend import VllmBackend

        return VllmBackend("local", settings)
    from inference.local.transformers_backend import TransformersBackend

    return TransformersBackend("local", settings)


class DirectModel:
    """The same tiny model through plain transformers: the compute reference."""

    def __init__(self, model_dir: Path) -> None:
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        self.torch = torch
        self.tokenizer: Any = AutoTokenizer.from_pretrained(str(model_dir))
        model: Any = AutoModelForCausalLM.from_pretrained(str(model_dir), dtype=torch.float32)
        self.model = model.eval()

    def generate_ms(self, prompt: str, new_tokens: int) -> float:
        torch = self.torch
        ids = torch.tensor([self.tokenizer(prompt).input_ids])
        started = time.perf_counter()
        with torch.inference_mode():
            self.model.generate(
                ids,
                attention_mask=torch.ones_like(ids),
                max_new_tokens=new_tokens,
                do_sample=False,
                pad_token_id=self.tokenizer.eos_token_id,
            )
        return (time.perf_counter() - started) * 1000.0


async def raw_vllm_ms(backend: Any, prompt: str, new_tokens: int, request_id: str) -> float:
    """One request straight to ``AsyncLLM.generate`` (no wrapper), token ids in."""
    from vllm import SamplingParams
    from vllm.sampling_params import RequestOutputKind

    loaded = backend._loaded
    ids = loaded.tokenizer(prompt).input_ids
    params = SamplingParams(max_tokens=new_tokens, temperature=0.0, output_kind=RequestOutputKind.DELTA)
    started = time.perf_counter()
    async for _ in loaded.engine.generate(backend._engine_input(loaded, ids), params, request_id):
        pass
    return (time.perf_counter() - started) * 1000.0


async def bench_backend(kind: str, model_dir: Path, direct: DirectModel, requests: int) -> dict[str, Any]:
    tokenizer = direct.tokenizer
    fmt_suffix = "\n\nprint(work([1, 2], 3))\n"
    rss_before = rss_bytes()
    backend = make_backend(kind, model_dir)
    started = time.perf_counter()
    await backend.start()
    result: dict[str, Any] = {"backend": kind, "start_s": round(time.perf_counter() - started, 2)}
    fmt = getattr(backend, "fim_format", None)
    render = fmt.render if fmt is not None else (lambda a, b: a)

    for i in range(3):  # warm-up
        await collect(backend, GenerationRequest.fim(f"warm{i}", "def f(x):\n", "", max_tokens=4))

    ttfts, prompt_tokens = [], []
    for i in range(10):
        prefix = prefix_of(tokenizer, 500, f"ttft-{kind}-{i}")
        res = await collect(backend, GenerationRequest.fim(f"ttft{i}", prefix, fmt_suffix, max_tokens=4))
        assert res.ttft_ms is not None
        ttfts.append(res.ttft_ms)
        prompt_tokens.append(res.usage.prompt_tokens)
    result["ttft_512_p50_ms"] = round(statistics.median(ttfts), 1)
    result["ttft_prompt_tokens"] = int(statistics.median(prompt_tokens))

    one = await collect(backend, GenerationRequest.fim("tps", "def f(x):\n", "", max_tokens=256))
    decode_s = (one.latency_ms - (one.ttft_ms or 0.0)) / 1000.0
    result["decode_tokens_per_s_1_stream"] = round((one.usage.completion_tokens - 1) / decode_s, 1)
    wall = time.perf_counter()
    many = await asyncio.gather(
        *(collect(backend, GenerationRequest.fim(f"c{i}", f"def f{i}(x):\n", "", max_tokens=128)) for i in range(8))
    )
    total_tokens = sum(r.usage.completion_tokens for r in many)
    result["decode_tokens_per_s_8_streams"] = round(total_tokens / (time.perf_counter() - wall), 1)
    result["rss_mib"] = round(rss_bytes() / 2**20, 1)
    result["rss_added_mib"] = round((rss_bytes() - rss_before) / 2**20, 1)

    new_tokens = 8
    short_prefix = "def mean(values):\n    total = sum(values)\n    "
    short_suffix = "\n    return result\n"
    prompt = render(short_prefix, short_suffix)
    wrapper, raw, paired_direct = [], [], []
    for i in range(requests):  # alternating, so drift in the machine's load hits both alike
        req = GenerationRequest.fim(f"o{i}", short_prefix, short_suffix, max_tokens=new_tokens)
        res = await collect(backend, req)
        assert res.usage.completion_tokens == new_tokens
        wrapper.append(res.latency_ms)
        if kind == "vllm":
            raw.append(await raw_vllm_ms(backend, prompt, new_tokens, f"raw{i}"))
        else:
            paired_direct.append(direct.generate_ms(prompt, new_tokens))
    await backend.close()
    result["request_p50_ms"] = round(statistics.median(wrapper), 2)
    if kind == "vllm":
        # The direct reference runs after the engine is gone, so the two never compete for cores.
        direct_ms = [direct.generate_ms(prompt, new_tokens) for _ in range(requests)]
        result["direct_generate_p50_ms"] = round(statistics.median(direct_ms), 2)
        result["raw_engine_p50_ms"] = round(statistics.median(raw), 2)
        diffs = [w - r for w, r in zip(wrapper, raw, strict=True)]
        result["wrapper_overhead_p50_ms"] = round(statistics.median(diffs), 2)
        result["engine_overhead_vs_hf_compute_p50_ms"] = round(statistics.median(raw) - statistics.median(direct_ms), 2)
    else:
        result["direct_generate_p50_ms"] = round(statistics.median(paired_direct), 2)
        diffs = [w - d for w, d in zip(wrapper, paired_direct, strict=True)]
        result["overhead_p50_ms"] = round(statistics.median(diffs), 2)
    return result


async def main_async(args: argparse.Namespace) -> list[dict[str, Any]]:
    from inference.testing.tiny_models import build_tiny_model

    with tempfile.TemporaryDirectory(prefix="bench-local-") as root:
        os.environ.setdefault("VLLM_CACHE_ROOT", os.path.join(root, "vllm-cache"))
        os.environ.setdefault("TORCHINDUCTOR_CACHE_DIR", os.path.join(root, "inductor"))
        os.environ.setdefault("VLLM_CPU_OMP_THREADS_BIND", "nobind")
        model_dir = Path(args.model) if args.model else build_tiny_model(Path(root) / args.family, args.family)
        direct = DirectModel(model_dir)
        results = []
        for kind in args.backends.split(","):
            print(f"--- {kind}", file=sys.stderr, flush=True)
            results.append(await bench_backend(kind.strip(), model_dir, direct, args.requests))
        return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backends", default="transformers,vllm")
    parser.add_argument("--family", default="qwen2.5-coder", help="tiny model family to build")
    parser.add_argument("--model", default="", help="use this model directory instead of a tiny one")
    parser.add_argument("--requests", type=int, default=60, help="requests for the overhead p50")
    parser.add_argument("--json", default="", help="also write the results here")
    args = parser.parse_args()
    results = asyncio.run(main_async(args))
    for res in results:
        print(json.dumps(res))
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
