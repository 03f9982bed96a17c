"""Scope measurement on C, C++, C#, Ruby and PHP projects."""

from __future__ import annotations

from tests.analysis.conftest import ProjectFactory, rel_files

C = {
    "include/geometry.h": (
        '#ifndef GEOMETRY_H\n#define GEOMETRY_H\n#include "types.h"\n\n'
        "/* Area of a rectangle. */\nint area(rect_t r);\n\n#endif\n"
    ),
    "include/types.h": "typedef struct rect { int w; int h; } rect_t;\n",
    "src/geometry.c": '#include "geometry.h"\n\nint area(rect_t r) {\n    return r.w * r.h;\n}\n',
    "src/main.c": (
        '#include <stdio.h>\n#include "../include/geometry.h"\n\n'
        'int main(void) {\n    rect_t r = {2, 3};\n    printf("%d\\n", area(r));\n'
        "    return 0;\n}\n\n"
        "static int twice(int x) {\n    int y = x * 2;\n    return y;\n}\n"
    ),
    "src/local.c": '#include "util.h"\n\nint use_util(void) {\n    return util_value();\n}\n',
    "src/util.h": "int util_value(void);\n",
}

CPP = {
    "lib/shapes/circle.hpp": (
        "#pragma once\nnamespace shapes {\nclass Circle {\npublic:\n"
        "    explicit Circle(double r);\n    double area() const;\n};\n}\n"
    ),
    "app/main.cpp": (
        '#include "shapes/circle.hpp"\n#include <vector>\n\n'
        "double total() {\n    shapes::Circle c(1.0);\n    std::vector<double> v;\n"
        "    return c.area();\n}\n"
    ),
}

CSHARP = {
    "Models/User.cs": "namespace Shop.Models;\n\npublic class User\n{\n    public string Name { get; set; }\n}\n",
    "Services/Greeter.cs": (
        "using System;\nusing Shop.Models;\n\nnamespace Shop.Services;\n\n"
        "public class Greeter\n{\n    public string Greet(User u)\n    {\n"
        '        return "Hello " + u.Name + Helper.Suffix();\n    }\n\n'
        "    public int Twice(int x)\n    {\n        var y = x * 2;\n        return y;\n    }\n}\n"
    ),
    "Services/Helper.cs": (
        'namespace Shop.Services;\n\npublic static class Helper\n{\n    public static string Suffix() => "!";\n}\n'
    ),
}

RUBY = {
    "lib/shop/price.rb": 'module Shop\n  class Price\n    def self.format(v)\n      "#{v} EUR"\n    end\n  end\nend\n',
    "lib/shop/cart.rb": (
        "require_relative 'price'\nrequire 'json'\n\nmodule Shop\n  class Cart\n"
        "    def total(items)\n      Price.format(items.sum)\n    end\n\n"
        "    def size(items)\n      count = items.length\n      count\n    end\n"
        "    def to_json_text(items)\n      JSON.generate(items)\n    end\n  end\nend\n"
    ),
    "app/models/order.rb": "class Order\n  def cart\n    Shop::Cart.new\n  end\nend\n",
}

PHP = {
    "composer.json": '{"autoload": {"psr-4": {"App\\\\": "src/"}}}\n',
    "src/Models/User.php": (
        "<?php\nnamespace App\\Models;\n\nclass User\n{\n    public static function find($id)\n"
        "    {\n        return new User();\n    }\n}\n"
    ),
    "src/Support/helpers.php": "<?php\nfunction money($v)\n{\n    return $v . ' EUR';\n}\n",
    "src/Http/Controller.php": (
        "<?php\nnamespace App\\Http;\n\nuse App\\Models\\User;\n"
        "require_once __DIR__ . '/../Support/helpers.php';\n\n"
        "class Controller\n{\n    public function show($id)\n    {\n"
        "        return User::find($id);\n    }\n\n"
        "    public function price($v)\n    {\n        return money($v);\n    }\n\n"
        "    public function twice($x)\n    {\n        $y = $x * 2;\n        return strlen((string) $y);\n"
        "    }\n}\n"
    ),
}


def test_c_includes_transitively(make_project: ProjectFactory) -> None:
    project = make_project(C)
    report = project.scope_at("src/main.c", "rect_t r = {2, 3}")
    assert report.unit_name == "main"
    assert report.level == "multi_file"
    assert rel_files(project, report) == ["include/geometry.h", "include/types.h"]
    assert {s.name: s.resolution for s in report.symbols}["printf"] == "external"


def test_c_static_function_is_single_file(make_project: ProjectFactory) -> None:
    project = make_project(C)
    report = project.scope_at("src/main.c", "int y = x * 2")
    assert (report.level, report.unit_name) == ("single_file", "twice")


def test_c_include_next_to_file(make_project: ProjectFactory) -> None:
    project = make_project(C)
    report = project.scope_at("src/local.c", "return util_value()")
    assert rel_files(project, report) == ["src/util.h"]


def test_cpp_include_dirs_and_namespaces(make_project: ProjectFactory) -> None:
    project = make_project(CPP, include_dirs=["lib"])
    report = project.scope_at("app/main.cpp", "shapes::Circle c(1.0)")
    assert report.level == "multi_file"
    assert rel_files(project, report) == ["lib/shapes/circle.hpp"]
    assert {s.name: s.detail for s in report.symbols}["std"] == "stdlib"
    without = make_project(CPP)
    unresolved = without.scope_at("app/main.cpp", "shapes::Circle c(1.0)")
    assert unresolved.level == "single_file"


def test_csharp_namespaces(make_project: ProjectFactory) -> None:
    project = make_project(CSHARP)
    report = project.scope_at("Services/Greeter.cs", 'return "Hello "')
    assert (report.unit_kind, report.unit_name) == ("function", "Greet")
    assert rel_files(project, report) == ["Models/User.cs", "Services/Helper.cs"]
    local = project.scope_at("Services/Greeter.cs", "var y = x * 2")
    assert local.level == "single_file"


def test_ruby_require_relative_and_constants(make_project: ProjectFactory) -> None:
    project = make_project(RUBY)
    report = project.scope_at("lib/shop/cart.rb", "Price.format(items.sum)")
    assert report.level == "multi_file"
    assert rel_files(project, report) == ["lib/shop/price.rb"]
    local = project.scope_at("lib/shop/cart.rb", "count = items.length")
    assert local.level == "single_file"
    external = project.scope_at("lib/shop/cart.rb", "JSON.generate")
    assert external.level == "single_file"
    autoload = project.scope_at("app/models/order.rb", "Shop::Cart.new")
    assert rel_files(project, autoload) == ["lib/shop/cart.rb"]


def test_php_psr4_and_require(make_project: ProjectFactory) -> None:
    project = make_project(PHP)
    report = project.scope_at("src/Http/Controller.php", "return User::find($id)")
    assert rel_files(project, report) == ["src/Models/User.php"]
    helper = project.scope_at("src/Http/Controller.php", "return money($v)")
    assert rel_files(project, helper) == ["src/Support/helpers.php"]
    local = project.scope_at("src/Http/Controller.php", "$y = $x * 2")
    assert local.level == "single_file"
