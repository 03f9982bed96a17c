"""Answer reuse through the real server: an unchanged security audit is answered from the stored result.

The second run of ``hybrid.securityAudit`` on unchanged code makes no model
call, costs nothing and says ``cached`` (result, route, footer), and its
findings are published again; changing an included file, or the instruction,
asks the model again. The store is bounded and under the data directory.
"""

from __future__ import annotations

import json
import sqlite3
import time
from pathlib import Path

from pytest_lsp import LanguageClient

from lsp_server.tasks.answer_store import AnswerStore, StoredAnswer
from tests.lsp.harness import cloud_providers, command, init_params, server_env, start_stdio, write_config
from tests.tasks import recorded
from tests.wire.openai_server import OpenAIWireServer

KEY = "TEST_WIRE_KEY"


def _config(tmp: Path, openai: OpenAIWireServer) -> Path:
    provider = (
        f'[providers.openai]\nkind = "openai"\nbase_url = "{openai.base_url}"\napi_key_env = "{KEY}"\n'
        'models = ["gpt-4o"]\ndefault_model = "gpt-4o"\nmax_retries = 0\n'
    )
    config = write_config(tmp, '[routing.tasks.security]\nlocal_up_to = "never"\ncloud = "openai:gpt-4o"\n')
    text = config.read_text(encoding="utf-8").replace(cloud_providers(), cloud_providers(provider))
    config.write_text(text, encoding="utf-8")
    return config


async def test_an_unchanged_audit_is_answered_from_the_stored_result(
    tmp_path: Path, openai_server: OpenAIWireServer, stop_later: list[LanguageClient]
) -> None:
    root = tmp_path / "project"
    (root / "app").mkdir(parents=True)
    (root / "app" / "db.py").write_text(recorded.DB_PY, encoding="utf-8")
    (root / "app" / "util.py").write_text(recorded.UTIL_PY, encoding="utf-8")
    for _ in range(3):
        openai_server.reply(recorded.SECURITY_ANSWER)
    client = await start_stdio(server_env(tmp_path, _config(tmp_path, openai_server), {KEY: "sk-test-not-a-real-key"}))
    stop_later.append(client)
    await client.initialize_session(init_params(root))
    db = (root / "app" / "db.py").as_uri()

    first = await command(client, "hybrid.securityAudit", {"scope": "repository"})
    assert first["findings"] == 1 and "cached" not in first and first["route"]["cached"] is False
    assert first["route"]["cost_usd"] > 0 and len(openai_server.generation_requests()) == 1
    client.diagnostics[db] = []

    again = await command(client, "hybrid.securityAudit", {"scope": "repository"})
    assert len(openai_server.generation_requests()) == 1  # no model call
    assert again["cached"] is True and again["route"]["cached"] is True and again["route"]["cost_usd"] == 0
    assert (again["route"]["target"], again["route"]["model"]) == ("openai", "gpt-4o")
    assert "(cached)" in again["route"]["footer"]
    assert again["findings"] == 1 and len(client.diagnostics[db]) == 1  # published again
    assert again["digest"] == first["digest"]
    # the ledger has the reuse: no cost, the digest's tokens (what a call would have sent), for the report's saving
    rows = _security_rows(tmp_path, 2)
    assert [(r[0], r[1], r[2]) for r in rows] == [("ok", "openai", "gpt-4o"), ("reused", "openai", "gpt-4o")]
    assert rows[1][3] == 0 and rows[1][4] == first["digest"]["tokens"] > 0 and rows[1][5] == "python"

    # another instruction, then a changed included file: asked again
    other = await command(client, "hybrid.securityAudit", {"scope": "repository", "instruction": "Only SQL."})
    assert "cached" not in other and len(openai_server.generation_requests()) == 2
    (root / "app" / "util.py").write_text(recorded.UTIL_PY + "\n\nDEBUG = True\n", encoding="utf-8")
    changed = await command(client, "hybrid.securityAudit", {"scope": "repository"})
    assert "cached" not in changed and len(openai_server.generation_requests()) == 3
    stored = list((tmp_path / "data" / "answers").glob("*.json"))
    assert len(stored) == 3 and all(json.loads(p.read_text())["model"] == "gpt-4o" for p in stored)


def _security_rows(tmp: Path, count: int) -> list[tuple[object, ...]]:
    """(outcome, target, model, cost, input tokens, language) of the ledger's security rows, once ``count`` are."""
    rows: list[tuple[object, ...]] = []
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and len(rows) < count:
        path = tmp / "data" / "ledger.sqlite3"
        if path.exists():
            with sqlite3.connect(path) as db:
                rows = db.execute(
                    "SELECT outcome, target, model, cost_nanousd, input_tokens, language FROM ledger_requests "
                    "WHERE task = 'security' ORDER BY id"
                ).fetchall()
        time.sleep(0.1)
    return rows


def test_the_store_is_bounded_and_a_damaged_entry_is_a_miss(tmp_path: Path) -> None:
    store = AnswerStore(tmp_path / "answers", max_entries=3)
    for n in range(5):
        store.put(f"k{n}", StoredAnswer(f"answer {n}", "openai", "gpt-4o", True, 10, 0.01))
    kept = sorted(p.stem for p in (tmp_path / "answers").glob("*.json"))
    assert len(kept) == 3 and "k4" in kept
    assert store.get("k4") == StoredAnswer("answer 4", "openai", "gpt-4o", True, 10, 0.01)
    (tmp_path / "answers" / "k4.json").write_text("{not json", encoding="utf-8")
    assert store.get("k4") is None and store.get("never") is None
