"""Imports between the top-level packages point one way, as ARCHITECTURE.md draws them.

An AST walk over every module of the project's packages: each ``import`` and
``from ... import`` (module level, inside functions, under ``TYPE_CHECKING``,
relative ones resolved) and each ``importlib.import_module("...")`` with a
literal name is sorted into the layer of the importing file and the layer of
the imported module, and must be one of the allowed arrows:

- ``hybrid_assist.config`` (the bottom: the generic settings loader) imports nothing of the project;
- ``inference`` imports only the bottom;
- ``routing`` imports ``inference`` and the bottom;
- ``lsp_server`` and ``gateway`` import ``routing``, ``inference`` and the bottom, never each other;
- the rest of ``hybrid_assist`` (the root settings model, the composition root, the CLI) is the top:
  it imports everything, and nothing imports it.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BOTTOM = "hybrid_assist.config"
TOP = "hybrid_assist"
PACKAGES = ("hybrid_assist", "inference", "routing", "lsp_server", "gateway")
ALLOWED: dict[str, frozenset[str]] = {
    BOTTOM: frozenset(),
    "inference": frozenset({BOTTOM}),
    "routing": frozenset({"inference", BOTTOM}),
    "lsp_server": frozenset({"routing", "inference", BOTTOM}),
    "gateway": frozenset({"routing", "inference", BOTTOM}),
    TOP: frozenset({BOTTOM, "inference", "routing", "lsp_server", "gateway"}),
}


def layer_of(module: str) -> str | None:
    """The layer a dotted module name belongs to; None outside the project."""
    if module == BOTTOM or module.startswith(BOTTOM + "."):
        return BOTTOM
    head = module.split(".")[0]
    return head if head in PACKAGES else None


@dataclass(frozen=True)
class Arrow:
    path: Path
    line: int
    source: str  # the importing module's layer
    module: str  # the imported module
    target: str  # its layer

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.source} imports {self.module} ({self.target})"


def module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imported_modules(tree: ast.AST, name: str, is_package: bool) -> Iterator[tuple[int, str]]:
    """``(line, dotted name)`` of every import in ``tree``, the module ``name``'s source."""
    package = name if is_package else name.rpartition(".")[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                stem = ".".join(base)
                module = f"{stem}.{node.module}" if node.module else stem
            else:
                module = node.module or ""
            for alias in node.names:  # ``from hybrid_assist import config`` imports the bottom, not the top
                yield node.lineno, f"{module}.{alias.name}"
        elif isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant):
            func = node.func
            called = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            if called in {"import_module", "__import__"} and isinstance(node.args[0].value, str):
                yield node.lineno, node.args[0].value


def arrows(root: Path) -> Iterator[Arrow]:
    """Every import from one layer of the project into another, under ``root``."""
    for package in PACKAGES:
        for path in sorted((root / package).rglob("*.py")):
            name = module_name(path, root)
            source = layer_of(name)
            assert source is not None
            tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
            for line, module in imported_modules(tree, name, path.name == "__init__.py"):
                target = layer_of(module)
                if target is not None and target != source:
                    yield Arrow(path.relative_to(root), line, source, module, target)


def wrong_way(root: Path) -> list[str]:
    return sorted({str(a) for a in arrows(root) if a.target not in ALLOWED[a.source]})


def test_imports_between_packages_point_one_way() -> None:
    assert wrong_way(ROOT) == []


def test_the_walk_sees_the_arrows_that_exist() -> None:
    """Guards the guard: the walk finds the project's real arrows (a walk that saw nothing would pass)."""
    seen = {(a.source, a.target) for a in arrows(ROOT)}
    expected = {
        ("lsp_server", "routing"),
        ("gateway", "routing"),
        ("routing", "inference"),
        ("lsp_server", BOTTOM),
        (TOP, "lsp_server"),
        (TOP, "gateway"),
        (TOP, BOTTOM),
    }
    assert expected <= seen


@pytest.mark.parametrize(
    ("where", "source", "wrong"),
    [
        ("gateway/app.py", "def f():\n    from lsp_server.assistant import Assistant\n", "gateway imports lsp_server"),
        ("lsp_server/x.py", "import gateway.calls\n", "lsp_server imports gateway"),
        ("gateway/state.py", "from hybrid_assist import runtime\n", "gateway imports hybrid_assist"),
        ("lsp_server/server.py", "from hybrid_assist.settings import HybridSettings\n", "lsp_server imports"),
        ("lsp_server/server.py", "from hybrid_assist import __version__\n", "lsp_server imports hybrid_assist"),
        ("hybrid_assist/config/loader.py", "from ..settings import HybridSettings\n", "hybrid_assist.config imports"),
        ("hybrid_assist/config/loader.py", "from routing.settings import RoutingSettings\n", "imports routing"),
        ("routing/policy.py", "import importlib\nimportlib.import_module('lsp_server.session')\n", "routing imports"),
        (
            "inference/types.py",
            "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import routing\n",
            "inference",
        ),
    ],
)
def test_a_wrong_way_import_is_caught(tmp_path: Path, where: str, source: str, wrong: str) -> None:
    for package in PACKAGES:
        (tmp_path / package).mkdir(exist_ok=True)
    (tmp_path / "hybrid_assist" / "config").mkdir()
    file = tmp_path / where
    file.parent.mkdir(parents=True, exist_ok=True)
    file.write_text(source, encoding="utf-8")
    found = wrong_way(tmp_path)
    assert len(found) == 1 and wrong in found[0], found


def test_allowed_arrows_are_not_reported(tmp_path: Path) -> None:
    sources = {
        "hybrid_assist/cli.py": "import gateway.app\nimport lsp_server.server\nfrom .config import loader\n",
        "hybrid_assist/config/loader.py": "from pydantic import BaseModel\nfrom . import docs\n",
        "lsp_server/server.py": "from hybrid_assist.config import ConfigLayer\nimport routing.service, inference\n",
        "lsp_server/auth.py": "from hybrid_assist import config\nfrom ..routing import policy\n",
        "gateway/app.py": "from routing.service import RoutingService\nfrom inference.types import Usage\n",
        "routing/service.py": "from inference.backend import Backend\nfrom .policy import decide\n",
    }
    for where, source in sources.items():
        file = tmp_path / where
        file.parent.mkdir(parents=True, exist_ok=True)
        file.write_text(source, encoding="utf-8")
    for package in PACKAGES:
        (tmp_path / package).mkdir(exist_ok=True)
    assert wrong_way(tmp_path) == []
