"""Rename suggestions: read ``old -> new`` lines from an answer, edit every occurrence through the tree.

The prompt asks for one line per rename, ``old_name -> new_name: reason``;
list markers, backticks and ``→``/``=>`` arrows are tolerated. Occurrences
are the identifier leaves of the syntax tree whose text is exactly the old
name (so strings and comments are left alone); a rename is skipped, with a
reason, when the old name is not an identifier of the file, the new name is
not a valid identifier, or the new name is already used in the file.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

from tree_sitter import Node

from lsp_server.tasks.edits import Replacement

_RENAME = re.compile(
    r"^\s*(?:[-*+]\s+|\d+[.)]\s+)?\**`?(?P<old>[A-Za-z_$][\w$]*)`?\**\s*(?:->|→|=>)\s*"
    r"\**`?(?P<new>[A-Za-z_$][\w$]*)`?\**\s*(?:[:—–-]+\s*(?P<reason>.*))?$"
)
_IDENTIFIER = re.compile(r"^[A-Za-z_$][\w$]*$")
_NAME_NODES = frozenset({"constant", "name", "simple_identifier", "word"})


@dataclass(frozen=True, slots=True)
class Rename:
    """One suggested rename and why."""

    old: str
    new: str
    reason: str = ""


def parse_renames(answer: str) -> list[Rename]:
    """Every ``old -> new`` line of ``answer``, first suggestion per old name, no-op renames dropped."""
    renames: dict[str, Rename] = {}
    for line in answer.splitlines():
        match = _RENAME.match(line)
        if match is None:
            continue
        old, new = match.group("old"), match.group("new")
        if old != new and old not in renames:
            renames[old] = Rename(old, new, (match.group("reason") or "").strip())
    return list(renames.values())


def _is_name(node: Node) -> bool:
    return node.child_count == 0 and (node.type.endswith("identifier") or node.type in _NAME_NODES)


def identifiers(root: Node) -> Iterator[Node]:
    """Every identifier leaf under ``root``, in document order."""
    cursor = root.walk()
    while True:
        node = cursor.node
        if node is not None and _is_name(node):
            yield node
        if cursor.goto_first_child():
            continue
        while not cursor.goto_next_sibling():
            if not cursor.goto_parent():
                return


@dataclass(frozen=True, slots=True)
class RenamePlan:
    """The edits of the renames that can be made, and why the others cannot."""

    applied: tuple[Rename, ...]
    replacements: tuple[Replacement, ...]
    skipped: tuple[str, ...]


def plan_renames(root: Node, source: bytes, renames: list[Rename]) -> RenamePlan:
    """One replacement per occurrence of each applicable rename, in document order."""
    occurrences: dict[str, list[tuple[int, int]]] = {}
    for node in identifiers(root):
        text = source[node.start_byte : node.end_byte].decode("utf-8", "replace")
        occurrences.setdefault(text, []).append((node.start_byte, node.end_byte))
    applied: list[Rename] = []
    skipped: list[str] = []
    replacements: list[Replacement] = []
    taken = set(occurrences)
    for rename in renames:
        if not _IDENTIFIER.match(rename.new):
            skipped.append(f"{rename.old} -> {rename.new}: not a valid identifier")
        elif rename.old not in occurrences:
            skipped.append(f"{rename.old} -> {rename.new}: `{rename.old}` is not a name in this file")
        elif rename.new in taken:
            skipped.append(f"{rename.old} -> {rename.new}: `{rename.new}` is already used in this file")
        else:
            applied.append(rename)
            taken.add(rename.new)
            replacements.extend(Replacement(s, e, rename.new) for s, e in occurrences[rename.old])
    replacements.sort(key=lambda r: r.start)
    return RenamePlan(tuple(applied), tuple(replacements), tuple(skipped))
