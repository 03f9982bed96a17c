"""The language server's structure (issue 17, part 2), read from the source with :mod:`ast`.

- nothing in ``lsp_server`` imports the server class's module except the
  transports that make servers (``transport.py``, ``auth.py`` for typing): the
  handlers and their helpers see the server through :class:`lsp_server.host.Host`;
- handler modules never import each other, and only ``lsp_server.registration``
  imports them — every one of them;
- no import cycle inside ``lsp_server`` (imports under ``TYPE_CHECKING`` aside);
- ``$/progress`` is driven from one module, ``lsp_server/progress.py``;
- handler modules keep no per-server state of their own (it lives in the ``Session``).
"""

from __future__ import annotations

import ast
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "lsp_server"
SERVER = "lsp_server.server"
REGISTRATION = "lsp_server.registration"
MAY_IMPORT_SERVER = {"lsp_server.transport", "lsp_server.auth"}


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES: dict[str, Path] = {_module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}
HANDLERS = sorted(n for n, p in MODULES.items() if p.parent.name == "handlers" and p.name != "__init__.py")


def _type_checking_nodes(tree: ast.AST) -> set[int]:
    inside: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            inside |= {id(n) for n in ast.walk(node)}
    return inside


@cache
def imports_of(name: str, *, runtime_only: bool = False) -> frozenset[str]:
    """Every module ``name`` imports (``from a import b`` counts ``a`` and ``a.b``), at any depth in the file."""
    path = MODULES[name]
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    skip = _type_checking_nodes(tree) if runtime_only else set()
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, *([node.module] if node.module else [])])
            found.add(base)
            found |= {f"{base}.{alias.name}" for alias in node.names}
    return frozenset(found)


def test_the_structure_is_read_from_the_real_tree() -> None:
    assert {SERVER, REGISTRATION, "lsp_server.host", "lsp_server.edits", "lsp_server.resolver"} <= set(MODULES)
    assert "lsp_server.handlers.workspace" in HANDLERS and "lsp_server.handlers.completion" in HANDLERS
    assert SERVER in imports_of("lsp_server.transport")  # the walk does see imports


@pytest.mark.parametrize("name", sorted(set(MODULES) - MAY_IMPORT_SERVER - {SERVER}))
def test_handlers_and_helpers_do_not_import_the_server(name: str) -> None:
    assert SERVER not in imports_of(name), f"{name} imports {SERVER}: take a lsp_server.host.Host instead"


@pytest.mark.parametrize("name", HANDLERS)
def test_handler_modules_do_not_import_each_other(name: str) -> None:
    others = {h for h in HANDLERS if h != name} | {"lsp_server.handlers"}
    wrong = sorted(imports_of(name) & others)
    assert not wrong, f"{name} imports {wrong}: move what they share into a helper or the Session"


def test_handlers_are_registered_in_one_module_and_all_of_them_are() -> None:
    importers = sorted(n for n in MODULES if n != REGISTRATION and imports_of(n) & set(HANDLERS))
    assert importers == [], f"only {REGISTRATION} may import handler modules, not {importers}"
    assert set(HANDLERS) <= imports_of(REGISTRATION)


def test_no_import_cycle_in_the_language_server() -> None:
    graph = {n: {m for m in imports_of(n, runtime_only=True) if m in MODULES and m != n} for n in MODULES}
    done: set[str] = set()

    def visit(node: str, path: list[str]) -> None:
        if node in path:
            cycle = [*path[path.index(node) :], node]
            raise AssertionError("import cycle: " + " -> ".join(cycle))
        if node in done:
            return
        for nxt in sorted(graph[node]):
            visit(nxt, [*path, node])
        done.add(node)

    for name in sorted(graph):
        visit(name, [])


def test_progress_is_reported_from_one_module() -> None:
    users = sorted(
        name
        for name, path in MODULES.items()
        if name != "lsp_server.client_capabilities"  # reads the client's capability of that name, reports nothing
        and any(
            isinstance(node, ast.Attribute) and node.attr == "work_done_progress"
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        )
    )
    assert users == ["lsp_server.progress"]


@pytest.mark.parametrize("name", HANDLERS)
def test_handler_modules_keep_no_per_server_state(name: str) -> None:
    assert "weakref" not in imports_of(name), f"{name}: keep per-connection state in the Session"
