"""Ask, check, retry once: the loop that turns a model's answers into edits that parse, or a refusal.

``ask(extra)`` calls the model (``extra`` is added to the request's
instruction; empty the first time) and returns the answer text, or ``None``
when there was no answer. ``interpret`` turns an answer into file changes or
raises :class:`~lsp_server.tasks.edits.AnswerError` /
:class:`~lsp_server.tasks.edits.NoEdit`. An answer error marked ``retry`` is
sent back once, with the reason; a second failure is a refusal.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from lsp_server.tasks.answers import ParsedAnswer, parse_answer
from lsp_server.tasks.edits import AnswerError, FileChange, NoEdit


@dataclass(frozen=True, slots=True)
class Outcome:
    """What came of an edit task: changes to apply, or why there are none."""

    changes: tuple[FileChange, ...] = ()
    answer: str = ""  # the last answer (its prose is shown with the edit or instead of it)
    refused: str = ""  # why the answer was refused after the retry (or without one)
    no_edit: str = ""  # why there is nothing to apply, though the answer is fine (prose only)
    attempts: int = 0
    reasons: tuple[str, ...] = field(default_factory=tuple)  # every rejection, in order


def retry_instruction(reason: str) -> str:
    """What the model is told after a rejected answer."""
    return (
        f"Your previous answer was rejected: {reason}. "
        "Answer again, complete and in exactly the format asked for, and make sure the result parses."
    )


async def checked_changes(
    ask: Callable[[str], Awaitable[str | None]],
    interpret: Callable[[ParsedAnswer], list[FileChange]],
) -> Outcome:
    """Ask for an answer, interpret and check it; on a retryable error ask once more with the reason."""
    reasons: list[str] = []
    extra = ""
    answer = ""
    for attempt in (1, 2):
        text = await ask(extra)
        if text is None:
            return Outcome(answer=answer, refused="no answer", attempts=attempt, reasons=tuple(reasons))
        answer = text
        try:
            changes = interpret(parse_answer(text))
        except NoEdit as exc:
            return Outcome(answer=answer, no_edit=exc.reason, attempts=attempt, reasons=tuple(reasons))
        except AnswerError as exc:
            reasons.append(exc.reason)
            if not exc.retry or attempt == 2:
                return Outcome(answer=answer, refused=exc.reason, attempts=attempt, reasons=tuple(reasons))
            extra = retry_instruction(exc.reason)
            continue
        return Outcome(tuple(changes), answer, attempts=attempt, reasons=tuple(reasons))
    raise AssertionError("unreachable")  # pragma: no cover
