"""Fill-in-the-middle prompt formats of the code-model families we serve.

A base code model completes the gap between ``prefix`` and ``suffix`` when it
is given both in the order it was trained on (prefix-suffix-middle, "PSM")
with its family's sentinel tokens, and stops at one of its end tokens:

- qwen2.5-coder: ``<|fim_prefix|>P<|fim_suffix|>S<|fim_middle|>``; stops at
  ``<|endoftext|>``, ``<|fim_pad|>``, ``<|file_sep|>``, ``<|repo_name|>``.
- starcoder2: ``<fim_prefix>P<fim_suffix>S<fim_middle>``; stops at
  ``<|endoftext|>``, ``<file_sep>``.
- deepseek-coder: ``<FB fim_begin FB>P<FB fim_hole FB>S<FB fim_end FB>``
  where FB is the fullwidth bar U+FF5C and the ``_`` is U+2581 (see the
  constants below); stops at ``<|EOT|>`` and its end-of-sentence token.
- codellama: ``<PRE> P <SUF>S <MID>``; stops at ``<EOT>``. Its
  SentencePiece vocabulary spells the sentinels ``\u2581<PRE>`` and so on,
  which is what the leading space before ``<PRE>`` turns into.

:func:`detect_fim_format` looks at a tokenizer's special/added tokens first,
so a model directory with an uninformative name is still recognised;
:func:`fim_format_for_model_name` guesses from a name alone. A remote server's
tokenizer is asked through :attr:`FimFormat.sentinel_spellings` (see
:mod:`inference.remote.openai_compatible`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

__all__ = [
    "FIM_FORMATS",
    "FimFormat",
    "detect_fim_format",
    "fim_format_for_model_name",
    "has_sentinels",
]


@dataclass(frozen=True, slots=True)
class FimFormat:
    """One family's fill-in-the-middle sentinels, stop tokens and prompt layout."""

    family: str  # "qwen2.5-coder" | "starcoder2" | "deepseek-coder" | "codellama"
    prefix_token: str
    suffix_token: str
    middle_token: str
    stop_tokens: tuple[str, ...]  # tokens that end a FIM answer
    #: How the pieces are laid out; ``{pre}``/``{suf}``/``{mid}`` are the
    #: sentinels, ``{prefix}``/``{suffix}`` the code around the cursor.
    template: str = "{pre}{prefix}{suf}{suffix}{mid}"
    #: Other spellings of the sentinels in a tokenizer vocabulary (detection only).
    token_aliases: tuple[str, ...] = field(default=())

    def render(self, prefix: str, suffix: str) -> str:
        """The prompt (PSM order) that asks a base model for the middle."""
        return self.template.format(
            pre=self.prefix_token,
            suf=self.suffix_token,
            mid=self.middle_token,
            prefix=prefix,
            suffix=suffix,
        )

    @property
    def sentinel_tokens(self) -> tuple[str, str, str]:
        """The three sentinels, in prompt order."""
        return (self.prefix_token, self.suffix_token, self.middle_token)

    @property
    def sentinel_spellings(self) -> tuple[tuple[str, ...], ...]:
        """The three sentinels as prompts write them, then as the vocabulary spells them (when it differs).

        A server's tokenizer that turns one of these triples into exactly
        three tokens holds this family's sentinels as (special) tokens; see
        :func:`detect_fim_format`, which takes the tokens of such triples.
        """
        spellings: tuple[tuple[str, ...], ...] = (self.sentinel_tokens,)
        if len(self.token_aliases) >= 3:
            spellings += (self.token_aliases[:3],)
        return spellings


_QWEN = FimFormat(
    family="qwen2.5-coder",
    prefix_token="<|fim_prefix|>",
    suffix_token="<|fim_suffix|>",
    middle_token="<|fim_middle|>",
    stop_tokens=("<|endoftext|>", "<|fim_pad|>", "<|file_sep|>", "<|repo_name|>"),
)
_STARCODER2 = FimFormat(
    family="starcoder2",
    prefix_token="<fim_prefix>",
    suffix_token="<fim_suffix>",
    middle_token="<fim_middle>",
    stop_tokens=("<|endoftext|>", "<file_sep>"),
)
_DEEPSEEK = FimFormat(
    family="deepseek-coder",
    prefix_token="<\uff5cfim\u2581begin\uff5c>",
    suffix_token="<\uff5cfim\u2581hole\uff5c>",
    middle_token="<\uff5cfim\u2581end\uff5c>",
    stop_tokens=("<|EOT|>", "<\uff5cend\u2581of\u2581sentence\uff5c>"),
)
_CODELLAMA = FimFormat(
    family="codellama",
    prefix_token="<PRE>",
    suffix_token="<SUF>",
    middle_token="<MID>",
    stop_tokens=("<EOT>",),
    template="{pre} {prefix} {suf}{suffix} {mid}",
    token_aliases=("\u2581<PRE>", "\u2581<SUF>", "\u2581<MID>", "\u2581<EOT>"),
)

#: Every known format, by family name.
FIM_FORMATS: Mapping[str, FimFormat] = MappingProxyType(
    {f.family: f for f in (_QWEN, _STARCODER2, _DEEPSEEK, _CODELLAMA)}
)

# Name patterns, most specific first. Matched against the lower-cased name,
# which may be a hub id ("Qwen/Qwen2.5-Coder-1.5B"), an Ollama tag
# ("qwen2.5-coder:7b-base") or a local path.
_NAME_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"deepseek[-_ ]?coder"), "deepseek-coder"),
    (re.compile(r"code[-_ ]?llama"), "codellama"),
    (re.compile(r"starcoder|santacoder"), "starcoder2"),
    (re.compile(r"qwen[0-9.]*[-_ ]?coder"), "qwen2.5-coder"),
)


def fim_format_for_model_name(model_name: str) -> FimFormat | None:
    """Guess the format from a model name alone; None when the name says nothing."""
    lowered = model_name.lower()
    for pattern, family in _NAME_PATTERNS:
        if pattern.search(lowered):
            return FIM_FORMATS[family]
    return None


def has_sentinels(fmt: FimFormat, tokens: Iterable[str]) -> bool:
    """Whether ``tokens`` (a tokenizer's special tokens or vocabulary) hold ``fmt``'s three sentinels."""
    return _matches(fmt, frozenset(tokens))


def _matches(fmt: FimFormat, tokens: frozenset[str]) -> bool:
    if all(t in tokens for t in fmt.sentinel_tokens):
        return True
    aliases = fmt.token_aliases
    return len(aliases) >= 3 and all(a in tokens for a in aliases[:3])


def detect_fim_format(special_tokens: Iterable[str], model_name: str = "") -> FimFormat | None:
    """The format whose three sentinels are all among ``special_tokens``.

    ``special_tokens`` are a tokenizer's special and added tokens (its whole
    vocabulary works too). The model name only breaks a tie between several
    matching families, or decides alone when no family's sentinels are
    present (some tokenizers keep the sentinels in the plain vocabulary).
    """
    tokens = frozenset(special_tokens)
    candidates = [fmt for fmt in FIM_FORMATS.values() if _matches(fmt, tokens)]
    by_name = fim_format_for_model_name(model_name) if model_name else None
    if len(candidates) == 1:
        return candidates[0]
    if candidates:
        if by_name is not None and by_name in candidates:
            return by_name
        return candidates[0]
    return by_name
