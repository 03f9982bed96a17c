"""Gateway mode (#14.6): an AI code action's edit applied in the editor is feedback on the gateway's ledger row.

A language server in gateway mode (real process over stdio) resolves the
docstring action, which the gateway's instant engine answers; the editor
applies the edit (a whole-document ``didChange``). The gateway's row of that
call carries the document's language, and its feedback is ``code_action``
accepted — the language server mapped its own request id to the gateway's.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from lsprotocol import types
from sqlalchemy import select

from routing.usage.database import ledger_url, open_engine
from routing.usage.models import ledger_feedback, ledger_requests
from tests.gateway.harness import GatewayProcess, add_user, gateway_env
from tests.gateway.test_lsp_gateway_mode import editor, stop
from tests.lsp.harness import open_doc

SOURCE = "def total(a, b):\n    return a + b\n"
DOCSTRING = '    """Return the sum of a and b."""\n'
ANSWER = f"```python\ndef total(a, b):\n{DOCSTRING}    return a + b\n```\n"


def outcome(data_dir: Path) -> tuple[str, bool, str] | None:
    """(the docstring row's language, its feedback, the feedback's kind), once there is feedback."""
    engine = open_engine(ledger_url("", str(data_dir)), migrate=False)
    try:
        r, f = ledger_requests.c, ledger_feedback.c
        query = (
            select(r.language, f.accepted, f.kind)
            .select_from(ledger_requests.join(ledger_feedback, f.request_id == r.request_id))
            .where(r.task == "docstring")
        )
        with engine.connect() as connection:
            row = connection.execute(query).first()
    finally:
        engine.dispose()
    return None if row is None else (row.language, bool(row.accepted), row.kind)


async def test_an_applied_code_action_is_code_action_feedback_on_the_gateways_row(tmp_path: Path) -> None:
    directory = tmp_path / "gateway"
    directory.mkdir()
    env = gateway_env(directory, "[gateway_server]\nkey_cache_ttl_s = 0\n")
    env["HYBRID_ASSIST_LOCAL__INSTANT_REPLY"] = ANSWER  # (TOML would need escaping)
    process = GatewayProcess(env, directory / "gateway.log")
    process.wait_ready()
    root = tmp_path / "project"
    root.mkdir()
    (root / "demo.py").write_text(SOURCE, encoding="utf-8")
    client = await editor(tmp_path, "alice", process.url, add_user(env, "alice"), root)
    try:
        uri = (root / "demo.py").as_uri()
        open_doc(client, uri, SOURCE)
        at = {"start": {"line": 1, "character": 4}, "end": {"line": 1, "character": 4}}
        action = types.CodeAction(
            title="AI: add or refresh the docstring", data={"uri": uri, "task": "docstring", "range": at}
        )
        resolved = await client.code_action_resolve_async(action)
        assert resolved.edit is not None and resolved.edit.changes is not None, [m.message for m in client.messages]
        [edit] = resolved.edit.changes[uri]
        assert DOCSTRING.strip() in edit.new_text
        applied = SOURCE.replace("    return a + b\n", DOCSTRING + "    return a + b\n")
        client.text_document_did_change(
            types.DidChangeTextDocumentParams(
                text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=2),
                content_changes=[types.TextDocumentContentChangeWholeDocument(text=applied)],
            )
        )
        for _ in range(200):
            found = outcome(directory / "data")
            if found is not None:
                break
            await asyncio.sleep(0.05)
        assert found == ("python", True, "code_action"), process.log()
    finally:
        await stop(client)
        process.stop()
