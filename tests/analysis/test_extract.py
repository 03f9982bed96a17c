"""Symbol extraction per language: definitions (kind, container, signature, doc), imports, exports."""

from __future__ import annotations

import pytest

from lsp_server.analysis.extract import symbols_from_bytes
from lsp_server.analysis.languages import SUPPORTED_LANGUAGES, queries
from lsp_server.analysis.symbols import DEFINITION_KINDS, IMPORT_KINDS, FileSymbols, ImportRef

SAMPLES: dict[str, tuple[str, str]] = {
    "python": (
        "m.py",
        "import os.path, sys as system\nfrom ..pkg import (a, b as c)\nfrom x import *\n"
        '__all__ = [\'f\', \'K\']\nK: int = 1\n\n@dec\ndef f(p, q=1) -> int:\n    """Doc."""\n'
        "    def inner():\n        pass\n    return p\n\nclass C(Base):\n    def m(self):\n        pass\n",
    ),
    "javascript": (
        "m.js",
        "import d, { a, b as c } from './u';\nimport * as ns from 'pkg';\n"
        "/** Adds. */\nexport function add(x, y) { return x + y; }\nexport const LIMIT = 3;\n"
        "const arrow = (v) => v;\nclass K { m() {} }\nexport { arrow as renamed };\n",
    ),
    "typescript": (
        "m.ts",
        "import type { T } from '@/types';\nexport interface I { a: number }\n"
        "export type Alias = I | null;\nexport enum E { A }\nexport abstract class C { f(): void {} }\n",
    ),
    "tsx": ("m.tsx", "import React from 'react';\nexport function View() { return <div />; }\n"),
    "go": (
        "m.go",
        'package shop\n\nimport (\n\t"fmt"\n\tu "example.com/m/util"\n\t. "strings"\n)\n\n'
        "const Max = 10\ntype S struct{ X int }\nfunc (s *S) Method() int { return 1 }\n"
        "// F does things.\nfunc F() { fmt.Println(u.X) }\nfunc private() {}\n",
    ),
    "rust": (
        "lib.rs",
        "mod util;\nuse crate::util::{helper, Thing as T2};\nuse super::x::*;\n"
        "/// A point.\npub struct P { x: i32 }\nimpl P { pub fn new() -> Self { P { x: 1 } } }\n"
        "pub const MAX: u32 = 1;\nfn private() {}\n",
    ),
    "java": (
        "A.java",
        "package com.ex.app;\nimport com.ex.util.Helper;\nimport com.ex.model.*;\n"
        "/** The A class. */\npublic class A {\n  public static final int K = 1;\n"
        "  private int f;\n  public int m(String s) { return 1; }\n}\n",
    ),
    "c": (
        "m.h",
        '#include "util.h"\n#include <stdio.h>\n#define MAXN 10\ntypedef struct p { int x; } p_t;\n'
        "int helper(int a);\nstatic int hidden(void) { return 0; }\n",
    ),
    "cpp": (
        "m.hpp",
        '#include "lib/x.hpp"\nnamespace ns {\nclass Foo {\npublic:\n  int m(int a);\n};\n}\n'
        "int ns::Foo::m(int a) { return a; }\ntemplate <typename T> T tf(T x) { return x; }\n",
    ),
    "csharp": (
        "A.cs",
        "using System;\nusing X = App.Models.User;\nnamespace App.Services;\n"
        "public class Svc { public const int K = 1; public int M() { return 1; } }\n",
    ),
    "ruby": (
        "a.rb",
        "require 'json'\nrequire_relative 'lib/util'\nmodule Outer\n  class Foo < Base\n"
        "    MAX = 3\n    # Bars.\n    def bar(x)\n      x\n    end\n  end\nend\n",
    ),
    "php": (
        "a.php",
        "<?php\nnamespace App\\Http;\nuse App\\Models\\User;\nuse App\\Support\\{Str, Arr as A};\n"
        "require_once __DIR__ . '/helpers.php';\nfunction helper($a) { return $a; }\n"
        "class Ctl { private function hidden() {} public function show() {} }\n",
    ),
    "kotlin": (
        "a.kt",
        "package com.ex.app\nimport com.ex.util.Helper\nimport com.ex.model.*\n"
        "import com.ex.util.run as r\nconst val MAX = 3\nclass Foo { fun m(): Int = 1 }\n"
        "fun top(a: Int): Int = a\n",
    ),
}


