"""The in-process transformers engine: any causal LM on a CPU or one GPU, streamed token by token.

Each request runs ``model.generate`` in a worker thread of a pool sized by
``[local] max_concurrency`` (an asyncio semaphore in front of it counts the
queued requests), so the event loop never blocks. A ``StoppingCriteria``
sees every new token: it decodes it (:class:`IncrementalText`), hands the
new text to the event loop, and stops generation as soon as the request's
``threading.Event`` is set (``abort()``, the stream closed or cancelled, a
timeout) or a stop string appeared. The FIM and end-of-text stop tokens
end generation through ``eos_token_id``.

``[local] load_format = "dummy"`` builds the configured architecture with
random weights instead of reading them (benchmarks of big models without
their weights, as vLLM's load format of the same name).

Importing this module is cheap: torch and transformers load in ``start()``.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import AsyncIterator, Container, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from inference.errors import InferenceTimeoutError, UnavailableError
from inference.local._engine import LoadedModel, LocalEngine, tokenizer_stops
from inference.local._text_stream import IncrementalText
from inference.models import has_gpu, resolve_model_path
from inference.settings import DEFAULT_CPU_MODEL, DEFAULT_GPU_MODEL, LocalSettings
from inference.types import (
    BackendHealth,
    BackendLoad,
    GenerationChunk,
    GenerationRequest,
    Usage,
)

__all__ = ["TransformersBackend"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class _Loaded(LoadedModel):
    """What ``start()`` produced."""

    model: Any
    device: str


@dataclass(eq=False)
class _Job:
    """One request's state, shared by the event loop and its worker thread."""

    request_id: str
    loop: asyncio.AbstractEventLoop
    cancel: threading.Event = field(default_factory=threading.Event)
    aborted: bool = False
    abort_event: asyncio.Event = field(default_factory=asyncio.Event)
    events: asyncio.Queue[tuple[str, object]] = field(default_factory=asyncio.Queue)
    generated: int = 0
    last_token: int | None = None
    holds_slot: bool = False  # owns one of the engine's concurrency slots
    running: bool = False  # counted as running in the load

    def post(self, kind: str, payload: object = None) -> None:
        """Hand an event to the loop (called from the worker thread)."""
        try:
            self.loop.call_soon_threadsafe(self.events.put_nowait, (kind, payload))
        except RuntimeError:  # the loop is closed: nobody is listening any more
            self.cancel.set()

    def mark_aborted(self) -> None:
        self.aborted = True
        self.cancel.set()
        self.abort_event.set()


def _make_stopping_criteria(job: _Job, text: IncrementalText) -> Any:
    """A ``StoppingCriteria`` that streams each new token and stops on cancel or stop string."""
    import torch
    from transformers import StoppingCriteria

    class _StreamAndCancel(StoppingCriteria):
        def __call__(self, input_ids: Any, scores: Any, **kwargs: Any) -> Any:
            token = int(input_ids[0, -1].item())
            job.generated += 1
            job.last_token = token
            delta = text.push((token,))
            if delta:
                job.post("text", delta)
            stop = job.cancel.is_set() or text.stopped
            return torch.full((input_ids.shape[0],), stop, dtype=torch.bool, device=input_ids.device)

    return _StreamAndCancel()


