"""``Session``: the state of one editor connection (documents, settings, workspace index).

Pure data plus small helpers; the pygls server owns one and the assistant
reads it. Sessions never share documents; they share the routing runtime.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from hybrid_assist.config import HybridSettings, LoadedSettings
from lsp_server.analysis.documents import DocumentStore
from lsp_server.analysis.index import WorkspaceIndex
from lsp_server.analysis.positions import PositionEncoding

_NUMBERS = re.compile(r"\$?\d+(?:\.\d+)?")


@dataclass(slots=True)
class Session:
    settings: HybridSettings
    documents: DocumentStore = field(default_factory=DocumentStore)
    encoding: PositionEncoding = "utf-16"
    roots: list[Path] = field(default_factory=list)
    index: WorkspaceIndex | None = None
    problems_shown: set[str] = field(default_factory=set)  # one-time messages already shown
    notices_shown: set[str] = field(default_factory=set)

    def apply_loaded(self, loaded: LoadedSettings) -> list[str]:
        """Take new settings; return the problems not shown to the user before."""
        self.settings = loaded.settings
        fresh = [p for p in loaded.problems if p not in self.problems_shown]
        self.problems_shown.update(fresh)
        return fresh

    def first_time(self, notice: str) -> bool:
        """True the first time a notice like ``notice`` is seen in this session (tell the user once).

        Numbers are ignored when comparing, so "retry in 3 s" and "retry in 5 s" count as one notice.
        """
        if not notice:
            return False
        shape = _NUMBERS.sub("#", notice)
        if shape in self.notices_shown:
            return False
        self.notices_shown.add(shape)
        return True
