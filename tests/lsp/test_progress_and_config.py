"""Long commands report ``$/progress`` and stop on workDoneProgress/cancel; bad settings are named once."""

from __future__ import annotations

import asyncio
from pathlib import Path

from lsprotocol import types
from pytest_lsp import LanguageClient

from tests.lsp.harness import command, init_params, start_stdio


def _many_files(root: Path, count: int) -> None:
    package = root / "pkg"
    package.mkdir()
    body = "".join(f"def function_{i}(value):\n    return value * {i}\n\n" for i in range(40))
    for i in range(count):
        (package / f"module_{i}.py").write_text(f"import os\n\n{body}", encoding="utf-8")


async def test_reindex_reports_progress(client: LanguageClient) -> None:
    result = await command(client, "hybrid.reindex")
    assert result["indexed"] is True and result["files"] >= 2
    kinds = [
        getattr(report.value, "kind", None) if hasattr(report, "value") else report.kind
        for reports in client.progress_reports.values()
        for report in reports
    ]
    assert "begin" in kinds and "end" in kinds


def _kind(report: object) -> str | None:
    value = getattr(report, "value", report)
    return getattr(value, "kind", None)


async def test_cancel_progress_stops_indexing(env: dict[str, str], workspace: Path) -> None:
    _many_files(workspace, 1500)
    client = await start_stdio(env)
    await client.initialize_session(init_params(workspace, "visual-studio-code"))
    token = None
    for _ in range(500):
        if client.progress_reports:
            token = next(iter(client.progress_reports))
            break
        await asyncio.sleep(0.02)
    assert token is not None, "indexing reported no progress"
    client.window_work_done_progress_cancel(types.WorkDoneProgressCancelParams(token=token))
    end = None
    for _ in range(600):
        ends = [r for r in client.progress_reports[token] if _kind(r) == "end"]
        if ends:
            end = getattr(ends[0], "value", ends[0])
            break
        await asyncio.sleep(0.05)
    assert end is not None, "indexing did not stop"
    assert end.message == "cancelled"
    status = await command(client, "hybrid.status")
    assert status["index_ready"] is False
    await client.shutdown_session()
    await client.stop()


async def test_invalid_setting_is_named_in_one_message(client: LanguageClient) -> None:
    client.workspace_did_change_configuration(
        types.DidChangeConfigurationParams(settings={"hybrid-assist": {"completion": {"debounce_ms": "soon"}}})
    )
    for _ in range(100):
        if any("completion.debounce_ms" in m.message for m in client.messages):
            break
        await asyncio.sleep(0.05)
    matching = [m for m in client.messages if "completion.debounce_ms" in m.message]
    assert len(matching) == 1
    assert matching[0].type == types.MessageType.Warning
    assert "didChangeConfiguration" in matching[0].message
    # the server keeps serving with the default for that key
    assert (await command(client, "hybrid.status"))["local"]["model"] == "instant"
    client.workspace_did_change_configuration(
        types.DidChangeConfigurationParams(settings={"hybrid-assist": {"completion": {"debounce_ms": "soon"}}})
    )
    await command(client, "hybrid.status")
    assert len([m for m in client.messages if "completion.debounce_ms" in m.message]) == 1
