"""The language server and the gateway prepare the same route for the same request (``routing.prepare``).

The language server prepares a request embedded (``Assistant``); its wire body
(what gateway mode sends to ``/v1/assist``, without the client's own
sensitivity verdict) is then prepared by the gateway, over the same settings
and engines: the routing inputs, the sensitivity reasons, the decision and
the secrets to redact must be the same. Under ``[sensitive] on_secret =
"local_only"`` both keep the request local *and* keep the kinds found, so
anything that still left would be redacted (the stricter of the two former
copies; the gateway used to drop them).
"""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from gateway.auth import Principal
from gateway.calls import parse_assist, prepare
from hybrid_assist.config import ConfigLayer, validate_layers
from hybrid_assist.language_server import build_assistant
from hybrid_assist.settings import HybridSettings
from lsp_server.analysis.documents import Document
from lsp_server.analysis.paths import path_to_uri
from lsp_server.gateway_mode import request_body
from lsp_server.requests import AssistRequest
from lsp_server.session import Session
from routing.tasks import TaskKind
from tests.gateway.conftest import MakeGateway
from tests.gateway.harness import OPENAI_KEY_ENV
from tests.wire.openai_server import OpenAIWireServer

PLAIN = "def area(w, h):\n    return w * h\n"
SECRET = 'TOKEN = "ghp_aB3dE5fG7hJ9kL1mN3pQ5rS7tU9vW1xY3zA5"\n\n\ndef area(w, h):\n    return w * h\n'


@pytest.mark.parametrize("on_secret", ["redact", "local_only"])
async def test_the_language_server_and_the_gateway_prepare_the_same_route(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    make_gateway: MakeGateway,
    openai_server: OpenAIWireServer,
    on_secret: str,
) -> None:
    monkeypatch.setenv(OPENAI_KEY_ENV, "sk-test-not-a-real-key")
    extra = f'[sensitive]\non_secret = "{on_secret}"\n'
    async with make_gateway(extra, openai_url=openai_server.base_url) as g:
        config = tomllib.loads((tmp_path / "gateway.toml").read_text(encoding="utf-8"))
        settings = validate_layers(HybridSettings, [ConfigLayer("test", config)]).settings
        assistant = build_assistant(settings)
        await assistant.runtime.wait_local(10.0)
        root = tmp_path / "project"
        session = Session(settings=settings, roots=[root])
        principal = Principal(settings.user, settings.team, False)
        try:
            seen = []
            for name, text in (("app/shapes.py", PLAIN), ("app/config.py", SECRET), ("secrets/keys.py", PLAIN)):
                doc = Document(path_to_uri(root / name), text, "python")
                request = AssistRequest(TaskKind.SECURITY, doc.uri, 0)  # the policy sends it to the cloud
                lsp = assistant._prepare(session, doc, request)
                call = assistant._call(session, doc, request, lsp)
                body = request_body(call)
                body["sensitive_reasons"] = []  # the gateway finds them itself
                gateway = prepare(g.gateway, principal, parse_assist(body, with_generation=True)).call
                assert gateway.route_input == lsp.route_input, name
                assert gateway.decision == lsp.explanation.decision, name
                assert gateway.secrets == lsp.secrets, name
                seen.append((lsp.explanation.decision.target, lsp.secrets, lsp.route_input.sensitive))
        finally:
            await assistant.close()
    assert seen[0] == ("openai", (), False)  # plain code: the cloud, as the policy says
    kept_local = on_secret == "local_only"
    assert seen[1] == ("local" if kept_local else "openai", ("token",), kept_local)  # redacted or kept local
    assert seen[2] == ("local", (), True)  # a sensitive path stays on the premises
