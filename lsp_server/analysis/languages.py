"""Which tree-sitter language a document is, and its parser and queries.

Languages come from ``tree-sitter-language-pack`` (pinned, grammars are
bundled). The LSP ``languageId`` decides first, the file extension second;
anything else is plain text (``None``), never an error.

Queries live in ``queries/<language>.scm``, one file per language, split into
three sections by ``;; section: <name>`` lines:

* ``tags``: ``@definition.<kind>`` + ``@name`` for definitions, ``@import``
  for import/include statements, ``@package`` for package/namespace names;
* ``locals``: ``@binding`` for every name bound in the file, ``@import``;
* ``references``: ``@reference`` for identifiers, ``@reference.object`` +
  ``@reference.member`` for ``object.member`` pairs, ``@reference.path`` for
  qualified paths (``crate::a::b``), ``@reference.ignore`` for identifiers
  that are not references (keyword-argument names, member names).

A file may start with ``; inherits: <language>`` to prepend another
language's file (TSX inherits TypeScript, C++ inherits C).
"""

from __future__ import annotations

import functools
import importlib.resources
import logging
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import PurePath
from typing import cast

from tree_sitter import Language, Parser, Query
from tree_sitter_language_pack import SupportedLanguage, get_language

logger = logging.getLogger(__name__)

SUPPORTED_LANGUAGES: frozenset[str] = frozenset(
    {
        "python",
        "javascript",
        "typescript",
        "tsx",
        "go",
        "rust",
        "java",
        "c",
        "cpp",
        "csharp",
        "ruby",
        "php",
        "kotlin",
    }
)
"""Languages with a grammar and a query file: they get trees, symbols and scopes."""

LANGUAGE_IDS: dict[str, str] = {
    "python": "python",
    "javascript": "javascript",
    "javascriptreact": "javascript",
    "jsx": "javascript",
    "typescript": "typescript",
    "typescriptreact": "tsx",
    "tsx": "tsx",
    "go": "go",
    "rust": "rust",
    "java": "java",
    "c": "c",
    "cpp": "cpp",
    "c++": "cpp",
    "cuda-cpp": "cpp",
    "csharp": "csharp",
    "c#": "csharp",
    "ruby": "ruby",
    "php": "php",
    "kotlin": "kotlin",
}
"""LSP ``languageId`` -> tree-sitter language name."""

EXTENSIONS: dict[str, str] = {
    ".py": "python",
    ".pyi": "python",
    ".pyw": "python",
    ".js": "javascript",
    ".mjs": "javascript",
    ".cjs": "javascript",
    ".jsx": "javascript",
    ".ts": "typescript",
    ".mts": "typescript",
    ".cts": "typescript",
    ".tsx": "tsx",
    ".go": "go",
    ".rs": "rust",
    ".java": "java",
    ".c": "c",
    ".h": "c",
    ".cc": "cpp",
    ".cpp": "cpp",
    ".cxx": "cpp",
    ".c++": "cpp",
    ".hh": "cpp",
    ".hpp": "cpp",
    ".hxx": "cpp",
    ".h++": "cpp",
    ".ipp": "cpp",
    ".cs": "csharp",
    ".rb": "ruby",
    ".rake": "ruby",
    ".gemspec": "ruby",
    ".php": "php",
    ".kt": "kotlin",
    ".kts": "kotlin",
}
"""File extension (lower case) -> tree-sitter language name."""

_FILENAMES: dict[str, str] = {"Rakefile": "ruby", "Gemfile": "ruby"}

_SECTION = re.compile(r"^;;\s*section:\s*(\w+)\s*$", re.MULTILINE)
_INHERITS = re.compile(r"^;\s*inherits:\s*(\w+)\s*$", re.MULTILINE)


def language_from_path(path: str | PurePath) -> str | None:
    """Language of a file name or URI path by its extension, ``None`` if unknown."""
    name = PurePath(str(path).rsplit("/", 1)[-1]).name
    if name in _FILENAMES:
        return _FILENAMES[name]
    dot = name.rfind(".")
    if dot <= 0:
        return None
    return EXTENSIONS.get(name[dot:].lower())


def main_language(paths: Iterable[str]) -> str:
    """The language most of ``paths`` are written in (by extension; a tie: the first met), '' when none is known."""
    counts = Counter(language for path in paths if (language := language_from_path(path)) is not None)
    return counts.most_common(1)[0][0] if counts else ""


def detect_language(language_id: str, path_or_uri: str = "") -> str | None:
    """Language from the LSP ``languageId``, else from the file extension."""
    by_id = LANGUAGE_IDS.get(language_id.strip().lower()) if language_id else None
    if by_id is not None:
        return by_id
    return language_from_path(path_or_uri) if path_or_uri else None


@functools.cache
def ts_language(name: str) -> Language:
    """The tree-sitter :class:`Language` for a supported language name."""
    if name not in SUPPORTED_LANGUAGES:
        raise LookupError(f"unsupported language: {name!r}")
    return get_language(cast(SupportedLanguage, name))


def new_parser(name: str) -> Parser:
    """A fresh parser (parsers are not thread-safe; one per document or thread)."""
    return Parser(ts_language(name))


@dataclass(frozen=True, slots=True)
class LanguageQueries:
    """The compiled query sections of one language."""

    tags: Query
    locals: Query
    references: Query


def _read_query_file(name: str) -> str:
    resource = importlib.resources.files("lsp_server.analysis").joinpath("queries", f"{name}.scm")
    text = resource.read_text(encoding="utf-8")
    match = _INHERITS.search(text)
    if match:
        return _read_query_file(match.group(1)) + "\n" + text
    return text


def _sections(text: str) -> dict[str, str]:
    sections: dict[str, list[str]] = {}
    marks = list(_SECTION.finditer(text))
    for i, mark in enumerate(marks):
        end = marks[i + 1].start() if i + 1 < len(marks) else len(text)
        sections.setdefault(mark.group(1), []).append(text[mark.end() : end])
    return {k: "\n".join(v) for k, v in sections.items()}


@functools.cache
def query_source(name: str) -> str:
    """Full text of a language's query file (after ``inherits``), for cache keys."""
    return _read_query_file(name)


@functools.cache
def queries(name: str) -> LanguageQueries:
    """Compiled queries of a supported language (compiled once per process)."""
    sections = _sections(query_source(name))
    lang = ts_language(name)
    compiled = {key: Query(lang, sections.get(key, "")) for key in ("tags", "locals", "references")}
    logger.debug("compiled queries for %s", name)
    return LanguageQueries(tags=compiled["tags"], locals=compiled["locals"], references=compiled["references"])
