"""Context assembly: the text a model sees for a request, within a token budget.

The layout is deterministic and puts the most stable text first, so that
consecutive keystrokes share a prompt prefix and the engine's prefix cache
hits::

    <snippets from other files, as comments, ordered by file and line>
    <comment> <path of the current file>
    <prefix: text before the cursor, cut at a syntax boundary>
    [cursor]
    <suffix: text after the cursor, cut at a syntax boundary>

Snippets are the definitions of the workspace symbols the scope report
found: signature and docstring first for every symbol in relevance order
(most used first), then whole bodies while the budget allows. Their share of
the budget is capped (``snippet_share``); the rest goes to the prefix (about
three quarters) and the suffix. Tokens are counted with the caller's counter
(the target model's tokenizer) or estimated; ``token_count`` counts
``prompt_prefix()`` plus ``suffix`` and never exceeds the budget.

:func:`trim_completion` (cutting generated text at its block's end) lives in
:mod:`.completion` and is re-exported here.
"""

from __future__ import annotations

import bisect
import dataclasses
import os
from collections.abc import Collection, Iterator
from dataclasses import dataclass

from lsp_server.analysis.completion import trim_completion, wants_multiline
from lsp_server.analysis.documents import Document
from lsp_server.analysis.extract import content_hash
from lsp_server.analysis.index import WorkspaceIndex
from lsp_server.analysis.langspec import spec_for
from lsp_server.analysis.localparse import LocalSyntax
from lsp_server.analysis.nodes import ancestor_path
from lsp_server.analysis.paths import NotAFileUriError, display_path, uri_to_path
from lsp_server.analysis.positions import decode_text
from lsp_server.analysis.scope import PREFIX_SHARE, ScopeReport
from lsp_server.analysis.symbols import Definition
from lsp_server.analysis.tokens import TokenCounter, counter_or_estimate

__all__ = [
    "AssembledContext",
    "ContextSnippet",
    "assemble_context",
    "head_within",
    "trim_completion",
    "wants_multiline",
]

DEFAULT_SNIPPET_SHARE = 0.35
SUFFIX_SHARE = 1 - PREFIX_SHARE
MAX_BYTES_PER_TOKEN = 32
"""No tokenizer packs more bytes than this into a token; bounds the text looked at."""
BOUNDARY_BYTES_PER_TOKEN = 8
"""Syntax boundaries are collected this many bytes per budget token around the cursor
(code runs 3-5 bytes per token); beyond that, line starts serve as boundaries."""


@dataclass(frozen=True, slots=True)
class ContextSnippet:
    """A definition from another workspace file, shown to the model as a comment."""

    path: str
    uri: str
    name: str
    kind: str
    start_line: int
    text: str
    full: bool

    def render(self, comment: str) -> str:
        """The snippet as comment lines, headed by its path and line."""
        lines = [f"{comment} {self.path}:{self.start_line + 1}"]
        lines.extend(f"{comment} {line}".rstrip() for line in self.text.splitlines())
        return "\n".join(lines) + "\n"


@dataclass(frozen=True, slots=True)
class AssembledContext:
    """The assembled context of one request (see module docstring for the layout)."""

    prefix: str
    suffix: str
    snippets: tuple[ContextSnippet, ...]
    multiline: bool
    token_count: int
    budget_tokens: int
    language: str | None
    file_label: str
    comment: str
    prefix_start: int
    suffix_end: int

    def snippet_block(self) -> str:
        """The rendered snippets plus the current file's label line ('' without either)."""
        if not self.comment:
            return ""
        parts = [s.render(self.comment) for s in self.snippets]
        if self.file_label:
            parts.append(f"{self.comment} {self.file_label}\n")
        return "".join(parts)

    def prompt_prefix(self) -> str:
        """Everything before the cursor: snippets, file label, then the prefix."""
        return self.snippet_block() + self.prefix

    def withholding(self, uris: Collection[str], note: str) -> AssembledContext:
        """This context with the snippets from ``uris`` reduced to their bare name and ``note``.

        No signature, docstring or code of theirs is left; ``token_count``
        stays that of the fuller context (an upper bound).
        """
        snippets = tuple(
            dataclasses.replace(s, text=f"{s.name} ({note})", full=False) if s.uri in uris else s for s in self.snippets
        )
        return dataclasses.replace(self, snippets=snippets)


