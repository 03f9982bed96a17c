"""Start the real server process (stdio or TCP) with a test configuration, and drive it as an editor."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import sys
from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from typing import Any

from lsprotocol import types
from pytest_lsp import ClientServerConfig, LanguageClient, client_capabilities

SERVER = [sys.executable, "-m", "hybrid_assist.cli", "lsp"]
ALLOWED_ROOTS_ENV = "HYBRID_ASSIST_SERVER__ALLOWED_ROOTS"


OPENAI_DISABLED = "[providers.openai]\nenabled = false\n"


def cloud_providers(openai: str = OPENAI_DISABLED) -> str:
    """The ``[providers.*]`` tables: ``openai`` as given (disabled by default), Anthropic and Gemini disabled."""
    return f"{openai}[providers.anthropic]\nenabled = false\n[providers.gemini]\nenabled = false\n"


def instant_local(reply: str = "return a + b", delay_ms: float = 0.0) -> str:
    """The body of a ``[local]`` table for the instant engine."""
    return f'backend = "instant"\ninstant_reply = {reply!r}\ninstant_token_delay_ms = {delay_ms}\n'


def write_config(
    tmp: Path, extra: str = "", *, reply: str = "return a + b", delay_ms: float = 0.0, local: str | None = None
) -> Path:
    """A TOML config with every cloud provider disabled; the ``[local]`` table is ``local`` or the instant engine."""
    config = tmp / "config.toml"
    config.write_text(
        f"""
data_dir = "{tmp / "data"}"

[local]
{instant_local(reply, delay_ms) if local is None else local}
[completion]
debounce_ms = 0

[analysis]
index_cache_dir = "{tmp / "index-cache"}"

