"""The chat prompt that asks a chat model for a fill-in-the-middle completion.

Cloud chat models have no FIM sentinels, so a FIM request becomes two chat
messages: a system message with the rules and a user message holding the
code with a ``<CURSOR>`` marker. Every cloud backend uses this one prompt, so
answers are comparable across providers.
"""

from __future__ import annotations

from inference.types import ChatMessage

#: Where the inserted text goes.
CURSOR = "<CURSOR>"

FIM_SYSTEM_PROMPT = (
    "You are a code completion engine inside an editor. "
    f"Complete the code at {CURSOR}; answer with the inserted text only: "
    "no explanations, no markdown code fences, and do not repeat the code "
    f"before or after {CURSOR}. If nothing should be inserted, answer with nothing."
)


def fim_chat_messages(prefix: str, suffix: str) -> tuple[ChatMessage, ChatMessage]:
    """System and user messages that ask for the text between ``prefix`` and ``suffix``."""
    user = f"Complete the code at {CURSOR}; answer with the inserted text only.\n\n{prefix}{CURSOR}{suffix}"
    return ChatMessage("system", FIM_SYSTEM_PROMPT), ChatMessage("user", user)
