"""Cheap first, escalate on a checked failure: the real server's security audit against the wire servers.

``[routing.tasks.security] tiers`` defaults to ``gemini:gemini-2.5-flash``
before ``openai:gpt-4o``. Flash answering findings that parse and cite shown
lines is one call; findings citing a file that was not shown fail the check
and the next tier is asked, both calls in the ledger; a local-first answer
that fails the check asks the first cloud tier; code kept on the premises (a
secret under ``on_secret = "local_only"``) is never escalated.
"""

from __future__ import annotations

import json
import sqlite3
import time
from pathlib import Path

from lsprotocol import types
from lsprotocol.converters import get_converter
from pytest_lsp import LanguageClient

from tests.lsp.harness import command, init_params, open_doc, server_env, start_stdio
from tests.lsp.test_code_actions import resolve
from tests.tasks import recorded
from tests.wire.gemini_server import GeminiWireServer
from tests.wire.openai_server import OpenAIWireServer

KEY = "TEST_WIRE_KEY"
# a finding on a file the audit was not shown: JSON that parses, but fails the check
UNSHOWN = (
    "One issue.\n\n```json\n"
    '[{"file": "app/missing.py", "line": 3, "severity": "error", "message": "Imagined injection."}]\n```\n'
)
TOKEN = 'GITHUB = "ghp_aB3dE5fG7hJ9kL1mN3pQ5rS7tU9vW1xY3zA5"\n'


def _provider(kind: str, url: str, *models: str) -> str:
    listed = ", ".join(json.dumps(m) for m in models)
    return (
        f'[providers.{kind}]\nkind = "{kind}"\nbase_url = "{url}"\napi_key_env = "{KEY}"\nmodels = [{listed}]\n'
        f'default_model = "{models[-1]}"\nmax_retries = 0\n'
    )


def _config(tmp: Path, openai: OpenAIWireServer, gemini: GeminiWireServer, extra: str = "") -> Path:
    """Both tiers on wire servers; the security task's tiers are the defaults (not set here)."""
    config = tmp / "config.toml"
    tables = [
        f'data_dir = "{tmp / "data"}"',
        f'[local]\nbackend = "instant"\ninstant_reply = {json.dumps(UNSHOWN)}',
        f'[analysis]\nindex_cache_dir = "{tmp / "index-cache"}"',
        _provider("openai", openai.base_url, "gpt-4o"),
        _provider("gemini", gemini.base_url, "gemini-2.5-flash", "gemini-2.5-pro"),
        "[providers.anthropic]\nenabled = false",
        extra,
    ]
    config.write_text("\n".join(tables) + "\n", encoding="utf-8")
    return config


async def _audit(
    tmp: Path, config: Path, stop_later: list[LanguageClient], secret: bool = False
) -> tuple[LanguageClient, dict[str, object]]:
    root = tmp / "project"
    (root / "app").mkdir(parents=True)
    (root / "app" / "db.py").write_text(recorded.DB_PY + (TOKEN if secret else ""), encoding="utf-8")
    (root / "app" / "util.py").write_text(recorded.UTIL_PY, encoding="utf-8")
    client = await start_stdio(server_env(tmp, config, {KEY: "sk-test-not-a-real-key"}))
    stop_later.append(client)
    await client.initialize_session(init_params(root))
    result: dict[str, object] = await command(client, "hybrid.securityAudit", {"scope": "repository"})
    return client, result


def _ledger(tmp: Path, count: int) -> list[tuple[str, str, str]]:
    """(request_id, target, model) of the ledger's security rows, once ``count`` of them are written."""
    rows: list[tuple[str, str, str]] = []
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        path = tmp / "data" / "ledger.sqlite3"
        if path.exists():
            with sqlite3.connect(path) as db:
                rows = db.execute(
                    "SELECT request_id, target, model FROM ledger_requests WHERE task = 'security' ORDER BY id"
                ).fetchall()
            if len(rows) >= count:
                return rows
        time.sleep(0.1)
    return rows


async def test_a_good_cheap_answer_is_one_call(
    tmp_path: Path, openai_server: OpenAIWireServer, gemini_server: GeminiWireServer, stop_later: list[LanguageClient]
) -> None:
    gemini_server.reply(recorded.SECURITY_ANSWER)
    client, result = await _audit(tmp_path, _config(tmp_path, openai_server, gemini_server), stop_later)
    assert result["findings"] == 1 and "escalations" not in result
    route = result["route"]
    assert isinstance(route, dict) and (route["target"], route["model"]) == ("gemini", "gemini-2.5-flash")
    assert len(gemini_server.generation_requests()) == 1 and openai_server.generation_requests() == []
    assert [(t, m) for _, t, m in _ledger(tmp_path, 1)] == [("gemini", "gemini-2.5-flash")]
    # hybrid.explainRoute names the tiers
    uri = (tmp_path / "project" / "app" / "db.py").as_uri()
    position = {"line": 5, "character": 4}
    explained = await command(client, "hybrid.explainRoute", {"uri": uri, "position": position, "task": "security"})
    assert explained["route"]["tiers"] == ["gemini:gemini-2.5-flash", "openai:gpt-4o"]


