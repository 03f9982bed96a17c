"""Which target serves a request, and at what cost: policy, execution with fallbacks, usage control.

The decision (:func:`routing.policy.decide`) is a pure function of its inputs
and does no network I/O; :mod:`routing.executor` calls the backends and falls
back on availability errors. Nothing here imports ``lsp_server``.
"""
