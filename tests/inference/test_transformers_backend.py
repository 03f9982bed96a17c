"""The transformers engine on tiny real-format models, offline: streaming, usage, stops, cancel, queue."""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
import shutil
import time
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from hypothesis import given
from hypothesis import strategies as st

from inference.backend import collect
from inference.errors import (
    BadRequestError,
    ContextTooLongError,
    InferenceTimeoutError,
    ModelNotAvailableError,
)
from inference.local._prompts import configured_tokenizer_fim, detect_tokenizer_fim, stop_token_ids
from inference.local._text_stream import IncrementalText
from inference.local.transformers_backend import TransformersBackend
from inference.settings import LocalSettings
from inference.types import ChatMessage, GenerationChunk, GenerationRequest

from .conftest import TinyModelFactory

pytestmark = pytest.mark.usefixtures("hub_offline")
#: Async tests share the module's event loop with the module-scoped engine.
module_loop = pytest.mark.asyncio(loop_scope="module")

FAMILIES = ["qwen2.5-coder", "starcoder2", "deepseek-coder", "codellama"]
PREFIX = "def add(a, b):\n    "
SUFFIX = "\n\nprint(add(1, 2))\n"
LONG = 3000  # tokens that take seconds to generate: only an early stop ends them fast


def settings_for(path: Path, **kw: Any) -> LocalSettings:
    return LocalSettings(backend="transformers", model=str(path), device="cpu", download=False, **kw)


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def qwen(tiny_model: TinyModelFactory) -> AsyncIterator[TransformersBackend]:
    backend = TransformersBackend(
        "local", settings_for(tiny_model("qwen2.5-coder"), max_model_len=4096, max_concurrency=4)
    )
    await backend.start()
    yield backend
    await backend.close()


