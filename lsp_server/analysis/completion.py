"""Multi-line decisions and trimming of generated completions, from the syntax tree.

:func:`wants_multiline` says whether a completion at a position should span
several lines: only when the cursor opens a new block (right after ``:`` or
``{``, in an empty function/class body, or on an empty line inside a block).
:func:`trim_completion` cuts generated text: a single-line completion at the
first newline; a multi-line one at the end of the syntactic block it belongs
to (dedent below the block in Python, the brace closing the enclosing block
elsewhere), then drops trailing lines that would break a parse that was clean.
"""

from __future__ import annotations

from tree_sitter import Node

from lsp_server.analysis.documents import Document
from lsp_server.analysis.langspec import LanguageSpec, spec_for
from lsp_server.analysis.languages import new_parser
from lsp_server.analysis.nodes import ancestor_path
from lsp_server.analysis.positions import decode_text, encode_text, end_point_after

_MAX_VALIDATION_STEPS = 12


def _indent_width(text: str) -> int:
    width = 0
    for char in text:
        if char == " ":
            width += 1
        elif char == "\t":
            width += 4 - width % 4
        else:
            break
    return width


def _line_parts(doc: Document, offset: int) -> tuple[str, str, int]:
    """(text before the cursor on its line, text after it, line number)."""
    line = doc.point_at(offset)[0]
    start = doc.lines.line_start(line)
    end = doc.lines.line_end(line)
    before = decode_text(doc.source[start:offset])
    after = decode_text(doc.source[offset:end]).rstrip("\r")
    return before, after, line


def _previous_code_line(doc: Document, line: int) -> str:
    for previous in range(line - 1, max(-1, line - 50), -1):
        text = doc.line_text(previous)
        if text.strip():
            return text
    return ""


def _inside_block(path: list[Node], spec: LanguageSpec) -> bool:
    kinds = spec.block_types | spec.class_types | spec.function_types
    return any(node.type in kinds for node in path[1:])


def wants_multiline(doc: Document, offset: int) -> bool:
    """Whether a completion at ``offset`` should be multi-line (see module docstring)."""
    if not doc.has_tree or doc.language is None:
        return False
    spec = spec_for(doc.language)
    before, after, line = _line_parts(doc, offset)
    if after.strip() not in {"", "}", ")", "]", "};", "end"}:
        return False
    code = before.rstrip()
    if code.endswith(":") and spec.indent_blocks:
        return True
    if code.endswith("{"):
        return True
    if code.strip():
        return False
    previous = _previous_code_line(doc, line).rstrip()
    if previous.endswith("{") or (spec.indent_blocks and previous.endswith(":")):
        return True
    if spec.indent_blocks:
        return _indent_width(before) > 0 and bool(previous)
    local = doc.local_syntax(offset)
    tree = local.tree if local is not None else doc.tree
    return tree is not None and _inside_block(ancestor_path(tree, offset), spec)


def _cut_by_indent(lines: list[str], limit: int, inclusive: bool) -> list[str]:
    for i, line in enumerate(lines):
        if i == 0 or not line.strip():
            continue
        width = _indent_width(line)
        if width < limit or (inclusive and width <= limit):
            return lines[:i]
    return lines


def _cut_by_braces(text: str, closing_in_suffix: bool) -> str:
    depth = 0
    quote = ""
    i = 0
    while i < len(text):
        char = text[i]
        if quote:
            if char == "\\":
                i += 2
                continue
            if char == quote or (char == "\n" and quote != "`"):
                quote = ""
        elif char in "\"'`":
            quote = char
        elif char == "/" and text.startswith("//", i):
            newline = text.find("\n", i)
            i = len(text) if newline < 0 else newline
            continue
        elif char == "{":
            depth += 1
        elif char == "}":
            depth -= 1
            if depth < 0:
                return text[:i].rstrip(" \t") if closing_in_suffix else text[: i + 1]
        i += 1
    return text


def _parses_cleanly(doc: Document, offset: int, inserted: str) -> bool:
    assert doc.tree is not None and doc.language is not None
    data = encode_text(inserted)
    source = doc.source[:offset] + data + doc.source[offset:]
    tree = doc.tree.copy()
    point = doc.point_at(offset)
    tree.edit(offset, offset, offset + len(data), point, point, end_point_after(point, data))
    return not new_parser(doc.language).parse(source, tree).root_node.has_error


def trim_completion(doc: Document, byte_offset: int, generated: str, multiline: bool) -> str:
    """Cut ``generated`` (text to insert at ``byte_offset``) where its line or block ends."""
    generated = generated.replace("\r\n", "\n")
    if not multiline or not doc.has_tree or doc.language is None:
        return generated.split("\n", 1)[0].rstrip("\r")
    spec = spec_for(doc.language)
    before = _line_parts(doc, byte_offset)[0]
    code = before.rstrip()
    opens = code.endswith(":") if spec.indent_blocks else code.endswith("{")
    if not code.strip():
        limit, inclusive = _indent_width(before), False
    else:
        limit, inclusive = _indent_width(before), opens
    if spec.indent_blocks:
        text = "\n".join(_cut_by_indent(generated.split("\n"), limit, inclusive))
    else:
        rest = decode_text(doc.source[byte_offset : byte_offset + 4096]).lstrip()
        text = _cut_by_braces(generated, rest.startswith("}"))
        text = "\n".join(_cut_by_indent(text.split("\n"), limit, False))
    text = text.rstrip()
    if not text:
        return text
    tree = doc.tree
    if tree is None or tree.root_node.has_error or _parses_cleanly(doc, byte_offset, text):
        return text
    lines = text.split("\n")
    for count in range(len(lines) - 1, max(0, len(lines) - 1 - _MAX_VALIDATION_STEPS), -1):
        candidate = "\n".join(lines[:count]).rstrip()
        if candidate and _parses_cleanly(doc, byte_offset, candidate):
            return candidate
    return text