@dataclass(frozen=True, slots=True)
class _Candidate:
    definition: Definition
    uri: str
    rank: int


def _comment_for(language: str | None) -> str:
    return spec_for(language).line_comment if language else ""


def _label(doc: Document, index: WorkspaceIndex | None) -> str:
    try:
        path = uri_to_path(doc.uri)
    except (NotAFileUriError, ValueError):
        return doc.uri.rsplit("/", 1)[-1]
    roots = list(index.roots) if index is not None else []
    label = display_path(os.path.realpath(path), roots) if roots else path.name
    return label


def _candidates(scope: ScopeReport, index: WorkspaceIndex | None) -> list[_Candidate]:
    if index is None:
        return []
    ranked = sorted(
        (s for s in scope.symbols if s.resolution == "workspace" and s.definition and s.file),
        key=lambda s: -s.occurrences,
    )
    out: list[_Candidate] = []
    seen: set[tuple[str, str, int]] = set()
    for symbol in ranked:
        assert symbol.definition is not None and symbol.file is not None
        key = (symbol.file, symbol.definition.name, symbol.definition.line)
        if key in seen:
            continue
        seen.add(key)
        path = os.path.realpath(uri_to_path(symbol.file))
        for definition in index.definitions_named(path, symbol.definition.name):
            if definition.start_line == symbol.definition.line:
                out.append(_Candidate(definition, symbol.file, len(out)))
                break
    return out


def _header(definition: Definition) -> str:
    if not definition.doc:
        return definition.signature
    doc_lines = "\n".join("    " + line for line in definition.doc.splitlines())
    return f"{definition.signature}\n{doc_lines}"


def _body(definition: Definition, index: WorkspaceIndex) -> str | None:
    meta = index.file_meta(definition.path)
    data = index.source_bytes(definition.path)
    if meta is None or data is None or content_hash(data) != meta.content_hash:
        return None
    return decode_text(data[definition.start_byte : definition.end_byte])


def _select_snippets(
    candidates: list[_Candidate],
    index: WorkspaceIndex | None,
    budget: int,
    count: TokenCounter,
    comment: str,
) -> list[ContextSnippet]:
    if index is None or not candidates or budget <= 0 or not comment:
        return []
    roots = list(index.roots)
    chosen: dict[int, ContextSnippet] = {}

    def ordered() -> list[ContextSnippet]:
        return sorted(chosen.values(), key=lambda s: (s.path, s.start_line, s.name))

    def cost(snippets: list[ContextSnippet]) -> int:
        return count("".join(s.render(comment) for s in snippets))

    for cand in candidates:
        d = cand.definition
        snippet = ContextSnippet(display_path(d.path, roots), cand.uri, d.name, d.kind, d.start_line, _header(d), False)
        chosen[cand.rank] = snippet
        if cost(ordered()) > budget:
            del chosen[cand.rank]
    for cand in candidates:
        if cand.rank not in chosen:
            continue
        body = _body(cand.definition, index)
        if body is None:
            continue
        previous = chosen[cand.rank]
        chosen[cand.rank] = ContextSnippet(
            previous.path, previous.uri, previous.name, previous.kind, previous.start_line, body, True
        )
        if cost(ordered()) > budget:
            chosen[cand.rank] = previous
    return ordered()


def _top_level_ranges(local: LocalSyntax, low: int) -> Iterator[tuple[int, int]]:
    """``(start, end)`` of the top-level nodes from the first ending after ``low``, from ``local``.

    The edited (stale) tree's nodes are current except the edited statement, read from ``local``.
    """
    first, last = local.start, local.end
    cursor = local.outer.walk()
    if cursor.goto_first_child_for_byte(min(low, first)) is None:
        return
    while True:
        child = cursor.node
        if child is None:
            return
        start = child.start_byte
        end = last if start == first else child.end_byte
        if end > low:
            yield start, end
        if not cursor.goto_next_sibling():
            return


