"""In-process gateway fixtures: the Starlette app over httpx's ASGI transport, lifespan included."""

from __future__ import annotations

import tomllib
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from starlette.applications import Starlette

from gateway.state import Gateway
from hybrid_assist.config import ConfigLayer, validate_layers
from hybrid_assist.gateway_app import build_gateway_app
from hybrid_assist.settings import HybridSettings
from tests.gateway.harness import gateway_config


@dataclass
class InProcess:
    client: httpx.AsyncClient
    gateway: Gateway
    app: Starlette

    def key(self, name: str, *, team: str = "default", admin: bool = False) -> str:
        return self.gateway.store.add_user(name, team, admin=admin)[1]


MakeGateway = Callable[..., AbstractAsyncContextManager[InProcess]]


@pytest.fixture
def make_gateway(tmp_path: Path) -> MakeGateway:
    @asynccontextmanager
    async def make(extra: str = "", *, home: Path | None = None, **options: object) -> AsyncIterator[InProcess]:
        # home: the folder of this gateway's config and data_dir (another one per replica); default tmp_path
        config = gateway_config(home or tmp_path, extra, **options)  # type: ignore[arg-type]
        loaded = validate_layers(HybridSettings, [ConfigLayer("test config", tomllib.loads(config.read_text()))])
        assert not loaded.problems, loaded.problems
        settings = loaded.settings
        app = build_gateway_app(settings)
        gateway = app.state.gateway
        async with app.router.lifespan_context(app):
            await gateway.runtime.wait_local(10.0)
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as client:
                yield InProcess(client, gateway, app)

    return make
