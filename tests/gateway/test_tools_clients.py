"""Outside agent clients from the package registries get tool calls back from a real gateway process.

Each client runs in a venv of its own, made by the project's scripts:
langchain-openai (``scripts/clients-venv.sh``, ``bench/.venv-clients``) —
``bind_tools`` in a two-turn loop, whole and streamed, ``with_structured_output``
by JSON schema and by function calling; LiteLLM's SDK (``scripts/litellm-venv.sh``,
``bench/.venv-litellm``) — ``openai/`` models through ``/v1/chat/completions``
and ``anthropic/`` models through ``/v1/messages``, each a two-turn tool loop.
The gateway's local engine is the instant engine, which answers a request
offering tools with a call of the first tool (arguments made from its
schema) and, after the tool's result, its reply; a JSON-schema
``response_format`` with a value made from the schema.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.gateway.harness import gateway_env, gateway_process
from tests.litellm_proxy import litellm_binary

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
REPLY = "It is sunny."


def clients_python() -> Path:
    """The clients venv's python, made on first use; fails the test when it cannot be installed."""
    script = ROOT / "scripts" / "clients-venv.sh"
    done = subprocess.run(["bash", str(script)], cwd=ROOT, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        pytest.fail(f"the clients venv could not be installed by {script.name}: {done.stderr.strip()[-500:]}")
    venv = Path(done.stdout.strip().splitlines()[-1])
    return (venv if venv.is_absolute() else ROOT / venv) / "bin" / "python"


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    tmp = tmp_path_factory.mktemp("tools-clients")
    with gateway_process(gateway_env(tmp, reply=REPLY), tmp) as (server, key):
        yield server.url, key


def run_client(python: Path, script: str, gateway: tuple[str, str]) -> dict[str, object]:
    """Run ``script`` with the gateway's URL and key; it prints one JSON object, returned here."""
    env = {**os.environ, "LITELLM_LOCAL_MODEL_COST_MAP": "True"}
    done = subprocess.run(
        [str(python), "-c", script, *gateway], capture_output=True, text=True, timeout=300, env=env, check=False
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


_LANGCHAIN = """
import json, sys
from pydantic import BaseModel
from langchain_core.messages import HumanMessage, ToolMessage
from langchain_openai import ChatOpenAI

base, key = sys.argv[1], sys.argv[2]
llm = ChatOpenAI(model="auto", base_url=base + "/v1", api_key=key, max_retries=0, timeout=30)

def get_weather(city: str) -> str:
    '''The weather in a city.'''
    return "sunny"

class Weather(BaseModel):
    city: str
    degrees: int

calls = lambda message: [{"name": c["name"], "args": c["args"]} for c in message.tool_calls]
bound = llm.bind_tools([get_weather])
ask = HumanMessage("What is the weather in Paris?")
first = bound.invoke([ask])
second = bound.invoke([ask, first, ToolMessage("sunny", tool_call_id=first.tool_calls[0]["id"])])
streamed = None
for chunk in bound.stream([ask]):
    streamed = chunk if streamed is None else streamed + chunk
print(json.dumps({
    "first": calls(first),
    "second": second.content,
    "streamed": calls(streamed),
    "json_schema": llm.with_structured_output(Weather).invoke("Weather in Paris?").model_dump(),
    "function_calling": llm.with_structured_output(Weather, method="function_calling").invoke("Paris?").model_dump(),
}))
"""


def test_langchain_openai_bind_tools_and_structured_output(gateway: tuple[str, str]) -> None:
    result = run_client(clients_python(), _LANGCHAIN, gateway)
    assert result["first"] == [{"name": "get_weather", "args": {"city": "instant"}}]
    assert result["second"] == REPLY
    assert result["streamed"] == [{"name": "get_weather", "args": {"city": "instant"}}]
    assert result["json_schema"] == {"city": "instant", "degrees": 1}
    assert result["function_calling"] == {"city": "instant", "degrees": 1}


_LITELLM = """
import json, sys
import litellm

base, key = sys.argv[1], sys.argv[2]
schema = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}
tools = [{"type": "function", "function": {"name": "get_weather", "description": "Weather", "parameters": schema}}]
ask = [{"role": "user", "content": "What is the weather in Paris?"}]
out = {}
for prefix, api_base in (("openai", base + "/v1"), ("anthropic", base)):
    kw = dict(model=prefix + "/auto", api_base=api_base, api_key=key, tools=tools, max_tokens=64)
    first = litellm.completion(messages=ask, **kw)
    calls = first.choices[0].message.tool_calls
    asked = [{"id": c.id, "type": "function", "function": {"name": c.function.name, "arguments": c.function.arguments}}
             for c in calls]
    history = ask + [{"role": "assistant", "content": None, "tool_calls": asked},
                     {"role": "tool", "tool_call_id": calls[0].id, "content": "sunny"}]
    second = litellm.completion(messages=history, **kw)
    streamed = litellm.stream_chunk_builder(list(litellm.completion(messages=ask, stream=True, **kw)))
    pairs = lambda found: [[c.function.name, json.loads(c.function.arguments)] for c in found]
    out[prefix] = {
        "finish": first.choices[0].finish_reason,
        "calls": pairs(calls),
        "second": second.choices[0].message.content,
        "streamed": pairs(streamed.choices[0].message.tool_calls),
    }
print(json.dumps(out))
"""


def test_litellm_openai_and_anthropic_prefixes_get_tool_calls(gateway: tuple[str, str]) -> None:
    result = run_client(litellm_binary().parent / "python", _LITELLM, gateway)
    for prefix in ("openai", "anthropic"):
        assert result[prefix] == {
            "finish": "tool_calls",
            "calls": [["get_weather", {"city": "instant"}]],
            "second": REPLY,
            "streamed": [["get_weather", {"city": "instant"}]],
        }, prefix
