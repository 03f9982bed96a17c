"""Incremental detokenization with stop strings, for engines that stream token ids.

Decoding the whole answer after every token and sending only the new tail
keeps the streamed pieces exactly equal to one final ``decode`` (byte-level
BPE pieces and SentencePiece leading spaces included). Text is held back
while it ends in an incomplete UTF-8 character (``\\ufffd``) or in the
beginning of a stop string, so nothing past a stop string is ever sent.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

__all__ = ["IncrementalText"]

_REPLACEMENT = "\ufffd"


class IncrementalText:
    """Token ids in, safe-to-send text deltas out; notices stop strings."""

    def __init__(self, decode: Callable[[Sequence[int]], str], stop: Iterable[str] = ()) -> None:
        self._decode = decode
        self._stop = tuple(s for s in stop if s)
        self._longest_stop = max((len(s) for s in self._stop), default=0)
        self._ids: list[int] = []
        self._sent = 0  # characters of the decoded answer already sent
        #: True once a stop string appeared; the answer ends before it.
        self.stopped = False

    @property
    def token_count(self) -> int:
        return len(self._ids)

    def push(self, token_ids: Iterable[int]) -> str:
        """Add generated ids; return the text that can be sent now (maybe empty)."""
        if self.stopped:
            return ""
        self._ids.extend(token_ids)
        text = self._decode(self._ids)
        cut = self._find_stop(text)
        if cut is not None:
            self.stopped = True
            return self._take(text, cut)
        end = len(text.rstrip(_REPLACEMENT))
        end -= self._partial_stop_len(text[:end])
        return self._take(text, end)

    def finish(self) -> str:
        """The rest of the answer once generation ended (nothing if a stop string ended it)."""
        if self.stopped:
            return ""
        text = self._decode(self._ids)
        cut = self._find_stop(text)
        if cut is not None:
            self.stopped = True
            return self._take(text, cut)
        return self._take(text, len(text))

    def _take(self, text: str, end: int) -> str:
        if end <= self._sent:
            return ""
        delta = text[self._sent : end]
        self._sent = end
        return delta

    def _find_stop(self, text: str) -> int | None:
        if not self._stop:
            return None
        start = max(0, self._sent - self._longest_stop)
        hits = [i for i in (text.find(s, start) for s in self._stop) if i >= 0]
        return min(hits) if hits else None

    def _partial_stop_len(self, text: str) -> int:
        """Length of the longest tail of ``text`` that begins some stop string."""
        best = 0
        for stop in self._stop:
            for k in range(min(len(stop) - 1, len(text)), best, -1):
                if text.endswith(stop[:k]):
                    best = k
                    break
        return best
