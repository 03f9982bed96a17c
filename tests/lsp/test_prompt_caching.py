"""Provider prompt caching on the wire: the real server's repository commands against the wire servers.

Two commands on one repository (``hybrid.review`` then ``hybrid.securityAudit``)
send the same bytes up to their task's instruction; Anthropic gets a
``cache_control`` breakpoint at the end of that prefix with the lifetime of
``[providers.anthropic] prompt_cache``; OpenAI gets one ``prompt_cache_key``
for both; cache writes and reads are charged at the published prices
(``routing.pricing.PUBLISHED_PRICES``).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from pytest_lsp import LanguageClient

from inference.remote import AnthropicBackend, OpenAIBackend
from inference.settings import ProviderSettings
from inference.types import ChatMessage, GenerationRequest
from lsp_server.tasks.prompts import TASK_INSTRUCTIONS
from routing.pricing import PUBLISHED_PRICES
from routing.tasks import TaskKind
from tests.lsp.harness import command, init_params, server_env, start_stdio
from tests.tasks import recorded
from tests.wire.anthropic_server import AnthropicWireServer
from tests.wire.base import Reply
from tests.wire.gemini_server import GeminiWireServer
from tests.wire.openai_server import OpenAIWireServer

NO_FINDINGS = "Nothing to report.\n\n```json\n[]\n```\n"
KEY = "TEST_WIRE_KEY"


@pytest_asyncio.fixture
async def stop_later() -> AsyncIterator[list[LanguageClient]]:
    clients: list[LanguageClient] = []
    yield clients
    for client in clients:
        await client.shutdown_session()
        await client.stop()  # type: ignore[no-untyped-call]


def _big_repo(root: Path) -> Path:
    """A small repository with a module long enough (> 1,024 tokens) for a cacheable prefix."""
    (root / "app").mkdir(parents=True)
    (root / "app" / "db.py").write_text(recorded.DB_PY, encoding="utf-8")
    (root / "app" / "util.py").write_text(recorded.UTIL_PY, encoding="utf-8")
    functions = "\n\n".join(
        f"def handler_{n}(request, limit={n}):\n    items = [x for x in request.items if x.size < limit]\n"
        f"    return sorted(items, key=lambda x: (x.priority, x.name))[:{n}]\n"
        for n in range(60)
    )
    (root / "app" / "handlers.py").write_text(functions, encoding="utf-8")
    return root


def _providers(kind: str, base_url: str, model: str, extra: str = "") -> str:
    others = "\n".join(f"[providers.{p}]\nenabled = false" for p in ("openai", "anthropic", "gemini") if p != kind)
    tasks = "".join(
        f'\n[routing.tasks.{t}]\nlocal_up_to = "never"\ncloud = "{kind}:{model}"\nmax_output_tokens = 800\n'
        for t in ("review", "security")
    )
    return (
        f'[providers.{kind}]\nkind = "{kind}"\nbase_url = "{base_url}"\napi_key_env = "{KEY}"\n'
        f'models = ["{model}"]\ndefault_model = "{model}"\nmax_retries = 0\n{extra}\n{others}\n{tasks}'
    )


def _config(tmp: Path, providers: str) -> Path:
    config = tmp / "config.toml"
    config.write_text(
        f'data_dir = "{tmp / "data"}"\n[local]\nbackend = "instant"\n'
        f'[analysis]\nindex_cache_dir = "{tmp / "index-cache"}"\n{providers}',
        encoding="utf-8",
    )
    return config


async def _two_commands(tmp_path: Path, providers: str, stop_later: list[LanguageClient]) -> list[dict[str, object]]:
    root = _big_repo(tmp_path / "project")
    client = await start_stdio(server_env(tmp_path, _config(tmp_path, providers), {KEY: "sk-test-not-a-real-key"}))
    stop_later.append(client)
    await client.initialize_session(init_params(root, "visual-studio-code"))
    review = await command(client, "hybrid.review")
    security = await command(client, "hybrid.securityAudit")
    assert "error" not in review and "error" not in security, (review, security)
    return [review, security]


def _split_at_instruction(text: str, task: TaskKind) -> tuple[str, str]:
    at = text.index(TASK_INSTRUCTIONS[task])
    return text[:at], text[at:]


async def test_anthropic_gets_one_breakpoint_on_the_shared_prefix_and_charges_writes_and_reads(
    tmp_path: Path,
    anthropic_server: AnthropicWireServer,
    stop_later: list[LanguageClient],
) -> None:
    anthropic_server.reply(NO_FINDINGS, prompt_tokens=5000, cache_write_tokens=4000, completion_tokens=100)
    anthropic_server.reply(NO_FINDINGS, prompt_tokens=5100, cached_tokens=4000, completion_tokens=100)
    model = "claude-sonnet-4-6"
    providers = _providers("anthropic", anthropic_server.base_url, model, 'prompt_cache = "1h"')
    review, security = await _two_commands(tmp_path, providers, stop_later)

    first, second = (r.body for r in anthropic_server.generation_requests())
    assert first["system"] == second["system"]
    blocks = [body["messages"][0]["content"] for body in (first, second)]
    assert [len(b) for b in blocks] == [2, 2]
    # byte-identical up to the instruction, which is the only difference
    assert blocks[0][0] == blocks[1][0]
    assert blocks[0][0]["cache_control"] == {"type": "ephemeral", "ttl": "1h"}
    assert "cache_control" not in blocks[0][1] and "cache_control" not in blocks[1][1]
    assert blocks[0][0]["text"].rstrip().endswith("```") and "handler_59" in blocks[0][0]["text"]
    assert blocks[0][1]["text"].startswith(TASK_INSTRUCTIONS[TaskKind.REVIEW])
    assert blocks[1][1]["text"].startswith(TASK_INSTRUCTIONS[TaskKind.SECURITY])

    price = PUBLISHED_PRICES[model]
    write = (1000 * price.input + 4000 * price.cache_write_1h + 100 * price.output) / 1e6
    read = (1100 * price.input + 4000 * price.cached_input + 100 * price.output) / 1e6
    assert review["route"]["cost_usd"] == pytest.approx(write, abs=1e-6)  # type: ignore[index]
    assert security["route"]["cost_usd"] == pytest.approx(read, abs=1e-6)  # type: ignore[index]
    assert price.cache_write_1h == 2 * price.input and price.cached_input == pytest.approx(0.1 * price.input)


async def test_anthropic_leaves_a_prefix_below_the_model_minimum_unmarked(
    tmp_path: Path,
    anthropic_server: AnthropicWireServer,
    stop_later: list[LanguageClient],
) -> None:
    anthropic_server.default_reply = Reply(NO_FINDINGS)
    # claude-haiku-4-5 caches only prefixes of 4,096 tokens or more: this digest is shorter
    providers = _providers("anthropic", anthropic_server.base_url, "claude-haiku-4-5")
    await _two_commands(tmp_path, providers, stop_later)
    for request in anthropic_server.generation_requests():
        assert "cache_control" not in json.dumps(request.body)


async def test_openai_gets_one_prompt_cache_key_and_identical_prefixes(
    tmp_path: Path,
    openai_server: OpenAIWireServer,
    stop_later: list[LanguageClient],
) -> None:
    openai_server.reply(NO_FINDINGS, prompt_tokens=3000, completion_tokens=50)
    openai_server.reply(NO_FINDINGS, prompt_tokens=3000, cached_tokens=2048, completion_tokens=50)
    _, security = await _two_commands(tmp_path, _providers("openai", openai_server.base_url, "gpt-4o"), stop_later)
    first, second = (r.body for r in openai_server.generation_requests())
    assert first["prompt_cache_key"] == second["prompt_cache_key"] and len(first["prompt_cache_key"]) == 32
    assert first["messages"][0] == second["messages"][0]  # the system prompt
    head_a, tail_a = _split_at_instruction(first["messages"][1]["content"], TaskKind.REVIEW)
    head_b, tail_b = _split_at_instruction(second["messages"][1]["content"], TaskKind.SECURITY)
    assert head_a == head_b and "handler_59" in head_a
    assert tail_a != tail_b
    price = PUBLISHED_PRICES["gpt-4o"]
    assert security["route"]["cost_usd"] == pytest.approx(  # type: ignore[index]
        (952 * price.input + 2048 * price.cached_input + 50 * price.output) / 1e6, abs=1e-6
    )


async def test_gemini_gets_the_same_stable_prefix(
    tmp_path: Path,
    gemini_server: GeminiWireServer,
    stop_later: list[LanguageClient],
) -> None:
    gemini_server.default_reply = Reply(NO_FINDINGS)
    providers = _providers("gemini", gemini_server.base_url, "gemini-2.5-flash")
    await _two_commands(tmp_path, providers, stop_later)
    first, second = (r.body for r in gemini_server.generation_requests())
    assert first["systemInstruction"] == second["systemInstruction"]
    head_a, _ = _split_at_instruction(first["contents"][0]["parts"][0]["text"], TaskKind.REVIEW)
    head_b, _ = _split_at_instruction(second["contents"][0]["parts"][0]["text"], TaskKind.SECURITY)
    assert head_a == head_b and "handler_59" in head_a


def _long_request(cache_key: str = "") -> GenerationRequest:
    stable = "```python\n" + "x = 1\n" * 1_500 + "```\n\n"
    messages = [ChatMessage("system", "s"), ChatMessage("user", stable + "Explain it.")]
    return GenerationRequest.chat("r", messages, stable_chars=len(stable), cache_key=cache_key, max_tokens=20)


async def _send(backend: AnthropicBackend | OpenAIBackend, request: GenerationRequest) -> None:
    async for _ in backend.generate(request):
        pass


@pytest.mark.parametrize("setting", ["off", "5m"])
async def test_the_prompt_cache_setting_turns_breakpoints_and_keys_off(
    setting: str,
    anthropic_server: AnthropicWireServer,
    openai_server: OpenAIWireServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(KEY, "sk-test-not-a-real-key")
    common = {"api_key_env": KEY, "prompt_cache": setting, "max_retries": 0}
    anthropic = AnthropicBackend(
        "anthropic",
        ProviderSettings.model_validate(
            {"kind": "anthropic", "base_url": anthropic_server.base_url, "models": ["claude-sonnet-4-6"], **common}
        ),
    )
    openai = OpenAIBackend(
        "openai",
        ProviderSettings.model_validate(
            {"kind": "openai", "base_url": openai_server.base_url, "models": ["gpt-4o"], **common}
        ),
    )
    for backend in (anthropic, openai):
        await backend.start()
        try:
            await _send(backend, _long_request("k1"))
        finally:
            await backend.close()
    sent_anthropic = json.dumps(anthropic_server.generation_requests()[-1].body)
    sent_openai = openai_server.generation_requests()[-1].body
    if setting == "off":
        assert "cache_control" not in sent_anthropic and "prompt_cache_key" not in sent_openai
    else:
        assert '"cache_control": {"type": "ephemeral", "ttl": "5m"}' in sent_anthropic
        assert sent_openai["prompt_cache_key"] == "k1"
