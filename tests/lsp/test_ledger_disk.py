"""The language server's SQLite ledger on a read-only and on a full disk (issue 19.2).

The real server runs in a mount namespace of its own (``unshare -m``, as
root) whose data directory is a small tmpfs: mounted read-only from the start,
or filled up while it runs. Answers keep coming, the user is told once, the
rows wait in memory and are in the ledger once the disk is writable again
(remounted read-write, the filler removed — through ``nsenter``). Without a
namespace (not root), the same with a file-size limit (``RLIMIT_FSIZE``, set
and lifted on the running server with ``prlimit``).
"""

from __future__ import annotations

import asyncio
import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from lsprotocol import types
from pytest_lsp import ClientServerConfig, LanguageClient

from routing.usage.outage import UNAVAILABLE
from tests.lsp.harness import SERVER, init_params, open_doc, server_env, start_stdio, write_config

needs_namespace = pytest.mark.skipif(
    os.geteuid() != 0 or not shutil.which("unshare") or not shutil.which("nsenter"),
    reason="needs root, unshare and nsenter for a tmpfs in the server's own mount namespace",
)

REQUESTS = 12


async def start_on_tmpfs(tmp: Path, options: str) -> tuple[LanguageClient, Path]:
    """The server with ``tmp/data`` (its ledger's directory) a tmpfs mounted with ``options``."""
    data = tmp / "data"
    data.mkdir()
    env = server_env(tmp, write_config(tmp))
    script = f'mount -t tmpfs -o {options} tmpfs "{data}" && exec "$@"'
    command = ["unshare", "-m", "--propagation", "private", "sh", "-c", script, "sh", *SERVER]
    client = await ClientServerConfig(server_command=command, server_env=env).start()
    assert isinstance(client, LanguageClient)
    root = tmp / "ws"
    root.mkdir()
    await client.initialize_session(init_params(root))
    return client, root


def in_namespace(client: LanguageClient, *command: str) -> subprocess.CompletedProcess[str]:
    pid = client._server.pid  # type: ignore[union-attr]
    return subprocess.run(["nsenter", "-t", str(pid), "-m", *command], capture_output=True, text=True, timeout=60)


def ledger_rows(client: LanguageClient, data: Path) -> int:
    code = (
        "import sqlite3, sys; c = sqlite3.connect(sys.argv[1]);"
        "print(c.execute('select count(*) from ledger_requests').fetchone()[0])"
    )
    done = in_namespace(client, sys.executable, "-c", code, str(data / "ledger.sqlite3"))
    return int(done.stdout.strip()) if done.returncode == 0 else -1


async def complete(client: LanguageClient, root: Path, first: int, count: int) -> list[str]:
    """``count`` completions, each in a document of its own (a cached answer would write no row)."""
    answers = []
    for n in range(first, first + count):
        uri = (root / f"m{n}.py").as_uri()
        open_doc(client, uri, f"def add_{n}(a, b):\n    \n")
        result = await client.text_document_completion_async(
            types.CompletionParams(text_document=types.TextDocumentIdentifier(uri=uri), position=types.Position(1, 4))
        )
        items = result.items if isinstance(result, types.CompletionList) else result or []
        answers.append(str(items[0].insert_text or items[0].label) if items else "")
    return answers


async def complete_until_told(client: LanguageClient, root: Path, first: int) -> tuple[list[str], int]:
    """:data:`REQUESTS` completions, then more until the user is told (the writer thread meets the full disk
    with the first of their rows, maybe after the burst), then three more; the answers and the next index."""
    answers = await complete(client, root, first, REQUESTS)
    sent = first + REQUESTS
    for _ in range(80):
        if told(client):
            break
        answers += await complete(client, root, sent, 1)
        sent += 1
        await asyncio.sleep(0.25)
    answers += await complete(client, root, sent, 3)
    return answers, sent + 3


def told(client: LanguageClient) -> list[str]:
    return [m.message for m in client.messages if UNAVAILABLE in m.message]


async def written_within(client: LanguageClient, data: Path, rows: int, timeout_s: float = 20.0) -> int:
    found = -1
    for _ in range(int(timeout_s / 0.25)):
        found = ledger_rows(client, data)
        if found >= rows:
            break
        await asyncio.sleep(0.25)
    return found


@needs_namespace
async def test_a_read_only_data_directory_never_blocks_an_answer(tmp_path: Path) -> None:
    client, root = await start_on_tmpfs(tmp_path, "size=8m,ro")
    try:
        answers = await complete(client, root, 0, REQUESTS)
        assert all("a + b" in answer for answer in answers), answers
        assert len(told(client)) == 1, [m.message for m in client.messages]
        assert ledger_rows(client, tmp_path / "data") == -1  # no ledger file could be made

        assert in_namespace(client, "mount", "-o", "remount,rw", str(tmp_path / "data")).returncode == 0
        assert await written_within(client, tmp_path / "data", REQUESTS) == REQUESTS
        await complete(client, root, REQUESTS, 1)
        assert await written_within(client, tmp_path / "data", REQUESTS + 1) == REQUESTS + 1
    finally:
        await client.shutdown_session()
        await client.stop()


@needs_namespace
async def test_a_full_disk_never_blocks_an_answer_and_rows_are_written_when_space_returns(tmp_path: Path) -> None:
    client, root = await start_on_tmpfs(tmp_path, "size=2m")
    data = tmp_path / "data"
    try:
        await complete(client, root, 0, 1)
        assert await written_within(client, data, 1) == 1
        filler = str(data / "filler")
        in_namespace(client, "dd", "if=/dev/zero", f"of={filler}", "bs=4k")  # until ENOSPC
        answers, sent = await complete_until_told(client, root, 1)
        assert all("a + b" in answer for answer in answers), answers
        assert len(told(client)) == 1, [m.message for m in client.messages]
        await asyncio.sleep(1.0)
        assert ledger_rows(client, data) == 1  # nothing more fitted

        assert in_namespace(client, "rm", filler).returncode == 0
        assert await written_within(client, data, sent) == sent
    finally:
        await client.shutdown_session()
        await client.stop()


@pytest.mark.skipif(not shutil.which("prlimit"), reason="needs prlimit (util-linux)")
async def test_a_file_size_limit_never_blocks_an_answer_and_rows_are_written_when_it_is_lifted(
    tmp_path: Path,
) -> None:
    client = await start_stdio(server_env(tmp_path, write_config(tmp_path)))
    root = tmp_path / "ws"
    root.mkdir()
    await client.initialize_session(init_params(root))
    pid = str(client._server.pid)  # type: ignore[union-attr]
    ledger = tmp_path / "data" / "ledger.sqlite3"

    def rows() -> int:
        with sqlite3.connect(ledger) as connection:
            return int(connection.execute("select count(*) from ledger_requests").fetchone()[0])

    async def rows_reach(count: int) -> int:
        for _ in range(80):
            if rows() >= count:
                break
            await asyncio.sleep(0.25)
        return rows()

    try:
        await complete(client, root, 0, 1)
        assert await rows_reach(1) == 1
        subprocess.run(["prlimit", "--pid", pid, "--fsize=0:unlimited"], check=True)  # no file may grow
        answers, sent = await complete_until_told(client, root, 1)
        assert all("a + b" in answer for answer in answers), answers
        assert len(told(client)) == 1, [m.message for m in client.messages]
        assert rows() == 1
        subprocess.run(["prlimit", "--pid", pid, "--fsize=unlimited:unlimited"], check=True)
        assert await rows_reach(sent) == sent
    finally:
        await client.shutdown_session()
        await client.stop()
