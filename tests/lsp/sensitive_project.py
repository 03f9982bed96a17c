"""Issue 20's case: ``billing.py`` imports ``signing_salt`` and ``MARKER`` from ``secrets/keys.py``.

Shared by the language-server tests (``tests/lsp/test_sensitive_context.py``)
and the gateway-mode tests (``tests/gateway/test_sensitive_context_gateway.py``).
"""

from __future__ import annotations

from pathlib import Path

from tests.wire.openai_server import OpenAIWireServer

MARKER = "kx-premises-only-7731"
"""In ``keys.py`` only: its ``MARKER`` constant and ``signing_salt``'s docstring and body."""

KEYS_PY = f'''"""Signing material: never leaves the premises."""
import hashlib

MARKER = "{MARKER}"


def signing_salt(amount, pepper):
    """Salt for ``amount``, mixed with ``pepper`` ({MARKER})."""
    return hashlib.sha256(f"{{MARKER}}:{{amount}}:{{pepper}}:ledger-salt-rounds".encode()).hexdigest()
'''

BILLING_PY = """\"\"\"Billing.\"\"\"
from {package}secrets.keys import MARKER, signing_salt

# hybrid-assist: migrate-to Python 3.12 type hints


def charge(amount):
    token = signing_salt(amount, MARKER)

    return total(amount) + len(token)


def total(amount):
    return amount * 2
"""
CURSOR = (9, 0)  # the blank line in charge()
ON_CALL = (8, 14)  # on `signing_salt`

APP_PY = """from {package}billing import signing_salt, MARKER


def sign(amount):
    return signing_salt(amount, MARKER)
"""


def project(root: Path, nested: bool) -> tuple[Path, str]:
    """The workspace; the path of ``billing.py`` and the package prefix of its imports."""
    base = root / "pkg" if nested else root
    package = "pkg." if nested else ""
    (base / "secrets").mkdir(parents=True)
    if nested:
        (base / "__init__.py").write_text("", encoding="utf-8")
    (base / "secrets" / "__init__.py").write_text("", encoding="utf-8")
    (base / "secrets" / "keys.py").write_text(KEYS_PY, encoding="utf-8")
    (base / "billing.py").write_text(BILLING_PY.format(package=package), encoding="utf-8")
    return base / "billing.py", package


def sent(server: OpenAIWireServer) -> str:
    """Everything the server was asked (chat messages and completion prompts)."""
    parts: list[str] = []
    for request in server.generation_requests():
        body = request.body
        parts.extend(str(m.get("content", "")) for m in body.get("messages", []))
        parts.append(str(body.get("prompt", "")))
        parts.append(str(body.get("suffix", "")))
    return "\n".join(parts)
