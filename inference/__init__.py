"""Model engines behind one async streaming interface.

Public API: :class:`~inference.backend.Backend`, the request/result types in
:mod:`inference.types`, the error hierarchy in :mod:`inference.errors`, and
:func:`inference.registry.build_backends` which turns settings into backends.
Nothing here imports ``routing`` or ``lsp_server``.
"""
