"""``hybrid-assist complete FILE --line N --character N``: one request through the whole pipeline.

Exit codes: 0 answered (the answer may be empty when the model gave none), 2 bad arguments (an
unknown task, a path that is not a file, a file that is not text, a position outside the document),
:data:`EXIT_NOT_SERVED` (3) when no target could answer (nothing allowed, every target failed, a
stale completion shed, or a context that fits no model's window); the JSON and the text output say why.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from hybrid_assist.config import SettingsLoader
from hybrid_assist.language_server import build_assistant
from hybrid_assist.settings import HybridSettings
from hybrid_assist.workspace import workspace_root
from lsp_server.analysis.documents import Document
from lsp_server.analysis.index import WorkspaceIndex
from lsp_server.analysis.paths import path_to_uri
from lsp_server.requests import AssistRequest
from lsp_server.session import Session
from routing.tasks import parse_task

MAX_FILE_BYTES = 20_000_000
#: How much of a file is read to tell text from binary (as git and grep do: a NUL byte means binary).
BINARY_SNIFF_BYTES = 8192
#: Exit status when no target could answer the request (scripts and CI can tell it from an answer).
EXIT_NOT_SERVED = 3


def text_problem(data: bytes) -> str | None:
    """Why ``data`` is not a text file the assistant can work on, or None when it is."""
    if b"\x00" in data[:BINARY_SNIFF_BYTES]:
        return "is a binary file (it contains NUL bytes), not source text"
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        return f"is not UTF-8 text (invalid byte at offset {exc.start})"
    return None


def position_problem(doc: Document, line: int, character: int) -> str | None:
    """Why ``(line, character)`` (0-based, UTF-16 units) is not a position in ``doc``, or None."""
    lines = doc.line_count
    if line < 0 or character < 0:
        return f"--line and --character are 0-based and cannot be negative (got {line}:{character})"
    if line >= lines:
        return f"--line {line} is past the end of the file (its last line is {lines - 1})"
    width = len(doc.line_text(line).encode("utf-16-le")) // 2
    if character > width:
        return f"--character {character} is past the end of line {line} ({width} characters long)"
    return None


async def run_complete(args: argparse.Namespace, loader: SettingsLoader[HybridSettings]) -> int:
    file: Path = args.file.resolve()
    try:
        task = parse_task(args.task)
    except ValueError as exc:
        print(f"hybrid-assist: {exc}", file=sys.stderr)
        return 2
    if not file.is_file():
        print(f"hybrid-assist: {file} is not a file", file=sys.stderr)
        return 2
    if file.stat().st_size > MAX_FILE_BYTES:
        print(f"hybrid-assist: {file} is larger than {MAX_FILE_BYTES} bytes", file=sys.stderr)
        return 2
    data = file.read_bytes()
    problem = text_problem(data)
    if problem is not None:
        print(f"hybrid-assist: {file} {problem}", file=sys.stderr)
        return 2
    doc = Document(path_to_uri(file), data.decode("utf-8"), "")
    problem = position_problem(doc, args.line, args.character)
    if problem is not None:
        print(f"hybrid-assist: {problem} ({file})", file=sys.stderr)
        return 2
    if not getattr(args, "verbose", False):
        # the engine's state is part of this command's own output (the route's reasons): not a log line too
        logging.getLogger("routing.runtime").setLevel(logging.ERROR)
    root = (args.workspace or workspace_root(file.parent)).resolve()
    loaded = loader.load([root])
    settings = loaded.settings
    index = WorkspaceIndex([root], settings.analysis)
    session = Session(settings=settings, roots=[root], index=index, encoding="utf-16")
    assistant = build_assistant(settings)
    try:
        await index.build()
        runtime = assistant.runtime
        if not assistant.serving.routes_remotely:  # gateway mode loads no engine here
            runtime.start_local_in_background()
            if not runtime.local_state().available and not runtime.local_error:
                print("hybrid-assist: starting the local engine...", file=sys.stderr, flush=True)
            await runtime.wait_local(args.wait)
        offset = doc.offset_at(args.line, args.character, "utf-16")
        result = await assistant.run(session, doc, AssistRequest(task, doc.uri, offset))
    finally:
        await assistant.close()
    served = bool(result.target) or result.from_cache
    status = 0 if served else EXIT_NOT_SERVED
    if args.json:
        print(json.dumps(result.to_json(), ensure_ascii=False))
        return status
    blocked = result.explanation.decision.blocked
    if result.text:
        print(result.text)
    elif blocked:
        print(f"(no answer: {blocked[0]})")  # the primary reason; the others are in the route below
    else:
        print(f"(no answer: {result.empty_reason or 'the model gave an empty answer'})")
    explanation = result.explanation
    print("---", file=sys.stderr)
    unit = " ".join(part for part in (explanation.scope.unit_kind, explanation.scope.unit_name) if part)
    print(f"scope: {explanation.scope.level} ({unit or 'whole file'})", file=sys.stderr)
    for path in explanation.scope.files:
        print(f"  depends on {path}", file=sys.stderr)
    print(f"route: {result.footer()}", file=sys.stderr)
    for reason in explanation.decision.reasons:
        print(f"  - {reason}", file=sys.stderr)
    return status
