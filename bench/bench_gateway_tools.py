"""Gateway overhead for a tool-calling request at a fixed rate (500/s by default), OpenAI and Anthropic APIs.

The instant upstream answers directly (the floor), then one gateway process
with its in-process instant engine, which answers a request offering tools
with a tool call (:mod:`inference.instant`), is measured at the same rate on
``/v1/chat/completions`` (OpenAI ``tools``; the answer's ``tool_calls`` and
``finish_reason: "tool_calls"``) and on ``/v1/messages`` (Anthropic
``tools``; a ``tool_use`` block and ``stop_reason: "tool_use"``), several
runs each, beside the same gateway's chat without tools (a text answer, the
reference). It prints every run, the medians, and each path's overhead over
the upstream's median against the target (p50 <= 1 ms, p95 <= 3 ms). The
load generator, runs and tables are :mod:`bench.bench_gateway_rate`'s.

    python -m bench.bench_gateway_tools [--rate 500] [--seconds 10] [--repeats 3]

Measured on 2026-12-04 (after 5295c66) on the lent 16-core GPU machine (load 0.2; the gateway's wheels carried),
500/s, 3 runs of 5 s, medians over the upstream's (0.21 / 0.43 ms): chat text +0.68 / +0.59 ms (p50 / p95),
chat with tools +0.76 / +1.46 ms, /v1/messages with tools +0.78 / +0.74 ms — within the +1 / +3 ms target,
at 0.86 / 0.96 / 0.98 ms of gateway CPU per request. On the shared 2-core machine (load average 5-9) the
same runs fell behind (p50 +1 to +70 ms, p95 +90 to +1,500 ms): the neighbours' load, not a measurement.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import tempfile
from pathlib import Path

import httpx

from bench.bench_gateway import MESSAGES, Target, gateway, upstream
from bench.bench_gateway_rate import INSTANT, OVERHEAD_TARGET_MS, Run, measure, median_run, print_rows, sustained
from bench.openloop import drive

SCHEMA = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}
OPENAI_TOOLS = [
    {"type": "function", "function": {"name": "get_weather", "description": "Weather", "parameters": SCHEMA}}
]
ANTHROPIC_TOOLS = [{"name": "get_weather", "description": "Weather", "input_schema": SCHEMA}]
#: The name suffix of the reference path: the same gateway and endpoint, the same messages, no tools (a text answer).
TEXT = "(text)"


def openai_body(target: Target) -> bytes:
    body: dict[str, object] = {"model": target.model, "messages": MESSAGES, "max_tokens": 16}
    if not target.name.endswith(TEXT):
        body["tools"] = OPENAI_TOOLS
    return json.dumps(body).encode()


def anthropic_body(target: Target) -> bytes:
    return json.dumps({"model": "auto", "messages": MESSAGES, "max_tokens": 16, "tools": ANTHROPIC_TOOLS}).encode()


def messages_target(gw: Target) -> Target:
    """The same gateway's ``/v1/messages``, with the key in ``x-api-key`` (as the Anthropic SDK sends it)."""
    key = gw.headers["Authorization"].removeprefix("Bearer ")
    url = gw.url.replace("/v1/chat/completions", "/v1/messages")
    return dataclasses.replace(gw, name="gateway /v1/messages", url=url, headers={"x-api-key": key})


def check_answers(chat: Target, messages: Target) -> None:
    """One request each before measuring: the answers really are tool calls."""
    answer = httpx.post(chat.url, content=openai_body(chat), headers=chat.headers, timeout=30).json()
    assert answer["choices"][0]["finish_reason"] == "tool_calls", answer
    assert answer["choices"][0]["message"]["tool_calls"][0]["function"]["name"] == "get_weather", answer
    answer = httpx.post(messages.url, content=anthropic_body(messages), headers=messages.headers, timeout=30).json()
    assert answer["stop_reason"] == "tool_use" and answer["content"][-1]["type"] == "tool_use", answer


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rate", type=int, default=500, help="Target requests per second.")
    parser.add_argument("--seconds", type=float, default=10, help="Length of each run.")
    parser.add_argument("--repeats", type=int, default=3, help="Runs per path (the machine is shared: medians).")
    parser.add_argument("--connections", type=int, default=8, help="Keep-alive connections at start.")
    args = parser.parse_args()

    def load(target: Target, rate: int, seconds: float) -> Run:
        body = anthropic_body(target) if target.url.endswith("/v1/messages") else openai_body(target)
        result = drive(target.url, body, target.headers, rate=rate, seconds=seconds, connections=args.connections)
        return result.summary()

    print(f"machine: {os.cpu_count()} CPUs, load average at start {os.getloadavg()[0]:.2f}")
    with tempfile.TemporaryDirectory(prefix="bench-gw-tools-") as tmp, upstream(Path(tmp)) as direct:
        direct_runs = measure(load, direct, args.rate, args.seconds, args.repeats)
        with gateway(Path(tmp), "gw", "gateway chat+tools", INSTANT) as chat:
            messages = messages_target(chat)
            check_answers(chat, messages)
            text = dataclasses.replace(chat, name=f"gateway chat {TEXT}")
            rows = [(direct.name, direct_runs)]
            rows += [(t.name, measure(load, t, args.rate, args.seconds, args.repeats)) for t in (text, chat, messages)]
    print_rows(args.rate, rows)
    up = median_run(direct_runs)
    for name, runs in rows[1:]:
        gw = median_run(runs)
        kept_up = all(sustained(run, args.rate) for run in runs)
        met = kept_up and all(gw[q] - up[q] <= limit for q, limit in OVERHEAD_TARGET_MS.items())
        print(
            f"{name} at {args.rate}/s: {'kept up' if kept_up else 'fell behind'}; overhead p50 "
            f"+{gw['p50'] - up['p50']:.2f} ms (target <= {OVERHEAD_TARGET_MS['p50']:g}), p95 "
            f"+{gw['p95'] - up['p95']:.2f} ms (target <= {OVERHEAD_TARGET_MS['p95']:g}): "
            f"{'met' if met else 'NOT met'}; CPU {gw['cpu_ms']:.3f} ms per request"
        )
    print(f"load average now {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
