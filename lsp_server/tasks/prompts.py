"""Prompts for each task kind: fill-in-the-middle for completions, chat for everything else.

The layout is deterministic and puts the most stable text first (system
prompt, cross-file definitions, then the code — for repository commands the
repository digest) and the task's instruction last, so that different tasks
on the same code (review, security, performance on one commit; explain then
fix on one function) send a byte-identical prefix up to the instruction: the
local engine's prefix cache and the providers' prompt caches hit.
:attr:`~inference.types.GenerationRequest.stable_chars` says where that prefix
ends in the user message (Anthropic's ``cache_control`` breakpoint goes
there) and ``cache_key`` (:func:`prompt_cache_key`, per repository and user)
groups the requests that share it (OpenAI's ``prompt_cache_key``).

Tasks whose answer becomes an edit get an answer format (:data:`ANSWER_FORMATS`)
after the code, which :mod:`lsp_server.tasks.edits` and
:mod:`lsp_server.tasks.naming` parse: one fenced block replacing the code
shown (or a unified diff against it), ``old -> new: reason`` lines for
renames, and one ``File: <path>``-headed block per file for multi-file work.
An instruction may set its own format instead (:func:`with_answer_format`):
the repository-wide test suite asks for one ``File: <path>`` block per test
file, not the single test file of the "generate tests" code action.
"""

from __future__ import annotations

import hashlib

from inference.types import ChatMessage, GenerationRequest
from lsp_server.analysis.context import AssembledContext
from routing.tasks import COMPLETION_TASKS, TaskKind

SYSTEM_PROMPT = (
    "You are an expert software engineer embedded in a code editor. "
    "Answer precisely and briefly. Use Markdown. Never invent APIs that the code does not show."
)

TASK_INSTRUCTIONS: dict[TaskKind, str] = {
    TaskKind.EXPLAIN: "Explain what the code above does, its inputs, outputs and side effects.",
    TaskKind.DOCSTRING: "Write a docstring for the code above, in the language's usual style.",
    TaskKind.NAMING: "Suggest clearer names for the identifiers in the code above.",
    TaskKind.REFACTOR: "Refactor the code above for clarity without changing its behaviour.",
    TaskKind.TESTS: "Write unit tests for the code above.",
    TaskKind.FIX: "Fix the problem described below in the code above; explain the cause in one sentence.",
    TaskKind.REVIEW: "Review the code above: list concrete problems with severity and a suggested fix.",
    TaskKind.MULTI_FILE_REFACTOR: "Refactor the code above across the files shown, as described below.",
    TaskKind.ARCHITECTURE: "Analyse the architecture shown and recommend improvements.",
    TaskKind.DOCUMENTATION: "Write comprehensive documentation for the code above.",
    TaskKind.SECURITY: "Find security vulnerabilities in the code above, with severity and fixes.",
    TaskKind.MIGRATION: "Migrate the code above to the target named below.",
    TaskKind.PERFORMANCE: "Suggest performance improvements for the code above.",
    TaskKind.API_INTEGRATION: "Recommend how to integrate the API used by the code above.",
}

_REPLACE = (
    "Answer format: exactly one fenced code block holding the complete replacement for the code shown "
    "last (every line of it, with the same indentation, nothing elided), or one ```diff block holding a "
    "unified diff against that code. At most two sentences of explanation, before the block; no other "
    "code blocks."
)

#: How the answer of each edit task must be laid out (parsed by lsp_server.tasks.edits / naming).
ANSWER_FORMATS: dict[TaskKind, str] = {
    TaskKind.DOCSTRING: (
        "Answer format: exactly one fenced code block holding the code shown last, unchanged except for its "
        "added or refreshed docstring or doc comment (same indentation, nothing elided); no other code blocks."
    ),
    TaskKind.NAMING: (
        "Answer format: one line per rename, exactly `old_name -> new_name: reason`, only for identifiers "
        "that appear in the code shown; no code blocks. Answer `none` when the names are already clear."
    ),
    TaskKind.REFACTOR: _REPLACE,
    TaskKind.FIX: _REPLACE,
    TaskKind.MIGRATION: _REPLACE,
    TaskKind.TESTS: (
        "Answer format: exactly one fenced code block holding a complete, runnable test file (imports "
        "included) in the project's usual test framework; no other code blocks."
    ),
    TaskKind.MULTI_FILE_REFACTOR: (
        "Answer format: for each file you change, a line `File: <path relative to the workspace root>` "
        "followed by one fenced code block holding that file's complete new content (or one ```diff block "
        "with `--- a/<path>` and `+++ b/<path>` headers). Leave out files you do not change; put at most "
        "two sentences of explanation first."
    ),
}


ANSWER_FORMAT_HEADING = "Answer format:"
"""How an answer format starts; an instruction ending with a paragraph so headed sets its own."""


def with_answer_format(instruction: str, answer_format: str) -> str:
    """``instruction`` setting ``answer_format`` (which replaces the task's default, after the code)."""
    if not answer_format.startswith(ANSWER_FORMAT_HEADING):
        raise ValueError(f"an answer format starts with {ANSWER_FORMAT_HEADING!r}")
    return f"{instruction}\n\n{answer_format}" if instruction else answer_format


def split_answer_format(instruction: str) -> tuple[str, str | None]:
    """``instruction`` without the answer format it sets, and that format (None: it sets none).

    The format is the instruction's last paragraph when that starts with
    :data:`ANSWER_FORMAT_HEADING` (see :func:`with_answer_format`).
    """
    head, _, last = instruction.rpartition("\n\n")
    if last.startswith(ANSWER_FORMAT_HEADING):
        return head, last
    return instruction, None


def build_generation_request(
    task: TaskKind,
    request_id: str,
    context: AssembledContext,
    *,
    language: str | None,
    focus_text: str,
    instruction: str = "",
    max_tokens: int,
    cache_key: str = "",
) -> GenerationRequest:
    """The model call for ``task``, without a model (each target's is filled in as it is sent);
    ``cache_key`` see :func:`prompt_cache_key`."""
    if task in COMPLETION_TASKS:
        return GenerationRequest.fim(
            request_id,
            context.prompt_prefix(),
            context.suffix,
            max_tokens=max_tokens,
            stop=() if context.multiline else ("\n",),
        )
    fence = language or ""
    stable = [f"Related definition from {s.path}:\n```{fence}\n{s.text}\n```" for s in context.snippets]
    stable.append(f"```{fence}\n{focus_text}\n```")
    asked = [TASK_INSTRUCTIONS.get(task, "Help with the code above.")]
    details, own_format = split_answer_format(instruction)
    if details:
        asked.append(f"Details: {details}")
    answer_format = own_format if own_format is not None else ANSWER_FORMATS.get(task)
    if answer_format:
        asked.append(answer_format)
    prefix = "\n\n".join(stable) + "\n\n"
    messages = (ChatMessage("system", SYSTEM_PROMPT), ChatMessage("user", prefix + "\n\n".join(asked)))
    return GenerationRequest.chat(
        request_id,
        messages,
        max_tokens=max_tokens,
        stable_chars=len(prefix),
        cache_key=cache_key,
    )


def prompt_cache_key(user: str, root: str) -> str:
    """The provider cache key of ``user``'s requests on the repository at ``root`` (a hash: names stay here)."""
    return hashlib.sha256(f"{user}\0{root}".encode()).hexdigest()[:32]
