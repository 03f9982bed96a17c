"""An LRU of completions keyed by the exact prompt, so retyping the same text does not hit the engine."""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class CachedCompletion:
    text: str
    target: str
    model: str


class CompletionCache:
    """``capacity`` most recent completions; 0 disables the cache."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._items: OrderedDict[str, CachedCompletion] = OrderedDict()
        self.hits = 0
        self.misses = 0

    @staticmethod
    def key(prompt_prefix: str, suffix: str, model: str, owner: str = "") -> str:
        """The entry of this prompt for ``owner`` (a multi-client server's sessions share one cache: each user's
        completions are their own, never served to another user whose text happens to match)."""
        digest = hashlib.sha256()
        for part in (owner, model, prompt_prefix, suffix):
            digest.update(part.encode("utf-8", "surrogatepass"))
            digest.update(b"\x00")
        return digest.hexdigest()

    def get(self, key: str) -> CachedCompletion | None:
        item = self._items.get(key)
        if item is None:
            self.misses += 1
            return None
        self._items.move_to_end(key)
        self.hits += 1
        return item

    def put(self, key: str, value: CachedCompletion) -> None:
        if self.capacity <= 0:
            return
        self._items[key] = value
        self._items.move_to_end(key)
        while len(self._items) > self.capacity:
            self._items.popitem(last=False)

    def __len__(self) -> int:
        return len(self._items)