def _boundaries(doc: Document, offset: int, reach: int) -> tuple[list[int], list[int]]:
    """Boundaries around ``offset`` (syntax nodes; lines for plain text), within ``reach``."""
    starts = {0, offset}
    ends = {offset, len(doc.source)}
    local = doc.local_syntax(offset) if doc.has_tree else None
    tree = local.tree if local is not None else doc.tree
    if tree is None:
        lines = doc.lines
        first = lines.line_of(max(0, offset - reach))
        last = lines.line_of(min(len(doc.source), offset + reach))
        for line in range(first, last + 1):
            starts.add(lines.line_start(line))
            ends.add(lines.line_end(line))
    else:
        low, high = max(0, offset - reach), offset + reach
        cursor = tree.walk()
        for node in ancestor_path(tree, offset):
            if local is not None and node.id == tree.root_node.id:
                for start, end in _top_level_ranges(local, low):
                    if start > high:
                        break
                    if start <= offset:
                        starts.add(start)
                    if end >= offset:
                        ends.add(end)
                continue
            cursor.reset(node)
            if cursor.goto_first_child_for_byte(low) is None:
                continue
            while True:
                child = cursor.node
                if child is None or child.start_byte > high:
                    break
                if child.start_byte <= offset:
                    starts.add(child.start_byte)
                if child.end_byte >= offset:
                    ends.add(child.end_byte)
                if not cursor.goto_next_sibling():
                    break
    source = doc.source
    snapped_starts = set()
    for start in starts:
        line_start = source.rfind(b"\n", 0, start) + 1
        snapped_starts.add(line_start if not source[line_start:start].strip() else start)
    snapped_ends = set()
    for end in ends:
        line_end = source.find(b"\n", end)
        if line_end < 0:
            line_end = len(source)
        snapped_ends.add(line_end if not source[end:line_end].strip() else end)
    return (
        sorted(s for s in snapped_starts if s <= offset),
        sorted(e for e in snapped_ends if e >= offset),
    )


def _line_starts_between(doc: Document, low: int, high: int) -> list[int]:
    lines = doc.lines
    first, last = lines.line_of(low), lines.line_of(high)
    return [lines.line_start(n) for n in range(first, last + 1) if low <= lines.line_start(n) <= high]


def _fit_prefix(doc: Document, offset: int, starts: list[int], budget: int, count: TokenCounter) -> int:
    """Earliest start in ``starts`` whose text up to ``offset`` fits ``budget`` (else None)."""
    source = doc.source
    floor = max(0, offset - budget * MAX_BYTES_PER_TOKEN)
    pool = [s for s in starts if s >= floor]
    i = bisect.bisect_left(pool, offset)
    pool = [*pool[:i], offset]
    lo, hi = 0, len(pool) - 1
    while lo < hi:
        mid = (lo + hi) // 2
        if count(decode_text(source[pool[mid] : offset])) <= budget:
            hi = mid
        else:
            lo = mid + 1
    return pool[lo]


def _fit_suffix(doc: Document, offset: int, ends: list[int], budget: int, count: TokenCounter) -> int:
    """Latest end in ``ends`` whose text from ``offset`` fits ``budget``."""
    source = doc.source
    ceiling = offset + budget * MAX_BYTES_PER_TOKEN
    pool = [offset] + [e for e in ends if offset < e <= ceiling]
    lo, hi = 0, len(pool) - 1
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if count(decode_text(source[offset : pool[mid]])) <= budget:
            lo = mid
        else:
            hi = mid - 1
    return pool[lo]


def _char_prefix(text: str, budget: int, count: TokenCounter) -> str:
    lo, hi = 0, len(text)
    while lo < hi:
        mid = (lo + hi) // 2
        if count(text[mid:]) <= budget:
            hi = mid
        else:
            lo = mid + 1
    return text[lo:]


def head_within(text: str, budget: int, count: TokenCounter | None = None) -> str:
    """The longest run of whole leading lines of ``text`` (else leading characters) within ``budget`` tokens."""
    count = counter_or_estimate(count)
    if count(text) <= budget:
        return text
    lines = text.splitlines(keepends=True)
    lo, hi = 0, len(lines)
    while lo < hi:  # the most lines that fit
        mid = (lo + hi + 1) // 2
        if count("".join(lines[:mid])) <= budget:
            lo = mid
        else:
            hi = mid - 1
    if lo:
        return "".join(lines[:lo])
    first = lines[0] if lines else ""
    lo, hi = 0, len(first)
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if count(first[:mid]) <= budget:
            lo = mid
        else:
            hi = mid - 1
    return first[:lo]


