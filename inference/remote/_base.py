"""What every remote backend shares: request tracking, abort, one deadline, retries, TTFT.

A provider subclass supplies five hooks and keeps its SDK's quirks to itself:

- :meth:`RemoteBackend._open_client` / :meth:`RemoteBackend._close_client`
  build and release the SDK client (with the SDK's own retries switched off,
  so the loop here is the only one);
- :meth:`RemoteBackend._stream` runs one attempt and yields text pieces, then
  exactly one final chunk with ``finish_reason`` and ``usage``;
- :meth:`RemoteBackend._map_error` turns the SDK's exceptions into
  :mod:`inference.errors` (None: not an SDK error, re-raised as is);
- :meth:`RemoteBackend._probe` makes one cheap authenticated call for
  :meth:`health`.

The backends on a provider's official SDK derive from :class:`SdkBackend`,
which holds the one client: :meth:`SdkBackend._new_client` builds it (with
:meth:`SdkBackend._sdk_options`: key, base URL, timeout, the SDK's retries
off), :meth:`SdkBackend._sdk` hands it out (or says the backend is closed),
and :meth:`SdkBackend._release_client` closes it.

Everything else lives here once. Each attempt runs in its own task, so
:meth:`abort` (or closing the generator, or cancelling the caller) cancels
that task, which closes the HTTP stream: the provider sees the disconnect and
stops generating. One deadline (``request.timeout_s``, else
``settings.timeout_s``) covers the whole call, retries included. Rate limits
and unavailability are retried ``settings.max_retries`` times, honouring
``retry-after`` (:class:`RetryTiming`), and only before the first piece of
text was streamed. An aborted stream ends with a chunk whose
``finish_reason`` is ``"abort"`` and whose usage is estimated.

Usage a server did not report (no figure, or zero for a non-empty prompt or
answer) is counted here by :meth:`RemoteBackend.complete_usage` and marked
``estimated``: with the tokenizer of :meth:`RemoteBackend.count_tokens_with`
(the routing runtime hands every remote backend the local engine's, when it
has one loaded), else with :func:`inference.backend.estimate_tokens` (about
3.5 characters a token). Either counts the prompt's text, not the provider's
chat template around it, so an estimate is a little low.
"""

from __future__ import annotations

import abc
import asyncio
import logging
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar, Generic, Protocol, TypeVar, cast

from inference.backend import Backend, estimate_tokens
from inference.errors import (
    AuthenticationError,
    BadRequestError,
    InferenceError,
    InferenceTimeoutError,
    ModelNotAvailableError,
    RateLimitedError,
    UnavailableError,
)
from inference.remote._retry import RetryTiming
from inference.remote._stats import LatencyWindow
from inference.settings import ProviderSettings
from inference.types import (
    BackendHealth,
    BackendLoad,
    GenerationChunk,
    GenerationRequest,
    RequestKind,
    Usage,
)

logger = logging.getLogger(__name__)

#: The SDK's own timeout is the remaining deadline plus this, so the deadline here fires first.
_SDK_TIMEOUT_MARGIN_S = 0.5
#: Longest a health probe may take.
_PROBE_TIMEOUT_S = 10.0

_QueueItem = GenerationChunk | BaseException
_Client = TypeVar("_Client")


class _Closable(Protocol):
    async def close(self) -> None: ...


@dataclass(eq=False)
class _Running:
    """One request in flight (internal, mutable)."""

    request: GenerationRequest
    queue: asyncio.Queue[_QueueItem] = field(default_factory=asyncio.Queue)
    emitted: list[str] = field(default_factory=list)
    producer: asyncio.Task[None] | None = None
    aborted: bool = False


