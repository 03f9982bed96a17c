"""Thin LSP handlers: translate LSP params to the project's request types and results back.

Each module declares its features and commands in ``register(server)``
(``server``: a :class:`lsp_server.host.Registrar`), and its handlers take the
server as a :class:`lsp_server.host.Host`; :mod:`lsp_server.registration`
calls every ``register``. Handler modules import neither the server nor each
other: what they share is a helper (``lsp_server.review``,
``lsp_server.indexing``, ...) or lives in the ``Session``.
"""
