"""``Session``: the state of one editor connection (documents, settings, workspace index, findings, hovers).

Pure data plus small helpers; the pygls server owns one, the handlers share
it (the review findings one command publishes and the code actions offer
fixes for, the hover cache) and the assistant reads it. Sessions never share
documents; they share the routing runtime.
``[server] allowed_roots`` and the user its ``{user}`` entries stand for are
taken from the settings the session starts with (the server's config file and
environment), never from a workspace file or the editor; :attr:`Session.confinement`
is where the session may read and write (see :mod:`lsp_server.confinement`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from hybrid_assist.config import LoadedSettings
from lsp_server.analysis.documents import DocumentStore
from lsp_server.analysis.index import WorkspaceIndex
from lsp_server.analysis.positions import PositionEncoding
from lsp_server.client_capabilities import ClientSupport
from lsp_server.confinement import Confinement, confinement_for, expand_allowed, root_refusal
from lsp_server.outcomes import OutcomeWatch
from lsp_server.review import ReviewStore
from lsp_server.session_settings import SessionSettings
from lsp_server.tasks.hover_cache import ExplanationCache

#: Hover explanations kept per session.
HOVER_CACHE_SIZE = 128

_NUMBERS = re.compile(r"\$?\d+(?:\.\d+)?")


@dataclass(slots=True)
class Session:
    settings: SessionSettings
    documents: DocumentStore = field(default_factory=DocumentStore)
    encoding: PositionEncoding = "utf-16"
    #: What the editor declared it can do, read once at ``initialize`` (:mod:`lsp_server.client_capabilities`).
    client: ClientSupport = field(default_factory=ClientSupport)
    roots: list[Path] = field(default_factory=list)
    index: WorkspaceIndex | None = None
    problems_shown: set[str] = field(default_factory=set)  # one-time messages already shown
    notices_shown: set[str] = field(default_factory=set)
    #: The ``hybrid-review`` findings published to this editor (:mod:`lsp_server.review`).
    review: ReviewStore = field(default_factory=ReviewStore)
    #: Hover explanations by node text and route (:mod:`lsp_server.handlers.hover`).
    explanations: ExplanationCache = field(default_factory=lambda: ExplanationCache(HOVER_CACHE_SIZE))
    #: Edits given to the editor, watched until they show up in their documents (:mod:`lsp_server.outcomes`).
    outcomes: OutcomeWatch = field(default_factory=OutcomeWatch)
    #: The transport is a network one (``--tcp``/``--ws``, set by the accept loop): the session is confined.
    network: bool = False
    allowed_roots: tuple[str, ...] = field(default=(), init=False)
    owner: str = field(default="", init=False)  # the server's own ``user``: ``{user}`` without a key
    _confinement: tuple[tuple[tuple[Path, ...], bool], Confinement] | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        self.allowed_roots = tuple(self.settings.server.allowed_roots)
        self.owner = self.settings.user

    @property
    def confined(self) -> bool:
        """Whether reads and writes are confined: every network session, and stdio once allowed_roots is set."""
        return self.network or bool(self.allowed_roots)

    def root_refusal(self, root: Path, user: str | None) -> str | None:
        """Why the workspace root ``root`` is refused (``user``: the key's user, if any), or None."""
        allowed = expand_allowed(self.allowed_roots, user or self.owner)
        return root_refusal(root, allowed, confined=self.confined)

    @property
    def confinement(self) -> Confinement:
        """Where this session may read and write: inside its (accepted) roots, links resolved."""
        key = (tuple(self.roots), self.confined)
        cached = self._confinement
        if cached is None or cached[0] != key:
            cached = (key, confinement_for(key[0], confined=key[1]))
            self._confinement = cached
        return cached[1]

    def apply_loaded(self, loaded: LoadedSettings[SessionSettings]) -> list[str]:
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
