"""What the two in-process engines (vLLM, transformers) share: start, close, health, token counting, request set-up.

A subclass supplies how its model is loaded (:meth:`LocalEngine._load`, in
worker threads, returning a :class:`LoadedModel` or a subclass of it) and
released (:meth:`LocalEngine._unload`), and how a running request is
streamed; everything around it is written once here:

- :meth:`~LocalEngine.start` loads under a lock, once; a failure is kept
  (a missing model as :class:`~inference.errors.ModelNotAvailableError`,
  anything else as :class:`~inference.errors.UnavailableError`) for
  :meth:`~LocalEngine.health`;
- :meth:`~LocalEngine.close` stops the running requests, releases the model
  and collects it at once (engines sit in reference cycles);
- :meth:`~LocalEngine.health` says whether the model is loaded, why it failed,
  or whether it can be found (or downloaded) before it is loaded;
- :meth:`~LocalEngine._prepare` checks a request, renders and tokenizes its
  prompt and checks it fits the window.
"""

from __future__ import annotations

import abc
import asyncio
import gc
import logging
import sys
import time
from collections.abc import Awaitable, Callable, Container, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Generic, TypeVar

from inference.backend import Backend
from inference.errors import (
    BadRequestError,
    InferenceError,
    InferenceTimeoutError,
    ModelNotAvailableError,
    UnavailableError,
)
from inference.fim import FimFormat
from inference.local._load_stats import LoadTracker
from inference.local._prompts import check_context, configured_tokenizer_fim, render_prompt, stop_token_ids
from inference.models import model_remedy, resolve_model_path
from inference.settings import LocalSettings
from inference.types import BackendHealth, GenerationRequest

logger = logging.getLogger(__name__)

_T = TypeVar("_T")


@dataclass(frozen=True, slots=True)
class LoadedModel:
    """What every engine's start produced: the tokenizer and what it says about the model."""

    tokenizer: Any
    path: str
    fim: FimFormat | None
    stop_ids: tuple[int, ...]
    max_model_len: int


_L = TypeVar("_L", bound=LoadedModel)


@dataclass(frozen=True, slots=True)
class Prepared(Generic[_L]):
    """A request checked and tokenized against the loaded model."""

    loaded: _L
    token_ids: list[int]
    started: float  # time.perf_counter() when the request arrived
    deadline: float | None  # perf_counter() by which it must finish; None: no timeout


def tokenizer_stops(
    tokenizer: Any,
    model_name: str,
    path: str,
    generation_eos: int | Sequence[int] | None,
    fim_format: str = "auto",
) -> tuple[FimFormat | None, tuple[int, ...]]:
    """The model's FIM format (``[local] fim_format``: ``auto`` detects it) and the token ids that end an answer.

    A warning is logged when the model has no FIM tokens (auto), or when the
    configured family's tokens are not the tokenizer's.
    """
    fim, disagreement = configured_tokenizer_fim(tokenizer, model_name, fim_format)
    if disagreement:
        logger.warning("%s: %s", path, disagreement)
    elif fim is None and fim_format == "auto":
        logger.warning("%s has no fill-in-the-middle tokens; FIM uses the prefix only", path)
    extra = [generation_eos] if isinstance(generation_eos, int) else list(generation_eos or [])
    return fim, stop_token_ids(tokenizer, fim, extra)


