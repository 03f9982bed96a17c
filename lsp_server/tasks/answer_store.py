"""Answer reuse: a repository command or code action whose inputs are unchanged is answered from the stored result.

The key is a hash of everything the answer depends on: the user, the task,
the instruction, the hash of the digest text (which holds every included
file's content, so any change to one of them is a new key) and the task's
model tiers (the policy entry that picks the model: local reach, cloud,
tiers, answer budget) with the local model's name. An entry holds the answer
text and where it came from; it is one JSON file under ``<data_dir>/answers``,
written atomically; the oldest entries beyond :data:`MAX_ENTRIES` are
removed on each write, and answers over :data:`MAX_ANSWER_BYTES` are not
kept. A damaged or unreadable entry is a miss; a disk that cannot be written
only means nothing is stored. A code action's key (:func:`prompt_key`) is the
hash of its whole prompt (the document, the definitions and files shown, the
instruction) with the user, the task and the tiers: any change to what the
model would be shown asks it again.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import asdict, dataclass
from pathlib import Path

from lsp_server.tasks.command_results import write_document
from routing.usage.database import default_data_dir

logger = logging.getLogger(__name__)

MAX_ENTRIES = 256
MAX_ANSWER_BYTES = 1_000_000


@dataclass(frozen=True, slots=True)
class StoredAnswer:
    """One reusable answer and the route that produced it."""

    text: str
    target: str
    model: str
    cloud: bool
    completion_tokens: int
    cost_usd: float  # what it cost when it was asked (a reuse costs nothing)


def answer_key(user: str, task: str, instruction: str, digest_text: str, tiers: object) -> str:
    """The hash of an answer's inputs (``tiers``: any JSON value naming the models that may serve it)."""
    digest = hashlib.sha256(digest_text.encode("utf-8")).hexdigest()
    inputs = json.dumps([user, task, instruction, digest, tiers], sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(inputs.encode("utf-8")).hexdigest()


def store_in(data_dir: str) -> AnswerStore:
    """The answer store of a session's data directory (``<data_dir>/answers``; "" the default data directory)."""
    base = Path(data_dir).expanduser() if data_dir else default_data_dir()
    return AnswerStore(base / "answers")


def prompt_key(user: str, task: str, messages: list[tuple[str, str]], tiers: object) -> str:
    """The hash of a code action's inputs: its prompt's messages as (role, content)."""
    return answer_key(user, task, "", json.dumps(messages, separators=(",", ":")), tiers)


class AnswerStore:
    """Stored answers in ``directory``, at most ``max_entries`` of them."""

    def __init__(self, directory: Path, max_entries: int = MAX_ENTRIES) -> None:
        self.directory = directory
        self.max_entries = max_entries

    def _path(self, key: str) -> Path:
        return self.directory / f"{key}.json"

    def get(self, key: str) -> StoredAnswer | None:
        """The answer stored under ``key``, or None (never stored, removed, unreadable)."""
        try:
            data = json.loads(self._path(key).read_text(encoding="utf-8"))
            return StoredAnswer(**data)
        except FileNotFoundError:
            return None
        except (OSError, ValueError, TypeError) as exc:
            logger.info("stored answer %s unreadable (%s); asking again", key[:12], exc)
            return None

    def put(self, key: str, answer: StoredAnswer) -> None:
        """Store ``answer`` under ``key`` and remove the oldest entries beyond the bound (best effort)."""
        body = json.dumps(asdict(answer))
        if len(body.encode("utf-8")) > MAX_ANSWER_BYTES:
            return
        try:
            write_document(self._path(key), body)  # atomic: a reader never sees half an entry
            self._prune()
        except OSError as exc:
            logger.warning("cannot store the answer in %s: %s", self.directory, exc)

    def _prune(self) -> None:
        entries: list[tuple[float, Path]] = []
        for path in self.directory.glob("*.json"):
            try:
                entries.append((path.stat().st_mtime, path))
            except OSError:
                continue
        entries.sort()
        for _, path in entries[: max(0, len(entries) - self.max_entries)]:
            path.unlink(missing_ok=True)
