"""Turning a :class:`GenerationRequest` into what a local model reads, shared by both engines.

- FIM requests are rendered with the model's :class:`~inference.fim.FimFormat`
  (detected from the tokenizer's special tokens); a model without FIM
  tokens gets the prefix alone, as a plain left-to-right completion.
- CHAT requests go through the tokenizer's chat template when it has one
  (with the request's tools and tool turns, :mod:`inference.local._tools`),
  else a plain ``role: content`` layout ending in ``assistant:``.
- Stop token ids: the model's end-of-text tokens, the FIM family's stop
  tokens and the usual end-of-turn tokens, where the vocabulary has them.
- The context check runs before anything is submitted to an engine.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from inference.errors import BadRequestError, ContextTooLongError
from inference.fim import FIM_FORMATS, FimFormat, detect_fim_format, has_sentinels
from inference.local._tools import template_messages
from inference.types import GenerationRequest, RequestKind

__all__ = [
    "PromptPlan",
    "check_context",
    "configured_tokenizer_fim",
    "detect_tokenizer_fim",
    "render_prompt",
    "stop_token_ids",
    "tokenizer_special_tokens",
]

#: End-of-turn tokens of common chat templates, honoured when present.
_END_OF_TURN = ("<|im_end|>", "<|eot_id|>", "<|EOT|>", "<|end|>", "<end_of_turn>", "<EOT>")


@dataclass(frozen=True, slots=True)
class PromptPlan:
    """The prompt text and whether the tokenizer should add its BOS/EOS around it."""

    text: str
    add_special_tokens: bool


def tokenizer_special_tokens(tokenizer: Any) -> set[str]:
    """Every special and added token string the tokenizer knows."""
    tokens: set[str] = set(getattr(tokenizer, "all_special_tokens", ()) or ())
    added = getattr(tokenizer, "get_added_vocab", None)
    if callable(added):
        tokens.update(added().keys())
    return tokens


def configured_tokenizer_fim(tokenizer: Any, model_name: str, setting: str) -> tuple[FimFormat | None, str]:
    """The FIM format ``[local] fim_format`` asks for, and a warning when the tokenizer disagrees ("" if none).

    ``auto`` detects it (:func:`detect_tokenizer_fim`); ``none`` uses no FIM
    tokens (the prefix alone); a family name is used as told, with a warning
    when the tokenizer has none of that family's sentinels (they would be
    split into ordinary tokens and the model would not see a FIM prompt).
    """
    if setting == "auto":
        return detect_tokenizer_fim(tokenizer, model_name), ""
    if setting == "none":
        return None, ""
    fim = FIM_FORMATS[setting]
    tokens = tokenizer_special_tokens(tokenizer)
    vocab = tokenizer.get_vocab() if hasattr(tokenizer, "get_vocab") else {}
    if has_sentinels(fim, tokens) or has_sentinels(fim, vocab.keys()):
        return fim, ""
    detected = detect_tokenizer_fim(tokenizer, model_name)
    found = f"its tokenizer has {detected.family}'s" if detected is not None else "its tokenizer has no FIM tokens"
    return fim, (
        f"fim_format = {setting!r}, but {model_name}'s tokenizer lacks that family's sentinels "
        f'({", ".join(fim.sentinel_tokens)}) and {found}: completions will be poor; set fim_format = "auto"'
    )


def detect_tokenizer_fim(tokenizer: Any, model_name: str) -> FimFormat | None:
    """The FIM format of the tokenizer's model (special tokens first, then its vocabulary)."""
    specials = tokenizer_special_tokens(tokenizer)
    found = detect_fim_format(specials)
    if found is not None:
        return found
    # Some tokenizers (CodeLlama's) keep the sentinels in the plain vocabulary.
    vocab = tokenizer.get_vocab() if hasattr(tokenizer, "get_vocab") else {}
    return detect_fim_format(vocab.keys(), model_name)


def render_prompt(request: GenerationRequest, tokenizer: Any, fim: FimFormat | None) -> PromptPlan:
    """The prompt text for ``request``; raises :class:`BadRequestError` for an empty chat."""
    if request.kind is RequestKind.FIM:
        if fim is None:
            return PromptPlan(request.prefix, True)
        return PromptPlan(fim.render(request.prefix, request.suffix), True)
    if not request.messages:
        raise BadRequestError("a chat request needs at least one message")
    messages, extra = template_messages(request, tokenizer)
    if getattr(tokenizer, "chat_template", None):
        text = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True, **extra)
        # The template already holds any BOS token; do not add a second one.
        return PromptPlan(str(text), False)
    lines = [f"{m['role']}: {m['content']}\n" for m in messages]
    return PromptPlan("".join(lines) + "assistant:", True)


def _token_id(tokenizer: Any, token: str, added: dict[str, int]) -> int | None:
    if token in added:
        return added[token]
    token_id = tokenizer.convert_tokens_to_ids(token)
    if not isinstance(token_id, int) or token_id < 0:
        return None
    unk = getattr(tokenizer, "unk_token_id", None)
    if unk is not None and token_id == unk and token != getattr(tokenizer, "unk_token", None):
        return None
    return token_id


def stop_token_ids(tokenizer: Any, fim: FimFormat | None, extra_eos: Iterable[int] = ()) -> tuple[int, ...]:
    """Ids that end an answer: EOS (tokenizer's and ``extra_eos``), FIM stops, end-of-turn.

    End-of-turn tokens count only as added tokens (where a template uses
    them); the FIM family's stop tokens are also looked up in the plain
    vocabulary, where CodeLlama keeps ``\u2581<EOT>``.
    """
    added_fn = getattr(tokenizer, "get_added_vocab", None)
    added: dict[str, int] = dict(added_fn()) if callable(added_fn) else {}
    ids: list[int] = []
    eos = getattr(tokenizer, "eos_token_id", None)
    if isinstance(eos, int):
        ids.append(eos)
    ids.extend(extra_eos)
    ids.extend(added[name] for name in _END_OF_TURN if name in added)
    if fim is not None:
        for name in (*fim.stop_tokens, *(a for a in fim.token_aliases if a.endswith("<EOT>"))):
            token_id = _token_id(tokenizer, name, added)
            if token_id is not None:
                ids.append(token_id)
    return tuple(dict.fromkeys(ids))


def check_context(prompt_tokens: int, max_tokens: int, max_model_len: int, model: str) -> None:
    """Raise :class:`ContextTooLongError` when the answer could not fit the window."""
    if prompt_tokens + max_tokens > max_model_len:
        raise ContextTooLongError(
            f"prompt of {prompt_tokens} tokens plus max_tokens={max_tokens} exceeds the "
            f"{max_model_len}-token window of {model}; send less context or fewer max_tokens"
        )