class RemoteBackend(Backend, abc.ABC):
    """A backend that calls a model over HTTP; see the module docstring for the contract."""

    #: False for servers that may run without a key (OpenAI-compatible vLLM).
    requires_api_key: ClassVar[bool] = True

    def __init__(self, name: str, settings: ProviderSettings, *, retry_timing: RetryTiming | None = None) -> None:
        self.name = name
        self.is_local = settings.local
        self.settings = settings
        self.retry_timing = retry_timing or RetryTiming()
        self._running: dict[str, _Running] = {}
        self._ttft = LatencyWindow()
        self._client_open = False
        self._tokenizer_of: Backend | None = None

    # ------------------------------------------------------------ hooks
    @abc.abstractmethod
    def _open_client(self, api_key: str | None) -> None:
        """Build the SDK client (no network I/O)."""

    @abc.abstractmethod
    async def _close_client(self) -> None:
        """Release the SDK client."""

    @abc.abstractmethod
    def _stream(self, request: GenerationRequest, model: str, timeout_s: float) -> AsyncIterator[GenerationChunk]:
        """One attempt: text pieces, then one chunk with ``finish_reason`` and ``usage``."""

    @abc.abstractmethod
    def _map_error(self, exc: Exception) -> InferenceError | None:
        """The :mod:`inference.errors` equivalent of an SDK exception; None if not one."""

    @abc.abstractmethod
    async def _probe(self, model: str, timeout_s: float) -> None:
        """One cheap authenticated request; raises on failure."""

    def endpoint_label(self) -> str:
        """Where requests go, for messages (never includes a key)."""
        return self.settings.base_url or "the provider's default endpoint"

    # -------------------------------------------------------- lifecycle
    async def start(self) -> None:
        if self._missing_key() is None:
            self._ensure_client()

    async def close(self) -> None:
        for request_id in list(self._running):
            await self.abort(request_id)
        if self._client_open:
            self._client_open = False
            await self._close_client()

    def _ensure_client(self) -> None:
        """Open the client on first use; no key -> AuthenticationError, without any network call."""
        if self._client_open:
            return
        missing = self._missing_key()
        if missing is not None:
            detail, remedy = missing
            raise AuthenticationError(f"{self.name}: {detail}; {remedy}", provider=self.name)
        self._open_client(self.settings.api_key())
        self._client_open = True

    def _missing_key(self) -> tuple[str, str] | None:
        """(detail, remedy) when a required API key is absent."""
        if not self.requires_api_key or self.settings.api_key() is not None:
            return None
        env, path = self.settings.api_key_env, self.settings.api_key_file
        table = f"[providers.{self.name}]"
        if env and path:
            return f"{env} is not set and {path} holds no key", f"export {env}=<your key> or write it to {path}"
        if env:
            return f"{env} is not set", f"export {env}=<your key> (or set api_key_file in {table})"
        if path:
            return f"{path} holds no key", f"write the API key to {path}"
        return f"no API key is configured for {self.name}", f"set api_key_env or api_key_file in {table}"

    # ------------------------------------------------------- interface
    def default_model(self) -> str:
        return self.settings.model_or_default()

    def load(self) -> BackendLoad:
        return BackendLoad(queued=0, running=len(self._running), recent_ttft_ms=self._ttft.median())

    async def generate(self, request: GenerationRequest) -> AsyncGenerator[GenerationChunk, None]:
        self._ensure_client()
        if request.request_id in self._running:
            raise BadRequestError(
                f"{self.name}: request id {request.request_id!r} is already running", provider=self.name
            )
        model = await self._resolve_model(request)
        timeout_s = request.timeout_s or self.settings.timeout_s
        loop = asyncio.get_running_loop()
        started = loop.time()
        deadline = started + timeout_s
        running = _Running(request)
        self._running[request.request_id] = running
        running.producer = loop.create_task(
            self._produce(running, model, deadline), name=f"{self.name}:{request.request_id}"
        )
        logger.debug("%s: request %s to model %s", self.name, request.request_id, model)
        waiting_for_first = True
        try:
            while True:
                try:
                    async with asyncio.timeout_at(deadline):
                        item = await running.queue.get()
                except TimeoutError:
                    raise InferenceTimeoutError(
                        f"{self.name}: no complete answer within {timeout_s:g} s", provider=self.name
                    ) from None
                if isinstance(item, BaseException):
                    raise item
                if item.text and waiting_for_first:
                    waiting_for_first = False
                    self._ttft.add((loop.time() - started) * 1000.0)
                yield item
                if item.finish_reason is not None:
                    return
        finally:
            if self._running.get(request.request_id) is running:
                del self._running[request.request_id]
            await _cancel_and_wait(running.producer)

    async def abort(self, request_id: str) -> None:
        running = self._running.get(request_id)
        if running is None or running.aborted:
            return
        running.aborted = True
        await _cancel_and_wait(running.producer)
        usage = self._estimate_usage(running.request, "".join(running.emitted))
        running.queue.put_nowait(GenerationChunk("", finish_reason="abort", usage=usage))
        logger.debug("%s: aborted request %s", self.name, request_id)

    async def health(self) -> BackendHealth:
        missing = self._missing_key()
        if missing is not None:
            return BackendHealth(ok=False, detail=missing[0], remedy=missing[1])
        self._ensure_client()
        model = self.default_model()
        timeout_s = min(_PROBE_TIMEOUT_S, self.settings.timeout_s)
        try:
            async with asyncio.timeout(timeout_s):
                await self._probe(model, timeout_s)
        except TimeoutError:
            timed_out = InferenceTimeoutError(f"{self.name}: no answer within {timeout_s:g} s", provider=self.name)
            return BackendHealth(ok=False, detail=timed_out.message, remedy=self._remedy(timed_out))
        except Exception as exc:
            error = self.as_inference_error(exc)
            if error is None:
                raise
            return BackendHealth(ok=False, detail=error.message, remedy=self._remedy(error))
        models = tuple(self.settings.models) or ((model,) if model else ())
        return BackendHealth(ok=True, detail=f"{self.name}: reachable at {self.endpoint_label()}", models=models)

    def _remedy(self, error: InferenceError) -> str:
        table = f"[providers.{self.name}]"
        if isinstance(error, AuthenticationError):
            source = self.settings.api_key_env or self.settings.api_key_file or "the configured key"
            return f"the provider rejected the key: check {source}"
        if isinstance(error, RateLimitedError):
            return "the provider is rate limiting this key; wait or raise its limits"
        if isinstance(error, (UnavailableError, InferenceTimeoutError)):
            return f"check the network and base_url in {table} ({self.endpoint_label()})"
        return f"check default_model and models in {table}"

    # --------------------------------------------------------- internals
    async def _resolve_model(self, request: GenerationRequest) -> str:
        """The model to call; subclasses may ask the server when none is configured."""
        model = self.settings.model_or_default(request.model)
        if not model:
            raise BadRequestError(
                f"{self.name}: no model given and no default_model in [providers.{self.name}]",
                provider=self.name,
            )
        return model

    def as_inference_error(self, exc: BaseException) -> InferenceError | None:
        """``exc`` itself if it is an InferenceError, else its mapping (cause kept)."""
        if isinstance(exc, InferenceError):
            return exc
        if not isinstance(exc, Exception):
            return None
        mapped = self._map_error(exc)
        if mapped is not None:
            mapped.__cause__ = exc
        return mapped

    def _max_retries(self) -> int:
        return self.settings.max_retries

    def _retry_delay(self, error: InferenceError, retries_done: int, remaining_s: float) -> float | None:
        """Seconds to wait before the next attempt after ``error``; None to give up."""
        if retries_done >= self._max_retries():
            return None
        if isinstance(error, ModelNotAvailableError):
            return None
        if not isinstance(error, (RateLimitedError, UnavailableError)):
            return None
        retry_after = error.retry_after if isinstance(error, RateLimitedError) else None
        return self.retry_timing.delay(retries_done, retry_after, remaining_s)

    async def _produce(self, running: _Running, model: str, deadline: float) -> None:
        """Run attempts until one finishes or fails for good; results go to ``running.queue``."""
        loop = asyncio.get_running_loop()
        retries = 0
        while True:
            streamed = False
            finished = False
            try:
                timeout_s = max(0.0, deadline - loop.time()) + _SDK_TIMEOUT_MARGIN_S
                async for chunk in self._stream(running.request, model, timeout_s):
                    if chunk.text:
                        streamed = True
                        running.emitted.append(chunk.text)
                    finished = finished or chunk.finish_reason is not None
                    running.queue.put_nowait(chunk)
                if not finished:
                    raise UnavailableError(
                        f"{self.name}: the stream ended before the answer was complete",
                        provider=self.name,
                    )
                return
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                error = self.as_inference_error(exc)
                if error is None:
                    running.queue.put_nowait(exc)
                    return
                delay = None if streamed else self._retry_delay(error, retries, deadline - loop.time())
                if delay is None:
                    running.queue.put_nowait(error)
                    return
                retries += 1
                logger.info(
                    "%s: %s (%s); retry %d in %.3f s",
                    self.name,
                    type(error).__name__,
                    error.status,
                    retries,
                    delay,
                )
                await asyncio.sleep(delay)

    def count_tokens_with(self, backend: Backend | None) -> None:
        """Count unreported usage with ``backend``'s tokenizer (asked at each estimate: it may load late)."""
        self._tokenizer_of = backend

    def _counter(self) -> Callable[[str], int]:
        counter = self._tokenizer_of.token_counter() if self._tokenizer_of is not None else None
        return counter if counter is not None else estimate_tokens

    def _estimate_usage(self, request: GenerationRequest, completion: str) -> Usage:
        """Usage when the provider reported none: counted here, marked ``estimated``."""
        return self.complete_usage(None, request, completion)

    def complete_usage(self, reported: Usage | None, request: GenerationRequest, completion: str) -> Usage:
        """``reported`` with what the server left out counted here (then ``estimated`` is set).

        A prompt is never empty, so a prompt count of zero means "not reported";
        an output count of zero with text streamed likewise.
        """
        reported = reported or Usage()
        prompt, output, estimated = reported.prompt_tokens, reported.completion_tokens, reported.estimated
        if prompt <= 0:
            prompt, estimated = self._counter()(prompt_text(request)), True
        if output <= 0 and completion:
            output, estimated = self._counter()(completion), True
        cached = min(reported.cached_tokens, prompt)
        return Usage(prompt, cached, output, estimated, min(reported.cache_write_tokens, prompt - cached))


