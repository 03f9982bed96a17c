"""The gateway is composed at the top and never loads the language server.

In a fresh interpreter (so ``sys.modules`` holds only what this path imports),
the gateway is built exactly as ``hybrid-assist gateway serve`` builds it
(settings loaded from the config file, :func:`hybrid_assist.gateway_app.build_gateway_app`),
started (the local engine comes up) and asked for one chat completion; then
no module of ``lsp_server`` beyond the pure settings sections the root settings
model is assembled from, and nothing of tree-sitter, pygls or lsprotocol, is loaded.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.gateway.harness import gateway_env

#: Pure pydantic sections the root settings model (``hybrid_assist.settings``) is assembled from.
SETTINGS_SECTIONS = frozenset(
    {"lsp_server", "lsp_server.settings", "lsp_server.analysis", "lsp_server.analysis.settings"}
)
LANGUAGE_SERVER_LIBRARIES = ("tree_sitter", "tree_sitter_language_pack", "pygls", "lsprotocol")

SERVE_ONCE = """
import asyncio, json, sys

import httpx

from hybrid_assist.gateway_app import build_gateway_app
from hybrid_assist.settings import settings_loader


async def main() -> None:
    loaded = settings_loader().load()
    assert not loaded.problems, loaded.problems
    app = build_gateway_app(loaded.settings)
    gateway = app.state.gateway
    async with app.router.lifespan_context(app):
        await gateway.runtime.wait_local(30.0)
        key = gateway.store.add_user("alice", "default")[1]
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as client:
            body = {"model": "auto", "messages": [{"role": "user", "content": "add a and b"}]}
            answer = await client.post("/v1/chat/completions", json=body, headers={"Authorization": f"Bearer {key}"})
    print(json.dumps({"status": answer.status_code, "body": answer.json(), "modules": sorted(sys.modules)}))


asyncio.run(main())
"""


def test_building_and_serving_the_gateway_loads_no_language_server(tmp_path: Path) -> None:
    env = gateway_env(tmp_path, reply="return a + b")
    result = subprocess.run(
        [sys.executable, "-c", SERVE_ONCE],
        env=env,
        cwd=Path(__file__).resolve().parents[2],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["status"] == 200, report["body"]
    assert report["body"]["choices"][0]["message"]["content"] == "return a + b"
    modules: list[str] = report["modules"]
    assert "gateway.app" in modules and "routing.service" in modules  # the gateway really was built
    language_server = sorted(m for m in modules if m.split(".")[0] == "lsp_server" and m not in SETTINGS_SECTIONS)
    assert language_server == []
    libraries = sorted(m for m in modules if m.split(".")[0] in LANGUAGE_SERVER_LIBRARIES)
    assert libraries == []