def reference_completion(path: Path, prompt: str, max_new_tokens: int) -> tuple[str, int, int]:
    """Greedy text, prompt tokens and new tokens straight from transformers, no backend."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer: Any = AutoTokenizer.from_pretrained(str(path))
    model: Any = AutoModelForCausalLM.from_pretrained(str(path), dtype=torch.float32)
    model = model.eval()
    ids = tokenizer(prompt, return_tensors="pt").input_ids
    eos = tokenizer.eos_token_id
    with torch.inference_mode():
        out = model.generate(
            ids,
            attention_mask=torch.ones_like(ids),
            max_new_tokens=max_new_tokens,
            do_sample=False,
            eos_token_id=eos,
            pad_token_id=eos,
        )
    new = out[0, ids.shape[1] :]
    return tokenizer.decode(new, skip_special_tokens=True), ids.shape[1], int(new.shape[0])


async def drain(stream: AsyncIterator[GenerationChunk]) -> list[GenerationChunk]:
    return [chunk async for chunk in stream]


@module_loop
@pytest.mark.parametrize("family", FAMILIES)
async def test_each_family_streams_what_generate_returns(tiny_model: TinyModelFactory, family: str) -> None:
    path = tiny_model(family)
    backend = TransformersBackend("local", settings_for(path))
    await backend.start()
    try:
        fmt = backend.fim_format
        assert fmt is not None and fmt.family == family  # from the tokenizer: the path says nothing
        chunks = await drain(backend.generate(GenerationRequest.fim("r", PREFIX, SUFFIX, max_tokens=24)))
        text, prompt_tokens, new_tokens = await asyncio.to_thread(
            reference_completion, path, fmt.render(PREFIX, SUFFIX), 24
        )
    finally:
        await backend.close()
    *pieces, last = chunks
    assert len(pieces) > 1, "the answer should arrive in several pieces"
    assert all(c.finish_reason is None and c.text for c in pieces)
    assert "".join(c.text for c in pieces) == text
    assert last.finish_reason == "length"
    assert last.usage is not None
    assert (last.usage.prompt_tokens, last.usage.completion_tokens, last.usage.cached_tokens) == (
        prompt_tokens,
        new_tokens,
        0,
    )


@module_loop
async def test_chat_uses_the_chat_template(qwen: TransformersBackend, tiny_model: TinyModelFactory) -> None:
    from transformers import AutoTokenizer

    tokenizer: Any = AutoTokenizer.from_pretrained(str(tiny_model("qwen2.5-coder")))
    messages = [ChatMessage("system", "Be brief."), ChatMessage("user", "Explain add().")]
    result = await collect(qwen, GenerationRequest.chat("chat", messages, max_tokens=8))
    templated = tokenizer.apply_chat_template(
        [{"role": m.role, "content": m.content} for m in messages], tokenize=False, add_generation_prompt=True
    )
    assert templated.endswith("<|im_start|>assistant\n")
    assert result.usage.prompt_tokens == len(tokenizer(templated, add_special_tokens=False).input_ids)
    assert result.usage.completion_tokens == 8
    assert result.text


@module_loop
async def test_chat_without_template_uses_role_lines(tiny_model: TinyModelFactory) -> None:
    from transformers import AutoTokenizer

    path = tiny_model("starcoder2")
    backend = TransformersBackend("local", settings_for(path))
    try:
        result = await collect(backend, GenerationRequest.chat("c", [ChatMessage("user", "hi")], max_tokens=4))
    finally:
        await backend.close()
    tokenizer: Any = AutoTokenizer.from_pretrained(str(path))
    assert result.usage.prompt_tokens == len(tokenizer("user: hi\nassistant:").input_ids)


@module_loop
async def test_stop_string_cuts_the_answer_and_ends_generation(qwen: TransformersBackend) -> None:
    full = await collect(qwen, GenerationRequest.fim("full", PREFIX, SUFFIX, max_tokens=40))
    clean = full.text.replace("\ufffd", "")
    stop = next(clean[i : i + 3] for i in range(8, len(clean) - 3) if clean[i : i + 3].strip() == clean[i : i + 3])
    cut = full.text.index(stop)
    stopped = await collect(qwen, GenerationRequest.fim("stop", PREFIX, SUFFIX, max_tokens=40, stop=[stop]))
    assert stopped.text == full.text[:cut]
    assert stopped.finish_reason == "stop"
    assert stopped.usage.completion_tokens < 40


@module_loop
async def test_abort_stops_generation_early(qwen: TransformersBackend) -> None:
    aborted_before = qwen.load().aborted_total
    stream = qwen.generate(GenerationRequest.fim("long", PREFIX, SUFFIX, max_tokens=LONG))
    chunks: list[GenerationChunk] = []
    started = time.perf_counter()
    async for chunk in stream:
        chunks.append(chunk)
        if len(chunks) == 3:
            await qwen.abort("long")
    elapsed = time.perf_counter() - started
    last = chunks[-1]
    assert last.finish_reason == "abort"
    assert last.usage is not None
    assert 3 <= last.usage.completion_tokens < 50
    assert elapsed < 5.0
    assert qwen.load().running == 0
    assert qwen.load().aborted_total == aborted_before + 1


@module_loop
async def test_closing_the_stream_stops_the_worker_thread(qwen: TransformersBackend) -> None:
    stream = qwen.generate(GenerationRequest.fim("closed", PREFIX, SUFFIX, max_tokens=LONG))
    seen = 0
    async for _chunk in stream:
        seen += 1
        if seen == 2:
            break
    aborted_before = qwen.load().aborted_total
    started = time.perf_counter()
    await stream.aclose()  # type: ignore[attr-defined]
    assert time.perf_counter() - started < 1.0  # one decoding step, not the remaining ~3000
    await asyncio.sleep(0)
    assert qwen.load().running == 0
    assert qwen.load().aborted_total == aborted_before + 1
    again = await collect(qwen, GenerationRequest.fim("after", PREFIX, SUFFIX, max_tokens=2))
    assert again.usage.completion_tokens == 2


@module_loop
async def test_cancelling_the_consumer_task_stops_generation(qwen: TransformersBackend) -> None:
    first_chunk = asyncio.Event()

    async def consume() -> None:
        async for _ in qwen.generate(GenerationRequest.fim("cancelled", PREFIX, SUFFIX, max_tokens=LONG)):
            first_chunk.set()

    task = asyncio.create_task(consume())
    await asyncio.wait_for(first_chunk.wait(), 10)
    task.cancel()
    started = time.perf_counter()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert time.perf_counter() - started < 1.0
    await asyncio.sleep(0)
    assert qwen.load().running == 0


@module_loop
async def test_concurrency_limit_queues_and_abort_while_queued(tiny_model: TinyModelFactory) -> None:
    backend = TransformersBackend("local", settings_for(tiny_model("qwen2.5-coder"), max_concurrency=1))
    await backend.start()
    try:
        first = backend.generate(GenerationRequest.fim("one", PREFIX, SUFFIX, max_tokens=LONG))
        await first.__anext__()  # holds the only slot
        second = asyncio.create_task(collect(backend, GenerationRequest.fim("two", PREFIX, SUFFIX, max_tokens=4)))
        third = asyncio.create_task(collect(backend, GenerationRequest.fim("three", PREFIX, SUFFIX, max_tokens=4)))
        await asyncio.sleep(0.2)
        load = backend.load()
        assert (load.running, load.queued) == (1, 2)
        assert not second.done()
        await backend.abort("three")  # aborted while waiting: never runs
        aborted = await asyncio.wait_for(third, 2)
        assert aborted.finish_reason == "abort"
        assert aborted.usage.completion_tokens == 0
        await backend.abort("one")
        rest = await drain(first)
        assert rest[-1].finish_reason == "abort"
        done = await asyncio.wait_for(second, 10)
        assert (done.finish_reason, done.usage.completion_tokens) == ("length", 4)
        assert backend.load().queued == 0
        assert backend.load().recent_ttft_ms is not None
    finally:
        await backend.close()


@module_loop
async def test_prompt_plus_max_tokens_over_the_window_is_refused(tiny_model: TinyModelFactory) -> None:
    backend = TransformersBackend("local", settings_for(tiny_model("qwen2.5-coder"), max_model_len=256))
    try:
        with pytest.raises(ContextTooLongError, match="256"):
            await collect(backend, GenerationRequest.fim("big", "x = 1\n" * 100, "", max_tokens=64))
        ok = await collect(backend, GenerationRequest.fim("small", "x = 1\n", "", max_tokens=8))
        assert ok.usage.completion_tokens == 8
        assert backend.load().running == 0
    finally:
        await backend.close()


@module_loop
async def test_window_is_the_smaller_of_the_setting_and_the_models_own(tiny_model: TinyModelFactory) -> None:
    """The tiny model's config says 4,096 positions; the default setting (8,192) is clamped, and reported."""
    backend = TransformersBackend("local", settings_for(tiny_model("qwen2.5-coder")))
    assert backend.context_window() == 0  # not loaded: the router uses [routing] local_context_tokens
    try:
        await backend.start()
        assert backend.context_window() == 4096
    finally:
        await backend.close()


