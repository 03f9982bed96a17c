"""Secrets in context bound for the cloud: find them, and redact a generation request before it leaves.

The one place both the language server and the gateway call (route
preparation scans with :func:`secret_kinds`; the service redacts the built
request with :func:`redact_request`), so they cannot differ. Detection is
:mod:`routing.usage.secrets` (detect-secrets plus the project's detectors in
:mod:`routing.usage.secret_forms`); no file name is needed, so a pasted
environment is caught in a docstring and in a chat message alike.
"""

from __future__ import annotations

import dataclasses

from inference.types import ChatMessage, GenerationRequest
from routing.usage.secrets import find_secrets, redact


def secret_kinds(*texts: str) -> tuple[str, ...]:
    """The kinds of secret found in ``texts`` (sorted, without repeats)."""
    kinds = {finding.kind for text in texts if text for finding in find_secrets(text)}
    return tuple(sorted(kinds))


def redact_request(request: GenerationRequest) -> GenerationRequest:
    """``request`` with every secret in its prompt replaced by ``[REDACTED:kind]``.

    Tool results (``tool`` messages) and the arguments of tool calls in the history are redacted like any text;
    each message keeps its tool calls and the id of the call it answers.
    """
    messages: list[ChatMessage] = []
    stable = request.stable_chars
    first_user = True
    for m in request.messages:
        if m.role == "user" and first_user and stable:
            # the stable prefix and the rest apart, so the prefix stays the same whatever the instruction says
            head, tail = redact(m.content[:stable])[0], redact(m.content[stable:])[0]
            messages.append(dataclasses.replace(m, content=head + tail))
            stable = len(head)
        else:
            calls = tuple(dataclasses.replace(c, arguments=redact(c.arguments)[0]) for c in m.tool_calls)
            messages.append(dataclasses.replace(m, content=redact(m.content)[0], tool_calls=calls))
        first_user = first_user and m.role != "user"
    return dataclasses.replace(
        request,
        prefix=redact(request.prefix)[0],
        suffix=redact(request.suffix)[0],
        messages=tuple(messages),
        stable_chars=stable,
    )