def prompt_text(request: GenerationRequest) -> str:
    """All prompt text of ``request`` (for estimates only)."""
    if request.kind is RequestKind.FIM:
        return request.prefix + request.suffix
    return "\n".join(message.content for message in request.messages)


class SdkBackend(RemoteBackend, Generic[_Client]):
    """A remote backend on its provider's official SDK: one client, built on first use, closed by :meth:`close`."""

    #: Where requests go without a ``base_url`` (for messages).
    default_endpoint: ClassVar[str] = ""
    _client: _Client | None = None

    @abc.abstractmethod
    def _new_client(self, api_key: str | None) -> _Client:
        """The SDK client (no network I/O; the SDK's own retries off)."""

    async def _release_client(self, client: _Client) -> None:
        """Close ``client``'s connections (the SDKs' ``close()`` by default)."""
        await cast(_Closable, client).close()

    def _sdk_options(self, api_key: str | None) -> dict[str, Any]:
        """The client options the SDKs share: the key, ``base_url``, ``timeout_s`` and no retries of their own."""
        return {
            "api_key": api_key,
            "base_url": self.settings.base_url or None,
            "timeout": self.settings.timeout_s,
            "max_retries": 0,
        }

    def _open_client(self, api_key: str | None) -> None:
        self._client = self._new_client(api_key)

    async def _close_client(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            await self._release_client(client)

    def _sdk(self) -> _Client:
        """The open client; UnavailableError once the backend is closed."""
        if self._client is None:
            raise UnavailableError(f"{self.name}: the backend is closed", provider=self.name)
        return self._client

    def endpoint_label(self) -> str:
        return self.settings.base_url or self.default_endpoint or super().endpoint_label()


async def _cancel_and_wait(task: asyncio.Task[None] | None) -> None:
    """Cancel ``task`` and wait until it has cleaned up (closed its HTTP stream)."""
    if task is None or task.done():
        return
    task.cancel()
    await asyncio.wait({task})
