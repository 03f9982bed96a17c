"""Scope measurement on Python projects: imports of every form resolve to the right files."""

from __future__ import annotations

from tests.analysis.conftest import ProjectFactory, rel_files

FILES = {
    "pyproject.toml": "[project]\nname='app'\n",
    "src/app/__init__.py": "from .config import load_config\n__all__ = ['load_config']\n",
    "src/app/config.py": (
        '"""Configuration."""\n'
        "import os\n\n"
        "DEFAULT_PATH = 'app.toml'\n\n"
        "def load_config(path: str = DEFAULT_PATH) -> dict:\n"
        '    """Load the configuration at ``path``."""\n'
        "    return {'path': os.fspath(path)}\n\n"
        "class Settings:\n"
        "    def get(self, key: str) -> str:\n"
        "        return key\n"
    ),
    "src/app/util/__init__.py": "",
    "src/app/util/text.py": "def slug(value):\n    return value.lower()\n\nPUBLIC = 1\n_private = 2\n",
    "src/app/util/stars.py": "__all__ = ['shout']\n\ndef shout(x):\n    return x.upper()\n",
    "src/app/main.py": (
        "import json\n"
        "import numpy as np\n"
        "from . import config\n"
        "from .util import text\n"
        "from .util.stars import *\n"
        "from app import load_config as lc\n"
        "from app.util.text import slug\n\n"
        "def uses_nothing(a, b):\n"
        "    total = a + b  # MARK_LOCAL\n"
        "    return len(str(total))\n\n"
        "def uses_config():\n"
        "    return config.load_config()  # MARK_MODULE_ATTR\n\n"
        "def uses_reexport():\n"
        "    return lc('x')  # MARK_REEXPORT\n\n"
        "def uses_many(v):\n"
        "    return slug(text.PUBLIC) + shout(v)  # MARK_MANY\n\n"
        "def uses_external(v):\n"
        "    return json.dumps(np.zeros(v))  # MARK_EXTERNAL\n\n"
        "def broken():\n"
        "    return not_defined_anywhere()  # MARK_UNRESOLVED\n"
    ),
}


def test_local_only_unit_is_single_file(make_project: ProjectFactory) -> None:
    project = make_project(FILES)
    report = project.scope_at("src/app/main.py", "total = a + b")
    assert report.level == "single_file"
    assert report.unit_kind == "function"
    assert report.unit_name == "uses_nothing"
    assert report.files == ()
    resolutions = {s.name: s.resolution for s in report.symbols}
    assert resolutions == {"total": "local", "a": "local", "b": "local", "len": "external", "str": "external"}


def test_relative_module_attribute_resolves_to_definition(make_project: ProjectFactory) -> None:
    project = make_project(FILES)
    report = project.scope_at("src/app/main.py", "return config.load_config()")
    assert report.level == "multi_file"
    assert rel_files(project, report) == ["src/app/config.py"]
    symbol = next(s for s in report.symbols if s.name == "config")
    assert symbol.member == "load_config"
    assert symbol.definition is not None and symbol.definition.kind == "function"
    assert symbol.definition.line == 5
    assert any("load_config" in reason and "src/app/config.py" in reason for reason in report.reasons)


def test_reexport_through_package_init_is_followed(make_project: ProjectFactory) -> None:
    project = make_project(FILES)
    report = project.scope_at("src/app/main.py", "return lc('x')")
    assert report.level == "multi_file"
    assert rel_files(project, report) == ["src/app/config.py"]


def test_submodule_and_star_import(make_project: ProjectFactory) -> None:
    project = make_project(FILES)
    report = project.scope_at("src/app/main.py", "return slug(text.PUBLIC)")
    assert report.level == "multi_file"
    assert rel_files(project, report) == ["src/app/util/stars.py", "src/app/util/text.py"]
    by_name = {s.name: s for s in report.symbols}
    assert by_name["shout"].resolution == "workspace"
    assert by_name["text"].definition is not None
    assert by_name["text"].definition.name == "PUBLIC"


def test_external_and_unresolved(make_project: ProjectFactory) -> None:
    project = make_project(FILES)
    report = project.scope_at("src/app/main.py", "return json.dumps")
    assert report.level == "single_file"
    details = {s.name: (s.resolution, s.detail) for s in report.symbols}
    assert details["json"] == ("external", "stdlib")
    assert details["np"] == ("external", "third-party")
    unresolved = project.scope_at("src/app/main.py", "return not_defined_anywhere")
    assert {s.name: s.resolution for s in unresolved.symbols} == {
        "not_defined_anywhere": "unresolved",
    }
    assert unresolved.level == "single_file"


def test_module_level_statement_unit(make_project: ProjectFactory) -> None:
    project = make_project(FILES)
    report = project.scope_at("src/app/main.py", "from app.util.text import slug")
    assert report.unit_kind == "statement"
    assert report.level == "single_file"


def test_blank_line_inside_function_belongs_to_it(make_project: ProjectFactory) -> None:
    project = make_project({"m.py": "import os\n\ndef f(x):\n    y = os.sep\n    \n\nz = 1\n"})
    doc = project.open("m.py")
    from lsp_server.analysis.scope import measure_scope

    inside = doc.offset_at(4, 4, "utf-16")
    report = measure_scope(doc, inside, "completion", project.index, project.settings)
    assert (report.unit_kind, report.unit_name) == ("function", "f")
    outside = doc.offset_at(5, 0, "utf-16")
    report = measure_scope(doc, outside, "completion", project.index, project.settings)
    assert report.unit_kind == "module"
