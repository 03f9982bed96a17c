"""Secrets in context bound for the cloud: find them, and redact a generation request before it leaves."""

from __future__ import annotations

import dataclasses

from inference.types import ChatMessage, GenerationRequest
from routing.usage.secrets import find_secrets, redact


def secret_kinds(*texts: str) -> tuple[str, ...]:
    """The kinds of secret found in ``texts`` (sorted, without repeats)."""
    kinds = {finding.kind for text in texts if text for finding in find_secrets(text)}
    return tuple(sorted(kinds))


def redact_request(request: GenerationRequest) -> GenerationRequest:
    """``request`` with every secret in its prompt replaced by ``[REDACTED:kind]``."""
    messages = tuple(ChatMessage(m.role, redact(m.content)[0]) for m in request.messages)
    return dataclasses.replace(
        request, prefix=redact(request.prefix)[0], suffix=redact(request.suffix)[0], messages=messages
    )
