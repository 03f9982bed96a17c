"""``GenerationRequest.top_p`` and ``.seed`` on the wire of the OpenAI-compatible backend (a vLLM server's protocol)."""

from __future__ import annotations

from inference.backend import collect
from inference.types import ChatMessage, GenerationRequest
from tests.inference.test_openai_compatible_backend import make_backend
from tests.wire.openai_server import OpenAIWireServer


async def test_top_p_and_seed_are_sent_only_when_set(openai_server: OpenAIWireServer) -> None:
    backend = make_backend(openai_server.base_url)
    ask = [ChatMessage("user", "add two numbers")]
    await collect(backend, GenerationRequest.chat("s1", ask, top_p=0.25, seed=11))
    await collect(backend, GenerationRequest.chat("s2", ask))
    await backend.close()
    seeded, plain = (r.body for r in openai_server.generation_requests())
    assert (seeded["top_p"], seeded["seed"]) == (0.25, 11)
    assert "top_p" not in plain and "seed" not in plain
