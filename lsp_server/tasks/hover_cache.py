"""The hover explanation cache: a small LRU keyed by a hash of the explained code and the route.

The key is the SHA-256 of the language, the text of the syntax node being
explained, the task and the route (target and model), so an unchanged
function hovered again is answered without calling a model, and any edit to
it, or a change of route, misses.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class CachedExplanation:
    """What a hover showed: the answer and the footer of the call that produced it."""

    text: str
    footer: str


def explanation_key(language: str | None, node_text: str, task: str, target: str, model: str) -> str:
    """The cache key of explaining ``node_text`` for ``task`` on ``target``/``model``."""
    digest = hashlib.sha256()
    for part in (language or "", task, target, model, node_text):
        digest.update(part.encode("utf-8", "surrogatepass"))
        digest.update(b"\x00")
    return digest.hexdigest()


class ExplanationCache:
    """Least-recently-used map of explanation keys to answers."""

    def __init__(self, size: int = 128) -> None:
        self.size = size
        self._entries: OrderedDict[str, CachedExplanation] = OrderedDict()
        self.hits = 0
        self.misses = 0

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: str) -> CachedExplanation | None:
        entry = self._entries.get(key)
        if entry is None:
            self.misses += 1
            return None
        self._entries.move_to_end(key)
        self.hits += 1
        return entry

    def put(self, key: str, entry: CachedExplanation) -> None:
        self._entries[key] = entry
        self._entries.move_to_end(key)
        while len(self._entries) > self.size:
            self._entries.popitem(last=False)
