"""Thin LSP handlers: translate LSP params to the project's request types and results back.

Each module registers its features on one :class:`HybridLanguageServer`
through a ``register(server)`` function.
"""