@module_loop
async def test_timeout_raises_and_frees_the_slot(qwen: TransformersBackend) -> None:
    with pytest.raises(InferenceTimeoutError):
        await collect(qwen, GenerationRequest.fim("slow", PREFIX, SUFFIX, max_tokens=LONG, timeout_s=0.3))
    await asyncio.sleep(0)
    assert qwen.load().running == 0


@module_loop
async def test_missing_model_health_explains_the_remedy(tmp_path: Path) -> None:
    backend = TransformersBackend("local", settings_for(tmp_path / "no-such-model"))
    health = await backend.health()
    assert not health.ok
    assert "does not exist" in health.detail
    assert "hybrid-assist models pull" in health.remedy and "[local] model" in health.remedy
    with pytest.raises(ModelNotAvailableError):
        await collect(backend, GenerationRequest.fim("x", "a", "b"))
    after = await backend.health()
    assert not after.ok and "hybrid-assist models pull" in after.remedy

    hub = TransformersBackend(
        "local", LocalSettings(model="acme/not-cached-coder", download=False, cache_dir=str(tmp_path))
    )
    hub_health = await hub.health()
    assert not hub_health.ok
    assert "hybrid-assist models pull acme/not-cached-coder" in hub_health.remedy


@module_loop
async def test_health_token_counter_and_model_checks(qwen: TransformersBackend, tiny_model: TinyModelFactory) -> None:
    from transformers import AutoTokenizer

    path = str(tiny_model("qwen2.5-coder"))
    health = await qwen.health()
    assert health.ok and health.models == (path,)
    assert qwen.default_model() == path and qwen.is_local
    count = qwen.token_counter()
    assert count is not None
    tokenizer: Any = AutoTokenizer.from_pretrained(path)
    text = "def f(x):\n    return x * 2  # double\n"
    assert count(text) == len(tokenizer(text, add_special_tokens=False).input_ids)
    with pytest.raises(BadRequestError, match="serves"):
        await collect(qwen, GenerationRequest.fim("m", "a", "b", model="gpt-4o"))
    with pytest.raises(BadRequestError, match="at least one message"):
        await collect(qwen, GenerationRequest.chat("empty", []))


