"""Ids of the tool calls an engine without its own ids answers (the local engines, the instant engine)."""

from __future__ import annotations

import hashlib


def call_id(request_id: str, index: int) -> str:
    """The id of a request's ``index``-th tool call: short (OpenAI takes at most 40 characters), stable, unique."""
    digest = hashlib.blake2b(request_id.encode(), digest_size=12).hexdigest()
    return f"call_{digest}_{index}"