class TransformersBackend(LocalEngine[_Loaded]):
    """``AutoModelForCausalLM`` + ``AutoTokenizer`` from a local directory or the HF cache."""

    start_remedy = "check [local] device/dtype and the model directory, then restart"

    def __init__(self, name: str, settings: LocalSettings) -> None:
        super().__init__(name, settings)
        self._executor: ThreadPoolExecutor | None = None
        self._slots = asyncio.Semaphore(settings.max_concurrency)
        self._jobs: dict[str, _Job] = {}

    # -- lifecycle ---------------------------------------------------------

    def default_model(self) -> str:
        s = self._settings
        if s.model:
            return s.model
        if s.device == "cpu":
            return DEFAULT_CPU_MODEL
        if s.device == "cuda":
            return DEFAULT_GPU_MODEL
        return s.resolved_model(has_gpu())

    async def _load(self) -> _Loaded:
        loaded = await asyncio.to_thread(self._load_model)
        self._executor = ThreadPoolExecutor(
            max_workers=self._settings.max_concurrency, thread_name_prefix="hybrid-generate"
        )
        return loaded

    def _load_model(self) -> _Loaded:
        import torch
        from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

        s = self._settings
        model_name = self.default_model()
        path = resolve_model_path(model_name, cache_dir=s.cache_dir, allow_download=s.download)
        device = s.device
        if device == "auto":
            device = "cuda" if torch.cuda.is_available() else "cpu"
        if device.startswith("cuda"):
            # PyTorch's cuDNN attention shares its execution graphs between threads: requests generated
            # at once in the worker threads fail with "mha_graph.execute(...) is_good()" (seen on an
            # H200 under the 100-developer load). The flash and memory-efficient kernels are safe.
            torch.backends.cuda.enable_cudnn_sdp(False)
        dtype: Any = "auto" if device == "cuda" else torch.float32
        if s.dtype != "auto":
            dtype = getattr(torch, s.dtype)
        started = time.perf_counter()
        tokenizer = AutoTokenizer.from_pretrained(str(path))
        model: Any
        if s.load_format == "dummy":  # random weights of the configured architecture (benchmarks)
            config = AutoConfig.from_pretrained(str(path))
            if dtype == "auto":
                dtype = torch.bfloat16
            with torch.device(device):
                model = AutoModelForCausalLM.from_config(config, dtype=dtype)  # type: ignore[no-untyped-call]
        else:
            model = AutoModelForCausalLM.from_pretrained(str(path), dtype=dtype)
        model = model.to(device).eval()
        gen_eos = getattr(model.generation_config, "eos_token_id", None)
        fim, stop_ids = tokenizer_stops(tokenizer, model_name, str(path), gen_eos, s.fim_format)
        positions = getattr(model.config, "max_position_embeddings", None) or s.max_model_len
        logger.info(
            "loaded %s on %s in %.1f s (fim: %s)",
            model_name,
            device,
            time.perf_counter() - started,
            fim.family if fim else "none",
        )
        try:
            return _Loaded(
                model=model,
                tokenizer=tokenizer,
                path=str(path),
                device=device,
                fim=fim,
                stop_ids=stop_ids,
                max_model_len=min(s.max_model_len, int(positions)),
            )
        finally:
            # A library may keep a traceback of a failed lazy import made from here, and
            # with it this frame: it must not keep the model alive after close().
            del model

    async def _stop_requests(self) -> None:
        for job in list(self._jobs.values()):
            job.mark_aborted()
        executor, self._executor = self._executor, None
        if executor is not None:
            await asyncio.to_thread(executor.shutdown, wait=True, cancel_futures=True)

    # -- router-facing -----------------------------------------------------

    def load(self) -> BackendLoad:
        return self._stats.snapshot()

    def _loaded_health(self, loaded: _Loaded, model: str) -> BackendHealth:
        return BackendHealth(ok=True, detail=f"{model} loaded on {loaded.device}", models=(model,))

    def _running_ids(self) -> Container[str]:
        return self._jobs

    # -- generation --------------------------------------------------------

    async def abort(self, request_id: str) -> None:
        job = self._jobs.get(request_id)
        if job is not None:
            job.mark_aborted()

    def generate(self, request: GenerationRequest) -> AsyncIterator[GenerationChunk]:
        return self._generate(request)

    async def _generate(self, request: GenerationRequest) -> AsyncIterator[GenerationChunk]:
        prepared = await self._prepare(request)
        loaded, input_ids, started, deadline = prepared.loaded, prepared.token_ids, prepared.started, prepared.deadline
        job = _Job(request.request_id, asyncio.get_running_loop())
        self._jobs[request.request_id] = job
        text = IncrementalText(lambda ids: str(loaded.tokenizer.decode(ids, skip_special_tokens=True)), request.stop)
        future: asyncio.Future[None] | None = None
        outcome: str | None = None  # "done" | "error"; None while running (or when left early)
        self._stats.enqueue()
        try:
            try:
                job.holds_slot = await self._acquire_slot(job, deadline)
            finally:
                self._stats.dequeue()
            if not job.holds_slot:  # aborted while queued
                yield GenerationChunk("", "abort", Usage(prompt_tokens=len(input_ids)))
                return
            executor = self._executor
            if executor is None:
                outcome = "error"
                raise UnavailableError("the local engine was closed", provider=self.name)
            self._stats.begin()
            job.running = True
            future = job.loop.run_in_executor(executor, self._run, loaded, job, text, input_ids, request)
            # Released when the thread is really done, even if this coroutine is cancelled.
            future.add_done_callback(lambda _f: self._release_slot(job))
            first = True
            while True:
                kind, payload = await self._next_event(job, deadline)
                if kind == "text":
                    if first:
                        first = False
                        self._stats.record_ttft((time.perf_counter() - started) * 1000.0)
                    yield GenerationChunk(str(payload))
                elif kind == "error":
                    outcome = "error"
                    raise UnavailableError(f"local generation failed: {payload}", provider=self.name) from (
                        payload if isinstance(payload, BaseException) else None
                    )
                else:
                    outcome = "done"
                    break
            usage = Usage(prompt_tokens=len(input_ids), completion_tokens=job.generated)
            yield GenerationChunk("", self._finish_reason(job, text, loaded, request), usage)
        finally:
            if job.aborted or outcome is None:  # abort(), timeout, or the caller left early
                self._stats.record_abort()
            job.cancel.set()
            self._jobs.pop(request.request_id, None)
            if future is not None and not future.done():
                await asyncio.shield(future)  # returns within one decoding step
            self._release_slot(job)

    def _release_slot(self, job: _Job) -> None:
        """Give the job's slot back (idempotent)."""
        if job.running:
            job.running = False
            self._stats.end()
        if job.holds_slot:
            job.holds_slot = False
            self._slots.release()

    async def _acquire_slot(self, job: _Job, deadline: float | None) -> bool:
        """Wait for a free slot; False when the request was aborted while waiting."""
        if not self._slots.locked():
            await self._slots.acquire()
            return True
        acquire = asyncio.ensure_future(self._slots.acquire())
        aborted = asyncio.ensure_future(job.abort_event.wait())
        timeout = None if deadline is None else max(0.0, deadline - time.perf_counter())
        try:
            await asyncio.wait({acquire, aborted}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        finally:
            aborted.cancel()
            if not acquire.done():
                acquire.cancel()
        if acquire.done() and not acquire.cancelled():
            if job.aborted:
                self._slots.release()
                return False
            return True
        if job.aborted:
            return False
        raise InferenceTimeoutError(f"no free local engine slot within {timeout:.1f} s", provider=self.name)

    async def _next_event(self, job: _Job, deadline: float | None) -> tuple[str, object]:
        try:
            return await self._within(deadline, job.events.get())
        except InferenceTimeoutError:
            job.cancel.set()
            raise

    @staticmethod
    def _finish_reason(job: _Job, text: IncrementalText, loaded: _Loaded, request: GenerationRequest) -> str:
        if job.aborted:
            return "abort"
        if text.stopped or job.last_token in loaded.stop_ids:
            return "stop"
        if job.generated >= request.max_tokens:
            return "length"
        return "stop"

    @staticmethod
    def _run(
        loaded: _Loaded,
        job: _Job,
        text: IncrementalText,
        input_ids: Sequence[int],
        request: GenerationRequest,
    ) -> None:
        """Worker thread: run ``generate`` to the end, posting text; never raises."""
        try:
            import torch
            from transformers import StoppingCriteriaList

            if job.cancel.is_set():
                job.post("done")
                return
            ids = torch.tensor([list(input_ids)], dtype=torch.long, device=loaded.device)
            sampling: dict[str, Any] = {"do_sample": False}
            if request.temperature > 0:
                sampling = {"do_sample": True, "temperature": request.temperature}
                if request.top_p is not None:
                    sampling["top_p"] = request.top_p
            pad = loaded.tokenizer.pad_token_id
            with torch.inference_mode():
                loaded.model.generate(
                    input_ids=ids,
                    attention_mask=torch.ones_like(ids),
                    max_new_tokens=request.max_tokens,
                    eos_token_id=list(loaded.stop_ids) or None,
                    pad_token_id=pad if pad is not None else (loaded.stop_ids or (None,))[0],
                    stopping_criteria=StoppingCriteriaList([_make_stopping_criteria(job, text)]),
                    **sampling,
                )
            tail = text.finish()
            if tail:
                job.post("text", tail)
            job.post("done")
        except BaseException as exc:  # reported to the awaiting coroutine, which raises
            logger.debug("generation of %s failed", job.request_id, exc_info=True)
            job.post("error", exc)