@module_loop
async def test_dummy_load_format_uses_random_weights(qwen: TransformersBackend, tiny_model: TinyModelFactory) -> None:
    dummy = TransformersBackend("local", settings_for(tiny_model("qwen2.5-coder"), load_format="dummy"))
    try:
        random_answer = await collect(dummy, GenerationRequest.fim("d", PREFIX, SUFFIX, max_tokens=16))
    finally:
        await dummy.close()
    real_answer = await collect(qwen, GenerationRequest.fim("r", PREFIX, SUFFIX, max_tokens=16))
    # Same architecture and tokenizer (same prompt), other weights: another answer, which may end early
    # (random weights can pick the end-of-text token: CI saw 2 tokens out of 16 once).
    assert random_answer.usage.prompt_tokens == real_answer.usage.prompt_tokens
    assert random_answer.usage.completion_tokens <= 16 == real_answer.usage.completion_tokens
    assert random_answer.text != real_answer.text


def _has_cuda() -> bool:
    import torch

    return bool(torch.cuda.is_available())


@module_loop
@pytest.mark.gpu
@pytest.mark.skipif(not _has_cuda(), reason="needs an NVIDIA GPU")
async def test_cuda_device_streams_and_matches_the_count(tiny_model: TinyModelFactory) -> None:
    backend = TransformersBackend(
        "local", settings_for(tiny_model("qwen2.5-coder"), dtype="bfloat16").model_copy(update={"device": "cuda"})
    )
    try:
        result = await collect(backend, GenerationRequest.fim("gpu", PREFIX, SUFFIX, max_tokens=16))
        health = await backend.health()
    finally:
        await backend.close()
    assert (result.finish_reason, result.usage.completion_tokens) == ("length", 16)
    assert "cuda" in health.detail


@module_loop
@pytest.mark.gpu
@pytest.mark.skipif(not _has_cuda(), reason="needs an NVIDIA GPU")
async def test_cuda_concurrent_long_prompts_all_succeed(tiny_model: TinyModelFactory, tmp_path: Path) -> None:
    """Many requests at once on a GPU: PyTorch's cuDNN attention failed them from the worker threads."""
    wide = tmp_path / "wide"
    shutil.copytree(tiny_model("qwen2.5-coder"), wide)
    config = json.loads((wide / "config.json").read_text())
    # A 7B model's attention shape (28 heads of 128, 4 KV heads) in two layers with random weights.
    config.update(
        hidden_size=3584,
        intermediate_size=4096,
        num_attention_heads=28,
        num_key_value_heads=4,
        head_dim=128,
        num_hidden_layers=2,
        max_position_embeddings=4096,
    )
    (wide / "config.json").write_text(json.dumps(config))
    (wide / "model.safetensors").unlink()
    settings = settings_for(wide, dtype="bfloat16", load_format="dummy", max_model_len=4096, max_concurrency=32)
    backend = TransformersBackend("local", settings.model_copy(update={"device": "cuda"}))
    # Prompts of 48 lengths up to about 2,000 tokens: each new shape builds an attention graph.
    prompts = [PREFIX + "x = add(1, 2)\n    " * (10 + 4 * i) for i in range(48)]
    try:
        results = await asyncio.gather(
            *(collect(backend, GenerationRequest.fim(f"c{i}", p, SUFFIX, max_tokens=8)) for i, p in enumerate(prompts)),
            return_exceptions=True,
        )
    finally:
        await backend.close()
    failures = [repr(r) for r in results if isinstance(r, BaseException)]
    assert failures == [], f"{len(failures)} of 48 failed, first: {failures[:1]}"


def test_defaults_follow_the_device() -> None:
    assert TransformersBackend("local", LocalSettings(device="cpu")).default_model() == "Qwen/Qwen2.5-Coder-0.5B"
    assert TransformersBackend("local", LocalSettings(device="cuda")).default_model() == "Qwen/Qwen2.5-Coder-1.5B"
    assert TransformersBackend("edge", LocalSettings()).name == "edge"
    assert TransformersBackend("local", LocalSettings()).token_counter() is None


# -- the pieces under the engine: incremental text and stop tokens -------------


def byte_decode(ids: Sequence[int]) -> str:
    return bytes(ids).decode("utf-8", errors="replace")


def test_incremental_text_holds_back_split_characters() -> None:
    text = IncrementalText(byte_decode)
    euro = "€".encode()
    sent = [text.push(b"a"), text.push(euro[:1]), text.push(euro[1:2]), text.push(euro[2:] + b"b")]
    assert sent == ["a", "", "", "€b"]
    assert text.finish() == ""
    assert text.token_count == 5


