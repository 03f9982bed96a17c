"""An open-loop HTTP load generator: requests leave on a fixed schedule, whatever the server does.

A closed-loop generator (each worker waits for its answer before the next
request, as ``hey -q`` and ``bench/loadgen.py`` do) lets a slow server slow
the load down, and ``hey``'s workers tick in step, so its "500 requests/s"
arrives as bursts of one request per worker. Here request *i* is sent at
``start + i / rate`` on whichever keep-alive connection is idle; when none is,
a new connection is opened, so a slow answer never delays the next request.
Latency is measured from the moment the request is written to the moment
the last byte of the answer arrives; how late each send was against its
schedule is reported too (the generator's own accuracy).

It speaks just enough HTTP/1.1 for JSON APIs (``Content-Length`` or chunked
answers) over raw asyncio transports, which costs about a tenth of an
HTTP client library per request, so on a 2-core machine it leaves the cores
to the server being measured.

    python -m bench.openloop URL --rate 500 --seconds 10 [--body JSON] [-H "Name: value"]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from dataclasses import dataclass, field
from typing import cast
from urllib.parse import urlsplit

from bench._common import percentile


@dataclass
class OpenLoopResult:
    """What one run measured; latencies in milliseconds."""

    rate: float
    seconds: float
    latencies_ms: list[float] = field(default_factory=list)
    statuses: dict[int, int] = field(default_factory=dict)
    failures: int = 0  # connections lost or refused
    send_lag_ms: list[float] = field(default_factory=list)
    connections: int = 0
    elapsed_s: float = 0.0

    @property
    def ok(self) -> int:
        return self.statuses.get(200, 0)

    @property
    def errors(self) -> int:
        return sum(n for status, n in self.statuses.items() if status != 200) + self.failures

    @property
    def achieved(self) -> float:
        return (self.ok + self.errors) / self.elapsed_s if self.elapsed_s else 0.0

    def p(self, q: float) -> float:
        return percentile(self.latencies_ms, q)

    def summary(self) -> dict[str, float]:
        return {
            "p50": self.p(50),
            "p95": self.p(95),
            "p99": self.p(99),
            "rps": self.achieved,
            "ok": self.ok,
            "errors": self.errors,
            "lag_p99": percentile(self.send_lag_ms, 99),
            "connections": self.connections,
        }


class _Connection(asyncio.Protocol):
    """One keep-alive connection carrying one request at a time."""

    def __init__(self, pool: _Pool) -> None:
        self.pool = pool
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.sent_at = 0.0
        self.busy = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's transports are not subclasses

    def send(self, request: bytes) -> None:
        assert self.transport is not None
        self.busy = True
        self.buffer.clear()
        self.sent_at = time.perf_counter()
        self.transport.write(request)

    def data_received(self, data: bytes) -> None:
        if not self.busy:  # not an answer: the server is closing an idle connection (e.g. its 408 on one that
            self.pool.retire(self)  # never carried a request); no request of this run is counted for it
            return
        self.buffer += data
        status = _complete_status(self.buffer)
        if status is not None:
            elapsed_ms = (time.perf_counter() - self.sent_at) * 1000.0
            self.busy = False
            self.pool.answered(self, status, elapsed_ms)

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None
        self.pool.lost(self)


def _complete_status(buffer: bytearray) -> int | None:
    """The status code once ``buffer`` holds a whole answer, else None."""
    end = buffer.find(b"\r\n\r\n")
    if end < 0:
        return None
    head = bytes(buffer[:end]).lower()
    body = len(buffer) - end - 4
    marker = head.find(b"\r\ncontent-length:")
    if marker >= 0:
        stop = head.find(b"\r\n", marker + 2)
        length = int(head[marker + 17 : stop if stop >= 0 else None])
        if body < length:
            return None
    elif b"transfer-encoding: chunked" in head and not buffer.endswith(b"0\r\n\r\n"):
        return None
    return int(head[9:12])


class _Pool:
    def __init__(self, host: str, port: int, request: bytes, result: OpenLoopResult) -> None:
        self.host, self.port, self.request, self.result = host, port, request, result
        self.idle: list[_Connection] = []
        self.outstanding = 0
        self.all_sent = asyncio.Event()
        self.drained = asyncio.Event()

    async def open(self) -> _Connection:
        loop = asyncio.get_running_loop()
        _, protocol = await loop.create_connection(lambda: _Connection(self), self.host, self.port)
        self.result.connections += 1
        return protocol

    def fire(self) -> None:
        self.outstanding += 1
        if self.idle:
            self.idle.pop().send(self.request)
        else:
            asyncio.get_running_loop().create_task(self._send_on_new())

    async def _send_on_new(self) -> None:
        try:
            connection = await self.open()
        except OSError:
            self.result.failures += 1
            self._settled()
            return
        connection.send(self.request)

    def answered(self, connection: _Connection, status: int, elapsed_ms: float) -> None:
        self.result.latencies_ms.append(elapsed_ms)
        self.result.statuses[status] = self.result.statuses.get(status, 0) + 1
        self.idle.append(connection)
        self._settled()

    def retire(self, connection: _Connection) -> None:
        """Take an idle connection the server is closing out of use."""
        if connection in self.idle:
            self.idle.remove(connection)

    def lost(self, connection: _Connection) -> None:
        if connection in self.idle:
            self.idle.remove(connection)
        if connection.busy:
            connection.busy = False
            self.result.failures += 1
            self._settled()

    def _settled(self) -> None:
        self.outstanding -= 1
        if self.all_sent.is_set() and self.outstanding == 0:
            self.drained.set()


def build_request(url: str, body: bytes, headers: dict[str, str], method: str = "POST") -> tuple[str, int, bytes]:
    """Host, port and the request's bytes for ``url``."""
    parts = urlsplit(url)
    if parts.scheme != "http" or parts.hostname is None:
        raise ValueError(f"only http:// URLs are supported: {url}")
    port = parts.port or 80
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    lines = [f"{method} {path} HTTP/1.1", f"Host: {parts.hostname}:{port}", f"Content-Length: {len(body)}"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    return parts.hostname, port, ("\r\n".join(lines) + "\r\n\r\n").encode() + body


async def drive_async(
    url: str,
    body: bytes,
    headers: dict[str, str],
    *,
    rate: float,
    seconds: float,
    connections: int = 8,
    drain_timeout_s: float = 30.0,
) -> OpenLoopResult:
    """Send ``rate * seconds`` requests on schedule and wait for their answers."""
    host, port, request = build_request(url, body, {"Content-Type": "application/json", **headers})
    result = OpenLoopResult(rate, seconds)
    pool = _Pool(host, port, request, result)
    pool.idle = [await pool.open() for _ in range(connections)]
    total = int(rate * seconds)
    interval = 1.0 / rate
    started = time.perf_counter()
    for i in range(total):
        due = started + i * interval
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        result.send_lag_ms.append(max(0.0, (time.perf_counter() - due) * 1000.0))
        pool.fire()
    pool.all_sent.set()
    if pool.outstanding:
        try:
            await asyncio.wait_for(pool.drained.wait(), drain_timeout_s)
        except TimeoutError:
            result.failures += pool.outstanding
    result.elapsed_s = time.perf_counter() - started
    for connection in pool.idle:
        if connection.transport is not None:
            connection.transport.close()
    return result


def drive(
    url: str, body: bytes, headers: dict[str, str], *, rate: float, seconds: float, connections: int = 8
) -> OpenLoopResult:
    """:func:`drive_async` on a fresh event loop (uvloop when installed: it costs less per request)."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(drive_async(url, body, headers, rate=rate, seconds=seconds, connections=connections))
    return uvloop.run(drive_async(url, body, headers, rate=rate, seconds=seconds, connections=connections))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("url")
    parser.add_argument("--rate", type=float, default=500)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--connections", type=int, default=8, help="Keep-alive connections opened up front.")
    parser.add_argument("--body", default="{}", help="JSON body of each POST.")
    parser.add_argument("-H", "--header", action="append", default=[], help='"Name: value" (repeatable).')
    args = parser.parse_args()
    json.loads(args.body)  # fail early on a typo
    headers = dict(h.split(":", 1) for h in args.header)
    result = drive(
        args.url,
        args.body.encode(),
        {k.strip(): v.strip() for k, v in headers.items()},
        rate=args.rate,
        seconds=args.seconds,
        connections=args.connections,
    )
    print(json.dumps(result.summary() | {"statuses": result.statuses}, indent=2))


if __name__ == "__main__":
    main()