def _prefix_start(doc: Document, offset: int, starts: list[int], budget: int, count: TokenCounter) -> int:
    start = _fit_prefix(doc, offset, starts, budget, count)
    if start == offset and offset > 0:
        nearest = max((s for s in starts if s < offset), default=0)
        start = _fit_prefix(doc, offset, _line_starts_between(doc, nearest, offset), budget, count)
    return start


def assemble_context(
    doc: Document,
    byte_offset: int,
    scope: ScopeReport,
    index: WorkspaceIndex | None,
    budget_tokens: int,
    count_tokens: TokenCounter | None = None,
) -> AssembledContext:
    """Assemble the context for a request at ``byte_offset`` within ``budget_tokens``."""
    count = counter_or_estimate(count_tokens)
    offset = max(0, min(byte_offset, len(doc.source)))
    budget = max(0, budget_tokens)
    comment = _comment_for(doc.language)
    label = _label(doc, index) if comment else ""
    share = index.settings.snippet_share if index is not None else DEFAULT_SNIPPET_SHARE
    snippets = _select_snippets(_candidates(scope, index), index, int(budget * share), count, comment)
    starts, ends = _boundaries(doc, offset, budget * BOUNDARY_BYTES_PER_TOKEN)
    multiline = wants_multiline(doc, offset)
    target = budget
    for attempt in range(8):
        result = _layout(doc, offset, snippets, target, count, comment, label, starts, ends, multiline)
        if result.token_count <= budget:
            return _with_budget(result, budget)
        overflow = result.token_count - budget
        if attempt >= 2 and snippets:
            snippets = snippets[:-1]
        else:
            target = max(0, target - overflow)
    return _empty(doc, offset, budget, multiline, comment)


def _with_budget(result: AssembledContext, budget: int) -> AssembledContext:
    return AssembledContext(
        result.prefix,
        result.suffix,
        result.snippets,
        result.multiline,
        result.token_count,
        budget,
        result.language,
        result.file_label,
        result.comment,
        result.prefix_start,
        result.suffix_end,
    )


def _empty(doc: Document, offset: int, budget: int, multiline: bool, comment: str) -> AssembledContext:
    return AssembledContext("", "", (), multiline, 0, budget, doc.language, "", comment, offset, offset)


def _layout(
    doc: Document,
    offset: int,
    snippets: list[ContextSnippet],
    budget: int,
    count: TokenCounter,
    comment: str,
    label: str,
    starts: list[int],
    ends: list[int],
    multiline: bool,
) -> AssembledContext:
    head = AssembledContext("", "", tuple(snippets), multiline, 0, budget, doc.language, label, comment, offset, offset)
    fixed = count(head.snippet_block())
    if fixed > budget:
        head = AssembledContext(
            "", "", tuple(snippets), multiline, 0, budget, doc.language, "", comment, offset, offset
        )
        fixed = count(head.snippet_block())
    available = max(0, budget - fixed)
    suffix_budget = int(available * SUFFIX_SHARE)
    suffix_end = _fit_suffix(doc, offset, ends, suffix_budget, count)
    suffix = decode_text(doc.source[offset:suffix_end])
    prefix_budget = available - count(suffix)
    prefix_start = _prefix_start(doc, offset, starts, prefix_budget, count)
    prefix = decode_text(doc.source[prefix_start:offset])
    if prefix_start == offset and offset > 0 and prefix_budget > 0:
        line_start = doc.lines.line_start(doc.lines.line_of(offset))
        prefix = _char_prefix(decode_text(doc.source[line_start:offset]), prefix_budget, count)
        prefix_start = offset - len(prefix.encode("utf-8", "surrogatepass"))
    result = AssembledContext(
        prefix,
        suffix,
        head.snippets,
        multiline,
        0,
        budget,
        doc.language,
        head.file_label,
        comment,
        prefix_start,
        suffix_end,
    )
    total = count(result.prompt_prefix()) + count(suffix)
    return AssembledContext(
        prefix,
        suffix,
        head.snippets,
        multiline,
        total,
        budget,
        doc.language,
        head.file_label,
        comment,
        prefix_start,
        suffix_end,
    )
