"""Scope measurement on Go and Rust projects."""

from __future__ import annotations

from tests.analysis.conftest import ProjectFactory, rel_files

GO = {
    "go.mod": "module example.com/shop\n\ngo 1.22\n",
    "internal/price/price.go": (
        "package price\n\n// Total sums prices.\nfunc Total(xs []int) int {\n"
        "\tt := 0\n\tfor _, x := range xs {\n\t\tt += x\n\t}\n\treturn t\n}\n\n"
        'const Currency = "EUR"\n'
    ),
    "internal/price/tax.go": "package price\n\nfunc Tax(v int) int {\n\treturn v / 5\n}\n",
    "internal/price/tax_test.go": "package price\n\nfunc helperForTests() {}\n",
    "cmd/shop/main.go": (
        'package main\n\nimport (\n\t"fmt"\n\n\t"example.com/shop/internal/price"\n'
        '\t"github.com/google/uuid"\n)\n\n'
        "func main() {\n\tfmt.Println(price.Total([]int{1}), price.Currency, uuid.New())\n}\n\n"
        "func taxed(v int) int {\n\treturn price.Tax(v)\n}\n\n"
        "func sibling() int {\n\treturn fromSibling()\n}\n\n"
        "func pure(v int) int {\n\tw := v * 2\n\treturn len(fmt.Sprint(w))\n}\n"
    ),
    "cmd/shop/sibling.go": "package main\n\nfunc fromSibling() int {\n\treturn 1\n}\n",
}

RUST = {
    "Cargo.toml": '[package]\nname = "shop"\nversion = "0.1.0"\n',
    "src/main.rs": (
        "mod config;\nmod net;\n\nuse crate::config::Config;\nuse std::collections::HashMap;\n\n"
        "fn main() {\n    let c = Config::new();\n    net::client::connect(&c);\n}\n\n"
        "fn pure(x: i32) -> i32 {\n    let m: HashMap<i32, i32> = HashMap::new();\n"
        "    x * 2 + m.len() as i32\n}\n\n"
        "fn via_self() -> u16 {\n    self::config::Config::new().port\n}\n"
    ),
    "src/config.rs": (
        "/// Server configuration.\npub struct Config {\n    pub port: u16,\n}\n\n"
        "impl Config {\n    pub fn new() -> Self {\n        Config { port: 80 }\n    }\n}\n"
    ),
    "src/net/mod.rs": "pub mod client;\n",
    "src/net/client.rs": ("use super::super::config::Config;\n\npub fn connect(c: &Config) -> u16 {\n    c.port\n}\n"),
}


def test_go_package_imports(make_project: ProjectFactory) -> None:
    project = make_project(GO)
    report = project.scope_at("cmd/shop/main.go", "fmt.Println(price.Total")
    assert report.level == "multi_file"
    assert rel_files(project, report) == ["internal/price/price.go"]
    details = {s.name: s.detail for s in report.symbols if s.resolution == "external"}
    assert details == {"fmt": "stdlib", "uuid": "third-party", "int": "builtin"}


def test_go_member_picks_the_defining_file(make_project: ProjectFactory) -> None:
    project = make_project(GO)
    report = project.scope_at("cmd/shop/main.go", "return price.Tax(v)")
    assert rel_files(project, report) == ["internal/price/tax.go"]


def test_go_same_package_name(make_project: ProjectFactory) -> None:
    project = make_project(GO)
    report = project.scope_at("cmd/shop/main.go", "return fromSibling()")
    assert report.level == "multi_file"
    assert rel_files(project, report) == ["cmd/shop/sibling.go"]


def test_go_single_file(make_project: ProjectFactory) -> None:
    project = make_project(GO)
    report = project.scope_at("cmd/shop/main.go", "w := v * 2")
    assert report.level == "single_file"
    assert report.unit_name == "pure"


def test_rust_mod_and_crate_paths(make_project: ProjectFactory) -> None:
    project = make_project(RUST)
    report = project.scope_at("src/main.rs", "let c = Config::new()")
    assert report.level == "multi_file"
    assert rel_files(project, report) == ["src/config.rs", "src/net/client.rs"]


def test_rust_super_paths(make_project: ProjectFactory) -> None:
    project = make_project(RUST)
    report = project.scope_at("src/net/client.rs", "c.port")
    assert report.unit_name == "connect"
    assert rel_files(project, report) == ["src/config.rs"]


def test_rust_self_paths(make_project: ProjectFactory) -> None:
    project = make_project(RUST)
    report = project.scope_at("src/main.rs", "self::config::Config::new().port")
    assert report.unit_name == "via_self"
    assert rel_files(project, report) == ["src/config.rs"]
    symbol = next(s for s in report.symbols if s.name == "self")
    assert symbol.definition is not None and symbol.definition.name == "Config"


def test_rust_std_is_external(make_project: ProjectFactory) -> None:
    project = make_project(RUST)
    report = project.scope_at("src/main.rs", "x * 2 + m.len()")
    assert report.level == "single_file"
    assert {s.name: s.detail for s in report.symbols}["HashMap"] == "stdlib"
