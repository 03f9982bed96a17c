"""Prompts for each task kind: fill-in-the-middle for completions, chat for everything else.

The layout is deterministic and puts the most stable text first (system
prompt, cross-file definitions, then the code around the cursor) so that
consecutive requests share a prefix and the engine's prefix cache hits.
"""

from __future__ import annotations

from inference.types import ChatMessage, GenerationRequest
from lsp_server.analysis.context import AssembledContext
from routing.policy import RouteTarget
from routing.tasks import COMPLETION_TASKS, TaskKind

SYSTEM_PROMPT = (
    "You are an expert software engineer embedded in a code editor. "
    "Answer precisely and briefly. Use Markdown. Never invent APIs that the code does not show."
)

TASK_INSTRUCTIONS: dict[TaskKind, str] = {
    TaskKind.EXPLAIN: "Explain what the following code does, its inputs, outputs and side effects.",
    TaskKind.DOCSTRING: "Write a docstring for the following code, in the language's usual style.",
    TaskKind.NAMING: "Suggest clearer names for the identifiers in the following code, with one-line reasons.",
    TaskKind.REFACTOR: "Refactor the following code for clarity without changing its behaviour.",
    TaskKind.TESTS: "Write unit tests for the following code.",
    TaskKind.FIX: "Find and fix the bug in the following code; explain the cause in one sentence.",
    TaskKind.REVIEW: "Review the following code: list concrete problems with severity and a suggested fix.",
    TaskKind.MULTI_FILE_REFACTOR: "Refactor the following code across the files shown.",
    TaskKind.ARCHITECTURE: "Analyse the architecture shown and recommend improvements.",
    TaskKind.DOCUMENTATION: "Write comprehensive documentation for the following code.",
    TaskKind.SECURITY: "Find security vulnerabilities in the following code, with severity and fixes.",
    TaskKind.MIGRATION: "Migrate the following code to the target named below.",
    TaskKind.PERFORMANCE: "Suggest performance improvements for the following code.",
    TaskKind.API_INTEGRATION: "Recommend how to integrate the API used by the following code.",
}


def build_generation_request(
    task: TaskKind,
    request_id: str,
    target: RouteTarget,
    context: AssembledContext,
    *,
    language: str | None,
    focus_text: str,
    instruction: str = "",
    max_tokens: int,
) -> GenerationRequest:
    """The model call for ``task`` sent to ``target``."""
    if task in COMPLETION_TASKS:
        return GenerationRequest.fim(
            request_id,
            context.prompt_prefix(),
            context.suffix,
            model=target.model,
            max_tokens=max_tokens,
            stop=() if context.multiline else ("\n",),
        )
    fence = language or ""
    parts = []
    for snippet in context.snippets:
        parts.append(f"Related definition from {snippet.path}:\n```{fence}\n{snippet.text}\n```")
    parts.append(TASK_INSTRUCTIONS.get(task, "Help with the following code."))
    if instruction:
        parts.append(f"Details: {instruction}")
    parts.append(f"```{fence}\n{focus_text}\n```")
    messages = (ChatMessage("system", SYSTEM_PROMPT), ChatMessage("user", "\n\n".join(parts)))
    return GenerationRequest.chat(request_id, messages, model=target.model, max_tokens=max_tokens)
