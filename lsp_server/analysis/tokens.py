"""Token counting: the target model's tokenizer when given, an estimate otherwise.

Analysis never loads a tokenizer itself; callers pass a plain
``Callable[[str], int]`` (e.g. built from the target model's ``tokenizers``
tokenizer). Without one, :func:`estimate_tokens` is used: about four UTF-8
bytes per token, which is close for code with BPE tokenizers and errs on the
high side for whitespace-heavy text.
"""

from __future__ import annotations

from collections.abc import Callable

TokenCounter = Callable[[str], int]

BYTES_PER_TOKEN = 4


def estimate_tokens(text: str) -> int:
    """Estimated token count of ``text`` (ceil of UTF-8 bytes / 4)."""
    if not text:
        return 0
    size = len(text) if text.isascii() else len(text.encode("utf-8", "surrogatepass"))
    return (size + BYTES_PER_TOKEN - 1) // BYTES_PER_TOKEN


def estimate_bytes(byte_count: int) -> int:
    """Estimated token count of a text of ``byte_count`` UTF-8 bytes."""
    return (max(0, byte_count) + BYTES_PER_TOKEN - 1) // BYTES_PER_TOKEN


def counter_or_estimate(count_tokens: TokenCounter | None) -> TokenCounter:
    """``count_tokens`` itself, or :func:`estimate_tokens` when it is ``None``."""
    return count_tokens if count_tokens is not None else estimate_tokens