def _extract(language: str) -> FileSymbols:
    name, text = SAMPLES[language]
    return symbols_from_bytes(f"/w/{name}", language, text.encode())


def _defs(symbols: FileSymbols) -> set[tuple[str, str, str]]:
    return {(d.kind, d.container, d.name) for d in symbols.definitions}


def test_every_supported_language_has_queries_and_a_sample() -> None:
    assert set(SAMPLES) == SUPPORTED_LANGUAGES
    for language in SUPPORTED_LANGUAGES:
        compiled = queries(language)
        assert compiled.tags.pattern_count > 0 and compiled.references.pattern_count > 0


def test_python() -> None:
    symbols = _extract("python")
    assert {("constant", "", "K"), ("function", "", "f"), ("class", "", "C"), ("method", "C", "m")} <= _defs(symbols)
    assert not any(d.name == "inner" for d in symbols.definitions), "nested functions are locals"
    f = next(d for d in symbols.definitions if d.name == "f")
    assert (f.signature, f.doc, f.start_line) == ("def f(p, q=1) -> int", "Doc.", 6)
    assert symbols.exports == ("f", "K")
    assert ImportRef("os.path", "module", "", "os", 0, 0) in symbols.imports
    assert ImportRef("pkg", "name", "b", "c", 2, 1) in symbols.imports
    assert ImportRef("x", "star", "", "*", 0, 2) in symbols.imports


def test_javascript() -> None:
    symbols = _extract("javascript")
    assert {
        ("function", "", "add"),
        ("constant", "", "LIMIT"),
        ("function", "", "arrow"),
        ("method", "K", "m"),
    } <= _defs(symbols)
    add = next(d for d in symbols.definitions if d.name == "add")
    assert add.doc == "Adds." and add.exported
    assert set(symbols.exports) == {"add", "LIMIT", "arrow"}
    assert [(i.module, i.kind, i.name, i.local) for i in symbols.imports] == [
        ("./u", "name", "default", "d"),
        ("./u", "name", "a", "a"),
        ("./u", "name", "b", "c"),
        ("pkg", "module", "", "ns"),
    ]


def test_typescript_and_tsx() -> None:
    ts = _extract("typescript")
    assert {("type", "", "I"), ("type", "", "Alias"), ("type", "", "E"), ("class", "", "C")} <= _defs(ts)
    tsx = _extract("tsx")
    assert ("function", "", "View") in _defs(tsx)
    assert tsx.imports[0].module == "react"


def test_go() -> None:
    symbols = _extract("go")
    assert symbols.package == "shop"
    assert {("constant", "", "Max"), ("type", "", "S"), ("method", "S", "Method"), ("function", "", "F")} <= _defs(
        symbols
    )
    assert next(d for d in symbols.definitions if d.name == "F").doc == "F does things."
    assert not next(d for d in symbols.definitions if d.name == "private").exported
    assert [(i.module, i.kind, i.local) for i in symbols.imports] == [
        ("fmt", "module", "fmt"),
        ("example.com/m/util", "module", "u"),
        ("strings", "star", "*"),
    ]


def test_rust() -> None:
    symbols = _extract("rust")
    assert {("type", "", "P"), ("method", "P", "new"), ("constant", "", "MAX")} <= _defs(symbols)
    assert next(d for d in symbols.definitions if d.name == "P").doc == "A point."
    assert not next(d for d in symbols.definitions if d.name == "private").exported
    assert [(i.module, i.kind, i.local) for i in symbols.imports] == [
        ("util", "mod", "util"),
        ("crate::util::helper", "name", "helper"),
        ("crate::util::Thing", "name", "T2"),
        ("super::x", "star", "*"),
    ]


