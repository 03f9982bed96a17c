"""Scope levels: repository-wide tasks, configured limits, multi-file refactors, JSON form."""

from __future__ import annotations

import json

import pytest

from lsp_server.analysis.documents import Document
from lsp_server.analysis.scope import measure_scope
from lsp_server.analysis.settings import AnalysisSettings
from lsp_server.analysis.tasks import REPOSITORY_WIDE_TASKS, TaskKind
from tests.analysis.conftest import ProjectFactory, rel_files

MANY = {f"pkg/m{i}.py": f"def f{i}():\n    return {i}\n" for i in range(5)}
MANY["pkg/__init__.py"] = ""
MANY["pkg/main.py"] = (
    "".join(f"from pkg.m{i} import f{i}\n" for i in range(5))
    + "\n\ndef uses_all():\n    return f0() + f1() + f2() + f3() + f4()\n\n\n"
    "def alone(x):\n    return x\n"
)
MANY["pkg/caller.py"] = "from pkg.main import alone\n\nprint(alone(1))\n"
MANY["pkg/big.py"] = "def huge():\n" + "    x = 1\n" * 3000 + "    return x\n"
MANY["pkg/uses_big.py"] = "from pkg.big import huge\n\ndef g():\n    return huge()\n"


@pytest.mark.parametrize("task", sorted(REPOSITORY_WIDE_TASKS))
def test_repository_wide_tasks(make_project: ProjectFactory, task: TaskKind) -> None:
    project = make_project(MANY)
    report = project.scope_at("pkg/main.py", "return x", str(task))
    assert report.level == "repository"
    assert report.reasons[0] == f"task `{task}` is repository-wide"


def test_file_limit_makes_it_repository(make_project: ProjectFactory) -> None:
    project = make_project(MANY, repository_max_files=4)
    report = project.scope_at("pkg/main.py", "return f0()")
    assert report.level == "repository"
    assert len(report.files) == 5
    assert report.reasons[0] == "needs 5 other files (limit 4)"
    relaxed = make_project(MANY, repository_max_files=5)
    assert relaxed.scope_at("pkg/main.py", "return f0()").level == "multi_file"


def test_token_limit_makes_it_repository(make_project: ProjectFactory) -> None:
    project = make_project(MANY, repository_max_tokens=1_000)
    report = project.scope_at("pkg/uses_big.py", "return huge()", "explain")
    assert report.level == "repository"
    assert report.context_tokens > 1_000
    assert report.reasons[0].startswith("needs ~")
    assert project.scope_at("pkg/main.py", "return x", "explain").level == "single_file"


def test_multi_file_refactor_is_at_least_multi_file(make_project: ProjectFactory) -> None:
    project = make_project(MANY)
    report = project.scope_at("pkg/main.py", "return x", "multi_file_refactor")
    assert report.level == "multi_file"
    assert rel_files(project, report) == ["pkg/caller.py"]
    assert project.scope_at("pkg/main.py", "return x", "refactor").level == "single_file"


def test_selection_spanning_units(make_project: ProjectFactory) -> None:
    project = make_project(MANY)
    doc = project.open("pkg/main.py")
    start = doc.source.index(b"def uses_all")
    end = doc.source.index(b"return x")
    report = measure_scope(doc, start, "explain", project.index, project.settings, selection=(start, end))
    assert report.unit_kind == "module"
    assert report.level == "multi_file"


def test_json_form(make_project: ProjectFactory) -> None:
    project = make_project(MANY)
    report = project.scope_at("pkg/main.py", "return f0()", "explain")
    data = report.to_json()
    assert json.loads(json.dumps(data)) == data
    assert set(data) >= {"level", "language", "unit", "symbols", "files", "context_tokens", "reasons"}
    assert data["unit"] == {
        "kind": "function",
        "name": "uses_all",
        "range": {"start": {"line": 7, "column": 0}, "end": {"line": 8, "column": 43}},
    }
    first = json.loads(json.dumps(data["symbols"]))[0]
    assert first["name"] == "f0" and first["resolution"] == "workspace"
    assert first["file"] == project.uri("pkg/m0.py")
    assert first["definition"]["line"] == 0


def test_unknown_task_raises() -> None:
    doc = Document("file:///t/a.py", "x = 1\n", "python")
    with pytest.raises(ValueError, match="unknown task"):
        measure_scope(doc, 0, "write-a-novel", None, AnalysisSettings())


def test_without_index_resolves_against_the_disk(make_project: ProjectFactory) -> None:
    project = make_project(MANY)
    doc = project.open("pkg/main.py")
    offset = doc.source.index(b"return f0()")
    report = measure_scope(doc, offset, "completion", None, project.settings)
    assert report.level == "multi_file", "the package containing the file is a source root"
    assert rel_files(project, report) == [f"pkg/m{i}.py" for i in range(5)]
    assert all(s.definition is None for s in report.symbols), "no index: files, not definitions"
