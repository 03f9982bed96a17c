"""Markup the client reads: Markdown for clients that list it, plain text (no Markdown syntax, no HTML) otherwise.

Hover contents and completion documentation are written as Markdown (a
model's explanation is Markdown; the route footer is set off by a rule and
``<sub>``). A client whose ``contentFormat``/``documentationFormat`` does not
list ``markdown`` (Eglot without markdown-mode, a client that declares
nothing) would show that syntax raw, so :func:`markup` gives it
:func:`plain_text`: the same text read by markdown-it-py (CommonMark) and
written back without fences, emphasis marks, headings' ``#``, rules or HTML;
code blocks keep their lines (indented by four spaces), links keep their
target in parentheses. :func:`with_footer` adds the route footer in each kind.
"""

from __future__ import annotations

import re

from lsprotocol import types
from markdown_it import MarkdownIt
from markdown_it.token import Token

_PARSER = MarkdownIt("commonmark")
_TAG = re.compile(r"<[^>]*>")


def _inline(children: list[Token]) -> str:
    """The text of an inline token's children: markup left out, link targets kept in parentheses."""
    parts: list[str] = []
    links: list[tuple[int, str]] = []  # (where the link's text starts in parts, its target)
    for child in children:
        if child.type in ("text", "code_inline", "image"):  # an image's content is its alt text
            parts.append(child.content)
        elif child.type in ("softbreak", "hardbreak"):
            parts.append("\n")
        elif child.type == "link_open":
            links.append((len(parts), str(child.attrs.get("href", ""))))
        elif child.type == "link_close" and links:
            start, href = links.pop()
            text = "".join(parts[start:])
            parts[start:] = [text if not href or href == text else f"{text} ({href})"]
    return "".join(parts)


def plain_text(markdown: str) -> str:
    """``markdown`` as plain text: paragraphs and list items as text, code blocks indented, no markup."""
    blocks: list[str] = []
    prefix: list[str] = []  # the list markers of the enclosing list items
    ordinal: list[int] = []  # per enclosing list: the next number (0: a bullet list)
    tight = False  # the paragraph being read is a tight list's item (its paragraph token is hidden)
    new_list = False  # a top-level list starts: its first item is a new block
    for token in _PARSER.parse(markdown):
        kind = token.type
        if kind in ("bullet_list_open", "ordered_list_open"):
            new_list = new_list or not prefix
            ordinal.append(int(token.attrs.get("start", 1) or 1) if kind == "ordered_list_open" else 0)
        elif kind in ("bullet_list_close", "ordered_list_close"):
            ordinal.pop()
        elif kind == "list_item_open":
            number = ordinal[-1] if ordinal else 0
            prefix.append(f"{number}. " if number else "- ")
            if number:
                ordinal[-1] += 1
        elif kind == "list_item_close":
            prefix.pop()
        elif kind == "paragraph_open":
            tight = token.hidden
        elif kind == "inline":
            text = _inline(token.children or [])
            if prefix:
                indent = "  " * (len(prefix) - 1)
                text = indent + prefix[-1] + text.replace("\n", "\n" + indent + "  ")
                prefix[-1] = " " * len(prefix[-1])  # a second paragraph of the item is only indented
            if tight and blocks and not new_list:
                blocks[-1] += "\n" + text
            else:
                blocks.append(text)
            new_list = False
        elif kind in ("fence", "code_block"):
            code = token.content.rstrip("\n")
            blocks.append("\n".join("    " + line if line else "" for line in code.split("\n")))
        elif kind == "html_block":
            text = _TAG.sub("", token.content).strip()
            if text:
                blocks.append(text)
    return "\n\n".join(blocks)


def fenced(code: str, language: str | None) -> str:
    """``code`` as a Markdown fenced block (a fence longer than any run of backticks in it)."""
    longest = max((len(run) for run in re.findall(r"`+", code)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}{language or ''}\n{code.rstrip(chr(10))}\n{fence}"


def with_footer(markdown: str, footer: str, formats: tuple[str, ...]) -> types.MarkupContent:
    """``markdown`` and the route ``footer`` (empty: none) in the first kind of ``formats`` the server can write.

    Markdown when the client lists it (the footer under a rule, in ``<sub>``);
    otherwise plain text (:func:`plain_text`), the footer on its own line.
    """
    if types.MarkupKind.Markdown.value in formats:
        value = markdown + (f"\n\n---\n<sub>{footer}</sub>" if footer else "")
        return types.MarkupContent(kind=types.MarkupKind.Markdown, value=value)
    value = "\n\n".join(part for part in (plain_text(markdown), footer) if part)
    return types.MarkupContent(kind=types.MarkupKind.PlainText, value=value)
