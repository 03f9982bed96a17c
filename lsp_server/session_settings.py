"""What the language server reads of the configuration, and how it asks for it again.

The root settings model is assembled at the top (:mod:`hybrid_assist.settings`)
from the sections each package owns; the language server never imports it.
It declares the sections it reads (:class:`SessionSettings`) and the loader it
calls when the workspace or the editor's options change (:class:`SettingsSource`);
the composition root passes in the real ones.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Protocol

from hybrid_assist.config import ConfigLayer, LoadedSettings
from lsp_server.analysis.settings import AnalysisSettings
from lsp_server.settings import CompletionSettings, ServerSettings
from routing.settings import RoutingSettings, SensitiveSettings


class SessionSettings(Protocol):
    """The sections of the configuration one editor session reads."""

    @property
    def user(self) -> str: ...

    @property
    def team(self) -> str: ...

    @property
    def data_dir(self) -> str: ...  # where the ledger and stored answers live ("": the default)

    @property
    def server(self) -> ServerSettings: ...

    @property
    def completion(self) -> CompletionSettings: ...

    @property
    def analysis(self) -> AnalysisSettings: ...

    @property
    def routing(self) -> RoutingSettings: ...

    @property
    def sensitive(self) -> SensitiveSettings: ...


class SettingsSource(Protocol):
    """Loads a session's settings: files (user, the workspace roots' ``hybrid-assist.toml``), environment, editor."""

    def load(
        self, workspace_roots: Iterable[Path] = ..., editor_layers: Sequence[ConfigLayer] = ...
    ) -> LoadedSettings[SessionSettings]: ...