def test_java() -> None:
    symbols = _extract("java")
    assert symbols.package == "com.ex.app"
    assert {("class", "", "A"), ("constant", "A", "K"), ("method", "A", "m")} <= _defs(symbols)
    assert next(d for d in symbols.definitions if d.name == "A").doc == "The A class."
    assert not next(d for d in symbols.definitions if d.name == "f").exported
    assert [(i.module, i.kind) for i in symbols.imports] == [
        ("com.ex.util.Helper", "name"),
        ("com.ex.model", "star"),
    ]


def test_c_and_cpp() -> None:
    c = _extract("c")
    assert {("constant", "", "MAXN"), ("type", "", "p_t"), ("function", "", "helper")} <= _defs(c)
    assert not next(d for d in c.definitions if d.name == "hidden").exported
    assert [(i.module, i.kind) for i in c.imports] == [("util.h", "include"), ("stdio.h", "system_include")]
    cpp = _extract("cpp")
    assert {
        ("module", "", "ns"),
        ("class", "", "Foo"),
        ("method", "Foo", "m"),
        ("function", "", "tf"),
    } <= _defs(cpp)


def test_csharp() -> None:
    symbols = _extract("csharp")
    assert symbols.package == "App.Services"
    assert {("class", "", "Svc"), ("method", "Svc", "M"), ("constant", "Svc", "K")} <= _defs(symbols)
    assert [(i.module, i.kind, i.local) for i in symbols.imports] == [
        ("System", "star", "*"),
        ("App.Models.User", "name", "X"),
    ]


def test_ruby() -> None:
    symbols = _extract("ruby")
    assert {("module", "", "Outer"), ("class", "Outer", "Foo"), ("method", "Foo", "bar")} <= _defs(symbols)
    assert next(d for d in symbols.definitions if d.name == "bar").doc == "Bars."
    assert [(i.module, i.kind) for i in symbols.imports] == [("json", "require"), ("lib/util", "include")]


def test_php() -> None:
    symbols = _extract("php")
    assert symbols.package == "App\\Http"
    assert {("function", "", "helper"), ("class", "", "Ctl"), ("method", "Ctl", "show")} <= _defs(symbols)
    assert not next(d for d in symbols.definitions if d.name == "hidden").exported
    assert [(i.module, i.local) for i in symbols.imports] == [
        ("App\\Models\\User", "User"),
        ("App\\Support\\Str", "Str"),
        ("App\\Support\\Arr", "A"),
        ("./helpers.php", ""),
    ]


def test_kotlin() -> None:
    symbols = _extract("kotlin")
    assert symbols.package == "com.ex.app"
    assert {("constant", "", "MAX"), ("class", "", "Foo"), ("method", "Foo", "m"), ("function", "", "top")} <= _defs(
        symbols
    )
    assert [(i.module, i.kind, i.local) for i in symbols.imports] == [
        ("com.ex.util.Helper", "name", "Helper"),
        ("com.ex.model", "star", "*"),
        ("com.ex.util.run", "name", "r"),
    ]


@pytest.mark.parametrize("language", sorted(SUPPORTED_LANGUAGES))
def test_kinds_are_from_the_documented_vocabulary(language: str) -> None:
    symbols = _extract(language)
    assert symbols.definitions and {d.kind for d in symbols.definitions} <= DEFINITION_KINDS
    assert symbols.imports and {i.kind for i in symbols.imports} <= IMPORT_KINDS


@pytest.mark.parametrize("language", sorted(SUPPORTED_LANGUAGES))
def test_json_round_trip(language: str) -> None:
    symbols = _extract(language)
    again = FileSymbols.from_json(symbols.path, symbols.content_hash, symbols.size, symbols.mtime_ns, symbols.to_json())
    assert again == symbols
