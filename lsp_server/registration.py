"""Registration of the handlers: the one place that says which features and commands a server offers.

Each handler module has ``register(server)`` declaring its features and
commands with pygls' decorators; :func:`register_handlers` calls them in
order on a new :class:`~lsp_server.server.HybridLanguageServer` (typed as
the :class:`~lsp_server.host.Server` protocol, so mypy checks that the
server is the :class:`~lsp_server.host.Host` the handlers expect). Handler
modules never import each other nor the server.
"""

from __future__ import annotations

from lsp_server.handlers import actions, commands, completion, documents, hover, repository, workspace
from lsp_server.host import Server


def register_handlers(server: Server) -> None:
    """Register every handler module's features and commands on ``server`` (this order)."""
    workspace.register(server)
    documents.register(server)
    completion.register(server)
    hover.register(server)
    actions.register(server)
    commands.register(server)
    repository.register(server)