def test_incremental_text_cuts_at_a_stop_string_across_tokens() -> None:
    text = IncrementalText(byte_decode, stop=["END", "\n\n"])
    assert text.push(b"abcE") == "abc"  # "E" may begin "END": held back
    assert text.push(b"Nx") == "ENx"  # it did not
    assert text.push(b"yEN") == "y"
    assert text.push(b"D and more") == ""
    assert text.stopped
    assert text.push(b"ignored") == "" and text.finish() == ""


@given(
    data=st.binary(max_size=60),
    cuts=st.lists(st.integers(0, 60), max_size=12),
    stop=st.sampled_from(["", "ab", "\n\n", "é"]),
)
def test_incremental_text_equals_one_final_decode(data: bytes, cuts: list[int], stop: str) -> None:
    text = IncrementalText(byte_decode, stop=[stop] if stop else [])
    bounds = sorted({0, len(data), *(c for c in cuts if c <= len(data))})
    pieces = [text.push(data[a:b]) for a, b in itertools.pairwise(bounds)]
    pieces.append(text.finish())
    full = byte_decode(list(data))
    expected = full[: full.index(stop)] if stop and stop in full else full
    assert "".join(pieces) == expected


@pytest.mark.parametrize(
    ("family", "must_stop_at"),
    [
        ("qwen2.5-coder", ["<|endoftext|>", "<|fim_pad|>", "<|file_sep|>", "<|repo_name|>", "<|im_end|>"]),
        ("starcoder2", ["<|endoftext|>", "<file_sep>"]),
        ("deepseek-coder", ["<|EOT|>", "<\uff5cend\u2581of\u2581sentence\uff5c>"]),
        ("codellama", ["</s>", "<EOT>"]),
    ],
)
def test_fim_stop_tokens_become_stop_ids(tiny_model: TinyModelFactory, family: str, must_stop_at: list[str]) -> None:
    from transformers import AutoTokenizer

    tokenizer: Any = AutoTokenizer.from_pretrained(str(tiny_model(family)))
    fmt = detect_tokenizer_fim(tokenizer, "")
    assert fmt is not None and fmt.family == family
    ids = stop_token_ids(tokenizer, fmt)
    assert set(tokenizer.convert_tokens_to_ids(must_stop_at)) <= set(ids)
    sentinels = tokenizer.convert_tokens_to_ids(list(fmt.sentinel_tokens))
    assert not set(sentinels) & set(ids)


async def test_the_configured_fim_format_is_the_engines(
    tiny_model: TinyModelFactory, caplog: pytest.LogCaptureFixture
) -> None:
    """``[local] fim_format`` decides for the in-process engine too: ``none`` sends the prefix alone, a family is used
    as told, with a warning naming the sentinels when the tokenizer lacks them."""
    path = tiny_model("qwen2.5-coder")
    told_none = TransformersBackend("local", settings_for(path, fim_format="none"))
    await told_none.start()
    try:
        assert told_none.fim_format is None  # auto would find qwen2.5-coder's tokens
        chunks = await drain(told_none.generate(GenerationRequest.fim("r", PREFIX, SUFFIX, max_tokens=4)))
        prefix_only = await asyncio.to_thread(reference_completion, path, PREFIX, 4)
        assert chunks[-1].usage is not None and chunks[-1].usage.prompt_tokens == prefix_only[1]
    finally:
        await told_none.close()
    with caplog.at_level(logging.WARNING, logger="inference.local._engine"):
        told_other = TransformersBackend("local", settings_for(path, fim_format="starcoder2"))
        await told_other.start()
        try:
            fmt = told_other.fim_format
            assert fmt is not None and fmt.family == "starcoder2"
        finally:
            await told_other.close()
    warning = "\n".join(r.getMessage() for r in caplog.records)
    assert "fim_format = 'starcoder2'" in warning and "<fim_prefix>" in warning and "qwen2.5-coder's" in warning


def test_a_configured_family_the_tokenizer_has_needs_no_warning(tiny_model: TinyModelFactory) -> None:
    from transformers import AutoTokenizer

    tokenizer: Any = AutoTokenizer.from_pretrained(str(tiny_model("codellama")))
    fmt, warning = configured_tokenizer_fim(tokenizer, "my-finetune", "codellama")
    assert fmt is not None and fmt.family == "codellama" and warning == ""
    assert configured_tokenizer_fim(tokenizer, "my-finetune", "none") == (None, "")