class LocalEngine(Backend, Generic[_L], abc.ABC):
    """An engine running the model in this process (or its child); see the module docstring."""

    is_local = True
    #: The start failure's message, before ``: <error>``; ``{model}`` is the model's name.
    start_failure: ClassVar[str] = "cannot load local model {model}"
    #: The remedy of a start failure that is not a missing model.
    start_remedy: ClassVar[str] = "check the [local] settings and the log, then restart"

    def __init__(self, name: str, settings: LocalSettings) -> None:
        self.name = name
        self._settings = settings
        self._loaded: _L | None = None
        self._start_lock = asyncio.Lock()
        self._start_error: InferenceError | None = None
        self._stats = LoadTracker()

    # -- hooks -------------------------------------------------------------

    @abc.abstractmethod
    async def _load(self) -> _L:
        """Load the model (in worker threads: the event loop must not wait)."""

    async def _unload(self, loaded: _L) -> None:
        """Release what :meth:`_load` started (engine processes, threads)."""

    async def _stop_requests(self) -> None:
        """Stop every running request (on close)."""

    def _loaded_health(self, loaded: _L, model: str) -> BackendHealth:
        return BackendHealth(ok=True, detail=f"{model} loaded", models=(model,))

    def _missing_library(self) -> BackendHealth | None:
        """Why the engine's library cannot be used; None when it can."""
        return None

    def _running_ids(self) -> Container[str]:
        """The ids of the requests running now."""
        return ()

    # -- lifecycle ---------------------------------------------------------

    async def start(self) -> None:
        async with self._start_lock:
            if self._loaded is not None:
                return
            try:
                self._loaded = await self._load()
            except ModelNotAvailableError as exc:
                self._start_error = exc
                raise
            except Exception as exc:
                failure = self.start_failure.format(model=self.default_model())
                self._start_error = UnavailableError(f"{failure}: {exc}", provider=self.name)
                raise self._start_error from exc
            self._start_error = None

    async def close(self) -> None:
        await self._stop_requests()
        loaded, self._loaded = self._loaded, None
        if loaded is None:
            return
        await self._unload(loaded)
        del loaded
        # Engines sit in reference cycles; collect them now, while the modules their
        # __del__ needs still exist, rather than at interpreter exit.
        gc.collect()
        torch = sys.modules.get("torch")
        if torch is not None and torch.cuda.is_initialized():
            torch.cuda.empty_cache()

    def context_window(self) -> int:
        return self._loaded.max_model_len if self._loaded is not None else 0

    @property
    def fim_format(self) -> FimFormat | None:
        """The FIM format detected from the model's tokenizer (None before ``start()``)."""
        return self._loaded.fim if self._loaded is not None else None

    # -- router-facing -----------------------------------------------------

    def token_counter(self) -> Callable[[str], int] | None:
        if self._loaded is None:
            return None
        tokenizer = self._loaded.tokenizer

        def count(text: str) -> int:
            return len(tokenizer(text, add_special_tokens=False)["input_ids"])

        return count

    async def health(self) -> BackendHealth:
        model = self.default_model()
        if self._loaded is not None:
            return self._loaded_health(self._loaded, model)
        if self._start_error is not None:
            remedy = model_remedy(model) if isinstance(self._start_error, ModelNotAvailableError) else self.start_remedy
            return BackendHealth(ok=False, detail=self._start_error.message, remedy=remedy)
        missing = self._missing_library()
        if missing is not None:
            return missing
        s = self._settings
        try:
            path = await asyncio.to_thread(resolve_model_path, model, cache_dir=s.cache_dir, allow_download=False)
        except ModelNotAvailableError as exc:
            if s.download and not model.startswith(("/", ".", "~")):
                return BackendHealth(ok=True, detail=f"{model} is not cached yet; it is downloaded on start")
            return BackendHealth(ok=False, detail=exc.message, remedy=model_remedy(model))
        return BackendHealth(ok=True, detail=f"{model} found at {path}, not loaded yet")

    # -- generation --------------------------------------------------------

    async def _prepare(self, request: GenerationRequest) -> Prepared[_L]:
        """Start the engine if needed, check ``request`` and tokenize its prompt."""
        started = time.perf_counter()
        await self.start()
        loaded = self._loaded
        if loaded is None:
            raise UnavailableError("the local engine was closed", provider=self.name)
        model_name = self.default_model()
        if request.model and request.model not in (model_name, loaded.path):
            raise BadRequestError(f"the local engine serves {model_name}, not {request.model}", provider=self.name)
        if request.request_id in self._running_ids():
            raise BadRequestError(f"request id {request.request_id!r} is already running")
        plan = render_prompt(request, loaded.tokenizer, loaded.fim)
        token_ids: list[int] = loaded.tokenizer(plan.text, add_special_tokens=plan.add_special_tokens)["input_ids"]
        check_context(len(token_ids), request.max_tokens, loaded.max_model_len, model_name)
        deadline = started + request.timeout_s if request.timeout_s else None
        return Prepared(loaded, token_ids, started, deadline)

    async def _within(self, deadline: float | None, step: Awaitable[_T]) -> _T:
        """``step``'s result, or InferenceTimeoutError when ``deadline`` passes first."""
        if deadline is None:
            return await step
        try:
            return await asyncio.wait_for(step, max(0.0, deadline - time.perf_counter()))
        except TimeoutError:
            raise InferenceTimeoutError(
                "the local model did not finish within the request's timeout", provider=self.name
            ) from None
