"""LSP overhead: ``textDocument/inlineCompletion`` right after a one-character edit, and server memory.

The engine answers instantly (``[local] backend = "instant"``), so the
numbers are the server's own cost: JSON-RPC, incremental sync, tree update,
scope measurement, context assembly, routing and trimming. Targets on a
2-core machine: p50 <= 5 ms, p99 <= 20 ms; < 300 MB with 50 open
5,000-line documents.

Besides the round trip (wall time, which on a shared machine includes waiting
for a core) it prints the CPU time the server process and this client spent
per request, the load average, and the same round trip on a 40-line file
(``--small``), the floor set by everything but the document's size.

Soak mode (``--soak 10000,100000``) types and asks on one document until
each checkpoint and prints the server's resident memory there, and how much
it grew from the first checkpoint to the last (target: within 10 %); a
server that keeps state per request grows linearly (about 1.8 KB a request
before pygls' notification futures were released, issue 19.4).

    python bench/bench_lsp_roundtrip.py [--requests 1000] [--documents 50]
    python bench/bench_lsp_roundtrip.py --soak 10000,100000 [--lines 1000]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from lsprotocol import types

from bench._common import python_source, rss_mb, summary_ms
from tests.lsp.harness import change_doc, init_params, open_doc, server_env, start_stdio, write_config


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of process ``pid`` (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def run(requests: int, documents: int, lines_per_file: int = 5000, checkpoints: tuple[int, ...] = ()) -> None:
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        root = tmp / "ws"
        root.mkdir()
        env = server_env(tmp, write_config(tmp, reply="x"))
        client = await start_stdio(env)
        await client.initialize_session(init_params(root, "visual-studio-code"))
        pid = client._server.pid  # type: ignore[union-attr]
        text = python_source(lines_per_file)
        uri = (root / "big.py").as_uri()
        open_doc(client, uri, text)
        lines = text.split("\n")
        # Type at the end of a statement in the middle of the file, as a person does: append a character to
        # `return total` (still valid code), then delete it again.
        target_line = next(i for i in range(len(lines) // 2, len(lines)) if lines[i].strip() == "return total")
        end_col = len(lines[target_line])
        version = 1
        timings: list[float] = []
        server_cpu = client_cpu = 0.0
        soak: list[tuple[int, float]] = []
        for i in range(requests + 50):
            if i == 50:
                server_cpu, client_cpu = cpu_seconds(pid), time.process_time()
            version += 1
            if i % 2 == 0:
                change_doc(client, uri, version, (target_line, end_col), (target_line, end_col), "s")
                column = end_col + 1
            else:
                change_doc(client, uri, version, (target_line, end_col), (target_line, end_col + 1), "")
                column = end_col
            started = time.perf_counter()
            await client.text_document_inline_completion_async(
                types.InlineCompletionParams(
                    text_document=types.TextDocumentIdentifier(uri=uri),
                    position=types.Position(line=target_line, character=column),
                    context=types.InlineCompletionContext(trigger_kind=types.InlineCompletionTriggerKind.Automatic),
                )
            )
            if i >= 50:  # warm-up excluded
                timings.append(time.perf_counter() - started)
            if i + 1 - 50 in checkpoints:
                soak.append((i + 1 - 50, rss_mb(pid)))
                print(f"  after {soak[-1][0]:,} requests: server RSS {soak[-1][1]:.1f} MB", flush=True)
        server_cpu, client_cpu = cpu_seconds(pid) - server_cpu, time.process_time() - client_cpu
        print(f"inlineCompletion after a 1-char edit, {lines_per_file:,}-line file: {summary_ms(timings)}")
        print(
            f"  cpu per request: server {server_cpu / requests * 1000:.2f} ms,"
            f" client {client_cpu / requests * 1000:.2f} ms; load average {os.getloadavg()[0]:.2f}"
        )
        if len(soak) > 1:
            (first_n, first_mb), (last_n, last_mb) = soak[0], soak[-1]
            print(
                f"soak: RSS {first_mb:.1f} MB at {first_n:,} -> {last_mb:.1f} MB at {last_n:,} requests:"
                f" {(last_mb - first_mb) / first_mb * 100:+.1f} %,"
                f" {(last_mb - first_mb) * 1024 * 1024 / (last_n - first_n):.0f} bytes per request"
            )
        if documents <= 0:
            await client.shutdown_session()
            await client.stop()
            return
        print(f"server RSS with 1 document: {rss_mb(pid):.0f} MB")
        for n in range(documents - 1):
            open_doc(client, (root / f"doc{n}.py").as_uri(), python_source(5000, seed=n + 1))
        await client.workspace_execute_command_async(types.ExecuteCommandParams(command="hybrid.status", arguments=[]))
        print(f"server RSS with {documents} open 5,000-line documents: {rss_mb(pid):.0f} MB")
        await client.shutdown_session()
        await client.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--documents", type=int, default=50)
    parser.add_argument("--small", action="store_true", help="also measure the round trip on a 40-line file")
    parser.add_argument(
        "--soak",
        default="",
        help="comma-separated request counts (e.g. 10000,100000): one document, RSS printed at each",
    )
    parser.add_argument("--lines", type=int, default=5000, help="lines of the typed-in document")
    args = parser.parse_args()
    if args.soak:
        checkpoints = tuple(sorted(int(n) for n in args.soak.split(",")))
        asyncio.run(run(checkpoints[-1], 0, args.lines, checkpoints))
        return
    asyncio.run(run(args.requests, args.documents, args.lines))
    if args.small:
        asyncio.run(run(args.requests, 0, 40))


if __name__ == "__main__":
    main()
