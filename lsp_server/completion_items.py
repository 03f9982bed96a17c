"""Completion items that survive the client's filtering and insert exactly the right text.

Editors filter completion items by the word already typed before the cursor
(Neovim's omnifunc keeps items whose word starts with it, VS Code fuzzy-matches
it against ``filterText``/``label``) and, without a ``textEdit``, replace that
word with the item's text. A model's continuation (``me`` after ``x = na``)
alone would be hidden, or would turn ``na`` into ``me``. So each item:

* edits from the start of the word being typed (:func:`typed_word`, by the
  language's identifier rules, in the negotiated position encoding) to the
  cursor — an ``InsertReplaceEdit`` whose replace range also covers the rest
  of the word after the cursor when the client supports it, the list's
  ``itemDefaults.editRange`` (and the item's ``textEditText``) when the client
  supports that;
* inserts the typed prefix + the continuation — as a snippet with ``$``,
  ``}`` and ``\\`` escaped (and no placeholders) where the client supports
  snippets (Neovim 0.11+ inserts only the first word of a plain-text item and
  expands snippets whole), else as plain text — following lines as the model
  wrote them (``insertTextMode`` ``asIs`` where the client can be told, so
  their indentation is not adjusted a second time; a snippet for a client that
  cannot be told gets them less the cursor line's indentation, which the
  client adds back);
* has a ``label`` and ``filterText`` that start with the typed prefix, and the
  continuation alone in ``detail``.

The handler builds every answer this way — fresh, cached or from the gateway.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from lsprotocol import types

from lsp_server.analysis.documents import Document
from lsp_server.analysis.positions import PositionEncoding, decode_text, encode_text

LABEL_LIMIT = 80
"""Longest label (characters); the typed prefix is always kept whole."""

_EXTRA_WORD_CHARS: dict[str, str] = {
    "javascript": "$",
    "typescript": "$",
    "tsx": "$",
    "java": "$",
    "php": "$",
}
"""Characters besides Unicode identifier characters that continue a word, per language."""

_SIGILS: dict[str, str] = {"ruby": "@$", "php": "$"}
"""Characters that may start a word before its identifier characters (``@name``, ``$name``)."""


def _is_word_char(char: str, extra: str) -> bool:
    return char in extra or ("a" + char).isidentifier()


def word_bounds(before: str, after: str, language: str | None) -> tuple[int, int]:
    """(characters of the word before the cursor, characters of it after the cursor).

    ``before``/``after`` are the cursor line's text either side of the cursor.
    A word is a run of identifier characters (Unicode ``XID_Continue``, plus the
    language's extras such as ``$`` in JavaScript), with a leading sigil where
    the language has them (``@`` and ``$`` in Ruby, ``$`` in PHP).
    """
    extra = _EXTRA_WORD_CHARS.get(language or "", "")
    start = len(before)
    while start > 0 and _is_word_char(before[start - 1], extra):
        start -= 1
    sigils = _SIGILS.get(language or "", "")
    while start > 0 and before[start - 1] in sigils:
        start -= 1
    end = 0
    while end < len(after) and _is_word_char(after[end], extra):
        end += 1
    return len(before) - start, end


@dataclass(frozen=True, slots=True)
class TypedWord:
    """The word being typed at the cursor, with the ranges a completion edits."""

    prefix: str  # from the word's start to the cursor
    start: types.Position
    cursor: types.Position
    end: types.Position  # the end of the word after the cursor (the replace range's end)
    indent: str = ""  # the cursor line's leading whitespace

    @property
    def insert_range(self) -> types.Range:
        return types.Range(start=self.start, end=self.cursor)

    @property
    def replace_range(self) -> types.Range:
        return types.Range(start=self.start, end=self.end)


def typed_word(doc: Document, offset: int, encoding: PositionEncoding) -> TypedWord:
    """The word around byte ``offset`` of ``doc``, its positions in ``encoding``."""
    line, column = doc.point_at(offset)
    raw = encode_text(doc.line_text(line))
    before, after = decode_text(raw[:column]), decode_text(raw[column:])
    back, forward = word_bounds(before, after, doc.language)
    prefix = before[len(before) - back :]
    start = offset - len(encode_text(prefix))
    end = offset + len(encode_text(after[:forward]))

    def position(byte_offset: int) -> types.Position:
        line_no, character = doc.position_at(byte_offset, encoding)
        return types.Position(line=line_no, character=character)

    indent = before[: len(before) - len(before.lstrip(" \t"))]
    return TypedWord(prefix, position(start), position(offset), position(end), indent)


@dataclass(frozen=True, slots=True)
class CompletionSupport:
    """What the client's ``textDocument.completion`` capabilities allow."""

    insert_replace: bool = False
    default_edit_range: bool = False
    label_details: bool = False
    as_is: bool = False  # insertTextMode asIs can be set per item
    snippets: bool = False

    @classmethod
    def of(cls, completion: types.CompletionClientCapabilities | None) -> CompletionSupport:
        """The support ``textDocument.completion`` declares (read once, by :mod:`lsp_server.client_capabilities`)."""
        if completion is None:
            return cls()
        item = completion.completion_item
        listed = completion.completion_list
        modes = item.insert_text_mode_support if item is not None else None
        return cls(
            insert_replace=bool(item is not None and item.insert_replace_support),
            default_edit_range=bool(listed is not None and "editRange" in (listed.item_defaults or [])),
            label_details=bool(item is not None and item.label_details_support),
            as_is=bool(modes is not None and types.InsertTextMode.AsIs in modes.value_set),
            snippets=bool(item is not None and item.snippet_support),
        )


def escape_snippet(text: str) -> str:
    """``text`` as a snippet that inserts exactly ``text`` (``\\``, ``$`` and ``}`` escaped)."""
    return text.replace("\\", "\\\\").replace("$", "\\$").replace("}", "\\}")


def _dedent_following(text: str, indent: str) -> str:
    """``text`` with ``indent`` taken off the start of every line after the first that has it."""
    if not indent or "\n" not in text:
        return text
    first, *rest = text.split("\n")
    return "\n".join([first, *(line[len(indent) :] if line.startswith(indent) else line for line in rest)])


def _label(prefix: str, continuation: str) -> str:
    """``prefix`` + the continuation's first line (its first non-blank line when that is blank), cut to fit."""
    lines = continuation.splitlines() or [""]
    first = prefix + lines[0]
    if not first.strip():
        following = next((line.strip() for line in lines[1:] if line.strip()), "")
        first = prefix + following
    limit = max(LABEL_LIMIT, len(prefix) + 1)
    return first if len(first) <= limit else first[: limit - 1] + "…"


def completion_list(
    word: TypedWord,
    continuation: str,
    support: CompletionSupport,
    *,
    route: str,
    documentation: str | types.MarkupContent,
    data: dict[str, Any],
) -> types.CompletionList:
    """The one-item list that inserts ``word.prefix + continuation`` over the typed word.

    ``route`` (where it ran) goes to ``labelDetails.description`` when the client
    shows it; ``documentation`` is the route footer.
    """
    new_text = word.prefix + continuation
    if support.snippets:
        if not support.as_is:  # a snippet's following lines get the cursor line's indentation added
            new_text = _dedent_following(new_text, word.indent)
        new_text = escape_snippet(new_text)
    edit: types.TextEdit | types.InsertReplaceEdit | None
    defaults: types.CompletionItemDefaults | None = None
    if support.default_edit_range:
        edit_range: types.Range | types.EditRangeWithInsertReplace = word.insert_range
        if support.insert_replace:
            edit_range = types.EditRangeWithInsertReplace(insert=word.insert_range, replace=word.replace_range)
        defaults = types.CompletionItemDefaults(edit_range=edit_range)
        edit = None
    elif support.insert_replace:
        edit = types.InsertReplaceEdit(new_text=new_text, insert=word.insert_range, replace=word.replace_range)
    else:
        edit = types.TextEdit(range=word.insert_range, new_text=new_text)
    item = types.CompletionItem(
        label=_label(word.prefix, continuation),
        label_details=types.CompletionItemLabelDetails(description=route) if support.label_details else None,
        kind=types.CompletionItemKind.Snippet,
        detail=continuation,
        documentation=documentation,
        sort_text="0",
        filter_text=word.prefix + continuation.split("\n", 1)[0].rstrip("\r"),
        insert_text=new_text,  # for clients that ignore the edit: it replaces the typed word too
        insert_text_format=types.InsertTextFormat.Snippet if support.snippets else types.InsertTextFormat.PlainText,
        insert_text_mode=types.InsertTextMode.AsIs if support.as_is else None,
        text_edit=edit,
        text_edit_text=new_text if defaults is not None else None,
        data=data,
    )
    return types.CompletionList(is_incomplete=True, items=[item], item_defaults=defaults)