async def test_invalid_cheap_findings_escalate_to_the_next_tier_and_both_are_in_the_ledger(
    tmp_path: Path, openai_server: OpenAIWireServer, gemini_server: GeminiWireServer, stop_later: list[LanguageClient]
) -> None:
    gemini_server.reply(UNSHOWN)
    openai_server.reply(recorded.SECURITY_ANSWER)
    _, result = await _audit(tmp_path, _config(tmp_path, openai_server, gemini_server), stop_later)
    assert result["findings"] == 1 and result["problems"] == []  # the premium tier's findings are published
    route = result["route"]
    assert isinstance(route, dict) and (route["target"], route["model"]) == ("openai", "gpt-4o")
    escalations = result["escalations"]
    assert isinstance(escalations, list) and len(escalations) == 1
    rejected: dict[str, str] = escalations[0]
    assert (rejected["target"], rejected["model"]) == ("gemini", "gemini-2.5-flash")
    assert "app/missing.py:3: not a file the review was shown" in rejected["problem"]
    assert len(gemini_server.generation_requests()) == 1 and len(openai_server.generation_requests()) == 1
    # the premium tier gets the same prompt (the digest is packed once)
    sent_openai = json.dumps(openai_server.generation_requests()[0].body)
    assert "def find_user" in sent_openai
    rows = _ledger(tmp_path, 2)
    assert [(t, m) for _, t, m in rows] == [("gemini", "gemini-2.5-flash"), ("openai", "gpt-4o")]
    assert rows[1][0] == f"{rows[0][0]}-tier2" == f"{rejected['request_id']}-tier2"


async def test_a_local_answer_that_fails_its_check_asks_the_first_cloud_tier(
    tmp_path: Path, openai_server: OpenAIWireServer, gemini_server: GeminiWireServer, stop_later: list[LanguageClient]
) -> None:
    local_first = '[routing.tasks.security]\nlocal_up_to = "repository"\n'  # the local engine answers UNSHOWN
    gemini_server.reply(recorded.SECURITY_ANSWER)
    _, result = await _audit(tmp_path, _config(tmp_path, openai_server, gemini_server, local_first), stop_later)
    assert result["findings"] == 1 and result["problems"] == []
    route = result["route"]
    assert isinstance(route, dict) and (route["target"], route["model"]) == ("gemini", "gemini-2.5-flash")
    escalations = result["escalations"]
    assert isinstance(escalations, list) and [e["target"] for e in escalations] == ["local"]
    assert len(gemini_server.generation_requests()) == 1 and openai_server.generation_requests() == []
    rows = _ledger(tmp_path, 2)
    assert [t for _, t, _ in rows] == ["local", "gemini"] and rows[1][0] == f"{rows[0][0]}-tier1"


async def test_code_kept_on_the_premises_never_escalates(
    tmp_path: Path, openai_server: OpenAIWireServer, gemini_server: GeminiWireServer, stop_later: list[LanguageClient]
) -> None:
    config = _config(tmp_path, openai_server, gemini_server, '[sensitive]\non_secret = "local_only"\n')
    _, result = await _audit(tmp_path, config, stop_later, secret=True)
    route = result["route"]
    assert isinstance(route, dict) and route["target"] == "local"  # the local engine's unshown finding is kept
    assert "escalations" not in result and result["problems"] == ["app/missing.py:3: not a file the review was shown"]
    assert gemini_server.generation_requests() == [] and openai_server.generation_requests() == []


async def test_a_code_action_retries_a_rejected_cheap_answer_with_the_next_tier(
    tmp_path: Path, openai_server: OpenAIWireServer, gemini_server: GeminiWireServer, stop_later: list[LanguageClient]
) -> None:
    tiers = (
        '[routing.tasks.refactor]\nlocal_up_to = "never"\ncloud = "openai:gpt-4o"\n'
        'tiers = ["gemini:gemini-2.5-flash"]\n'
    )
    config = _config(tmp_path, openai_server, gemini_server, tiers)
    root = tmp_path / "project"
    root.mkdir()
    source = "def total(a, b):\n    return add(a, b)\n"
    (root / "main.py").write_text(source, encoding="utf-8")
    client = await start_stdio(server_env(tmp_path, config, {KEY: "sk-test-not-a-real-key"}))
    stop_later.append(client)
    await client.initialize_session(init_params(root))
    uri = (root / "main.py").as_uri()
    open_doc(client, uri, source)
    gemini_server.reply("```python\ndef total(a, b):\n    return add(a, b\n```")  # does not parse
    openai_server.reply("```python\ndef total(a, b):\n    return a + b\n```")
    selection = types.Range(start=types.Position(line=1, character=4), end=types.Position(line=1, character=4))
    resolved = await resolve(client, uri, selection, "refactor the selection")
    assert resolved.edit is not None and "return a + b" in json.dumps(get_converter().unstructure(resolved.edit))
    assert len(gemini_server.generation_requests()) == 1 and len(openai_server.generation_requests()) == 1
    retry = json.dumps(openai_server.generation_requests()[0].body)
    assert "does not parse (python)" in retry  # the next tier is told why the first answer was rejected