{cloud_providers()}{extra}
""",
        encoding="utf-8",
    )
    return config


def server_env(tmp: Path, config: Path, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HYBRID_ASSIST_")}
    env.update(
        {
            "HYBRID_ASSIST_CONFIG": str(config),
            "XDG_CONFIG_HOME": str(tmp / "xdg-config"),
            "XDG_CACHE_HOME": str(tmp / "xdg-cache"),
            "XDG_DATA_HOME": str(tmp / "xdg-data"),
            "HF_HUB_OFFLINE": "1",
            "OPENAI_API_KEY": "",
            "ANTHROPIC_API_KEY": "",
            "GEMINI_API_KEY": "",
        }
    )
    env.update(extra or {})
    return env


def read_code_actions_by_shape(client: LanguageClient) -> None:
    """Make ``client`` read a ``CodeAction`` that carries a ``Command`` as a ``CodeAction``.

    lsprotocol's hook for ``Command | CodeAction`` takes any object with a
    ``command`` key for a ``Command`` (so ``CodeAction{command: Command}``
    became a ``Command`` whose ``command`` is a dict's repr); a ``Command``'s
    ``command`` is a string, a ``CodeAction``'s an object.
    """
    converter = client.protocol._converter

    def structure(obj: Any, _: object) -> types.Command | types.CodeAction:
        shape: type[types.Command | types.CodeAction] = (
            types.Command if isinstance(obj.get("command"), str) else types.CodeAction
        )
        return converter.structure(obj, shape)

    converter.register_structure_hook(types.Command | types.CodeAction, structure)  # type: ignore[arg-type]


async def start_stdio(env: Mapping[str, str]) -> LanguageClient:
    client = await ClientServerConfig(server_command=SERVER, server_env=dict(env)).start()
    assert isinstance(client, LanguageClient)
    read_code_actions_by_shape(client)
    return client


def init_params(
    root: Path | None, profile: str = "neovim", *, encodings: list[str] | None = None, options: Any = None
) -> types.InitializeParams:
    capabilities = client_capabilities(profile)
    if encodings is not None:
        capabilities.general = types.GeneralClientCapabilities(position_encodings=encodings)
    folders = [types.WorkspaceFolder(uri=root.as_uri(), name=root.name)] if root else None
    return types.InitializeParams(
        capabilities=capabilities,
        root_uri=root.as_uri() if root else None,
        workspace_folders=folders,
        initialization_options=options,
    )


def open_doc(client: LanguageClient, uri: str, text: str, language: str = "python", version: int = 1) -> None:
    client.text_document_did_open(
        types.DidOpenTextDocumentParams(
            text_document=types.TextDocumentItem(uri=uri, language_id=language, version=version, text=text)
        )
    )


def change_doc(
    client: LanguageClient, uri: str, version: int, start: tuple[int, int], end: tuple[int, int], text: str
) -> None:
    client.text_document_did_change(
        types.DidChangeTextDocumentParams(
            text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=version),
            content_changes=[
                types.TextDocumentContentChangePartial(
                    range=types.Range(
                        start=types.Position(line=start[0], character=start[1]),
                        end=types.Position(line=end[0], character=end[1]),
                    ),
                    text=text,
                )
            ],
        )
    )


async def command(client: LanguageClient, name: str, *arguments: Any) -> Any:
    return await client.workspace_execute_command_async(
        types.ExecuteCommandParams(command=name, arguments=list(arguments))
    )


def progress_value(report: object) -> Any:
    """A ``$/progress`` report as pytest-lsp kept it: its begin/report/end value."""
    return getattr(report, "value", report)


async def progress_token(client: LanguageClient, title: str, seconds: float = 8.0) -> str | int:
    """The first progress token whose ``begin`` has ``title``, waiting up to ``seconds`` for it."""
    for _ in range(int(seconds / 0.02)):
        for token, reports in list(client.progress_reports.items()):
            if reports and getattr(progress_value(reports[0]), "title", None) == title:
                return token
        await asyncio.sleep(0.02)
    raise AssertionError(f"no progress titled {title!r}")


async def document_state(client: LanguageClient, uri: str) -> dict[str, Any]:
    state = await command(client, "hybrid.documentState", {"uri": uri})
    assert state is not None, f"{uri} is not open on the server"
    return dict(state)


class TcpServer:
    """``hybrid-assist lsp --tcp 127.0.0.1:0`` as a subprocess; ``port`` is read from its stderr.

    A network server serves workspaces only inside ``[server] allowed_roots``: unless ``env`` sets
    ``HYBRID_ASSIST_SERVER__ALLOWED_ROOTS``, it is the test configuration's directory (the test's
    ``tmp_path``, where its workspaces live).
    """

    def __init__(
        self, env: Mapping[str, str], mode: str = "--tcp", address: str = "127.0.0.1:0", extra: tuple[str, ...] = ()
    ) -> None:
        self.env = dict(env)
        if ALLOWED_ROOTS_ENV not in self.env and "HYBRID_ASSIST_CONFIG" in self.env:
            self.env[ALLOWED_ROOTS_ENV] = json.dumps([str(Path(self.env["HYBRID_ASSIST_CONFIG"]).parent)])
        self.mode = mode
        self.address = address
        self.extra = extra
        self.process: asyncio.subprocess.Process | None = None
        self.port = 0
        self.stderr_lines: list[str] = []
        self._drain: asyncio.Task[None] | None = None

    async def __aenter__(self) -> TcpServer:
        self.process = await asyncio.create_subprocess_exec(
            *SERVER,
            self.mode,
            self.address,
            *self.extra,
            env=self.env,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
        )
        assert self.process.stderr is not None
        while True:
            line = (await asyncio.wait_for(self.process.stderr.readline(), 60)).decode()
            if not line:
                raise RuntimeError("server exited: " + "".join(self.stderr_lines))
            self.stderr_lines.append(line)
            match = re.search(r"listening on [\d.]+:(\d+)", line)
            if match:
                self.port = int(match.group(1))
                break
        self._drain = asyncio.create_task(self._read_stderr())
        return self

    async def _read_stderr(self) -> None:
        assert self.process is not None and self.process.stderr is not None
        while line := await self.process.stderr.readline():
            self.stderr_lines.append(line.decode(errors="replace"))

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.returncode is None

    async def __aexit__(self, *exc: object) -> None:
        if self.process is not None and self.process.returncode is None:
            self.process.terminate()
            await asyncio.wait_for(self.process.wait(), 20)
        if self._drain is not None:
            self._drain.cancel()


@contextlib.asynccontextmanager
async def in_process_server(config: Path, wire: Any) -> AsyncIterator[Any]:
    """A :class:`lsp_server.server.HybridLanguageServer` in this process, writing to ``wire`` (``write``/``close``).

    ``HYBRID_ASSIST_CONFIG`` must already point at ``config`` (monkeypatch it); the server's tasks are
    cancelled and its assistant closed on the way out.
    """
    from hybrid_assist.language_server import build_assistant
    from hybrid_assist.settings import settings_loader
    from lsp_server.server import HybridLanguageServer

    assert os.environ.get("HYBRID_ASSIST_CONFIG") == str(config)
    loader = settings_loader()
    assistant = build_assistant(loader.load().settings)
    server = HybridLanguageServer(assistant, loader)
    server.protocol.set_writer(wire, include_headers=False)
    try:
        yield server
    finally:
        server.cancel_all()
        await assistant.close()
