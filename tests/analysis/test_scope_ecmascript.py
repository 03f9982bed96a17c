"""Scope measurement on JavaScript, TypeScript and TSX projects."""

from __future__ import annotations

from pathlib import Path

from tests.analysis.conftest import ProjectFactory, rel_files

FILES = {
    "tsconfig.json": (
        '{\n  // path aliases\n  "compilerOptions": {"baseUrl": ".", "paths": {"@lib/*": ["src/lib/*"]},},\n}\n'
    ),
    "src/lib/math.ts": (
        "/** Adds two numbers. */\n"
        "export function add(a: number, b: number): number {\n  return a + b;\n}\n"
        "export const PI = 3.14;\n"
    ),
    "src/lib/fmt.ts": "export function fmt(x: number): string {\n  return `${x}`;\n}\n",
    "src/lib/index.ts": "export * from './math';\nexport { fmt as format } from './fmt';\n",
    "src/models/user.ts": (
        "export interface User {\n  name: string;\n}\n"
        "export class UserStore {\n  count(): number {\n    return 0;\n  }\n}\n"
    ),
    "src/app.ts": (
        "import { add } from '@lib/math';\n"
        "import { format, PI } from './lib';\n"
        "import type { User } from './models/user';\n"
        "import * as path from 'node:path';\n"
        "import React from 'react';\n\n"
        "export function total(u: User): string {\n"
        "  return format(add(1, 2)) + u.name;\n"
        "}\n\n"
        "export function local(x: number): number {\n"
        "  const y = x * 2;\n"
        "  return y + Math.max(1, 2);\n"
        "}\n\n"
        "export function external(): string {\n"
        "  return path.join('a', String(React));\n"
        "}\n\n"
        "export function circle(r: number): number {\n"
        "  return PI * r * r;\n"
        "}\n"
    ),
    "src/view.tsx": (
        "import { UserStore } from './models/user';\n\n"
        "export function View() {\n"
        "  const store = new UserStore();\n"
        "  return <div>{store.count()}</div>;\n"
        "}\n"
    ),
    "src/util.js": "function helper(x) {\n  return x + 1;\n}\nmodule.exports = { helper };\n",
    "src/legacy.js": (
        "const { helper } = require('./util');\n"
        "const fs = require('fs');\n\n"
        "function legacy(v) {\n  return helper(v) + fs.existsSync('x');\n}\n"
    ),
    "node_modules/react/index.js": "export default {};\n",
}


def test_typescript_paths_index_files_and_reexports(make_project: ProjectFactory) -> None:
    project = make_project(FILES)
    report = project.scope_at("src/app.ts", "return format(add(1, 2))")
    assert report.level == "multi_file"
    assert report.unit_kind == "function" and report.unit_name == "total"
    assert rel_files(project, report) == ["src/lib/fmt.ts", "src/lib/math.ts", "src/models/user.ts"]
    by_name = {s.name: s for s in report.symbols}
    assert by_name["format"].definition is not None
    assert by_name["format"].definition.name == "fmt"
    assert by_name["add"].definition is not None and by_name["add"].definition.line == 1


def test_export_star_reexport(make_project: ProjectFactory) -> None:
    project = make_project(FILES)
    report = project.scope_at("src/app.ts", "return PI * r")
    assert rel_files(project, report) == ["src/lib/math.ts"]


def test_typescript_local_and_external(make_project: ProjectFactory) -> None:
    project = make_project(FILES)
    local = project.scope_at("src/app.ts", "const y = x * 2")
    assert local.level == "single_file"
    assert {s.name: s.resolution for s in local.symbols} == {
        "y": "local",
        "x": "local",
        "Math": "external",
    }
    external = project.scope_at("src/app.ts", "return path.join")
    assert external.level == "single_file"
    details = {s.name: s.detail for s in external.symbols}
    assert details["path"] == "stdlib"
    assert details["React"] == "third-party"


def test_tsx_component(make_project: ProjectFactory) -> None:
    project = make_project(FILES)
    report = project.scope_at("src/view.tsx", "const store = new UserStore()")
    assert report.language == "tsx"
    assert report.level == "multi_file"
    assert rel_files(project, report) == ["src/models/user.ts"]


def test_commonjs_require(make_project: ProjectFactory) -> None:
    project = make_project(FILES)
    report = project.scope_at("src/legacy.js", "return helper(v)")
    assert report.language == "javascript"
    assert rel_files(project, report) == ["src/util.js"]
    assert {s.name: s.detail for s in report.symbols}["fs"] == "stdlib"


def test_node_modules_is_not_indexed(make_project: ProjectFactory) -> None:
    project = make_project(FILES)
    indexed = [Path(p).relative_to(project.root).as_posix() for p in project.index.paths()]
    assert "src/app.ts" in indexed
    assert not any(p.startswith("node_modules/") for p in indexed)
