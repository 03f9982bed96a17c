"""The team gateway: one HTTP server hosting the router and the engines for every developer.

``hybrid-assist gateway serve`` runs :func:`gateway.app.create_app` under
uvicorn. Language servers in gateway mode, and OpenAI-compatible clients,
authenticate with per-user API keys (:mod:`gateway.keys`, :mod:`gateway.store`)
and every request goes through the one shared
:class:`routing.service.RoutingService`. The HTTP contract is
``docs/GATEWAY_API.md``; operating it is ``docs/GATEWAY.md``.
"""
