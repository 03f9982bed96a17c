"""Scope measurement on Java and Kotlin projects (packages, wildcard and static imports)."""

from __future__ import annotations

from tests.analysis.conftest import ProjectFactory, rel_files

JAVA_ROOT = "src/main/java/com/shop/"
JAVA = {
    JAVA_ROOT + "model/Item.java": (
        "package com.shop.model;\n\npublic class Item {\n    public int price() {\n        return 1;\n    }\n}\n"
    ),
    JAVA_ROOT + "util/Money.java": (
        "package com.shop.util;\n\npublic final class Money {\n"
        '    public static final String CURRENCY = "EUR";\n\n'
        "    public static int round(int v) {\n        return v;\n    }\n}\n"
    ),
    JAVA_ROOT + "app/Discount.java": "package com.shop.app;\n\npublic class Discount {\n}\n",
    JAVA_ROOT + "app/Cart.java": (
        "package com.shop.app;\n\n"
        "import com.shop.model.Item;\nimport com.shop.util.*;\n"
        "import static com.shop.util.Money.CURRENCY;\nimport java.util.List;\n\n"
        "public class Cart {\n    private List<Item> items;\n\n"
        "    public int total() {\n        int t = 0;\n        for (Item i : items) {\n"
        "            t += i.price();\n        }\n        return Money.round(t);\n    }\n\n"
        "    public String currency() {\n        return CURRENCY;\n    }\n\n"
        "    public int count() {\n        return items.size();\n    }\n\n"
        "    public Discount discount() {\n        return new Discount();\n    }\n}\n"
    ),
}

KOTLIN_ROOT = "src/main/kotlin/com/shop/"
KOTLIN = {
    KOTLIN_ROOT + "util/Format.kt": ('package com.shop.util\n\nfun formatPrice(v: Int): String = "$v EUR"\n'),
    KOTLIN_ROOT + "model/Item.kt": "package com.shop.model\n\ndata class Item(val price: Int)\n",
    KOTLIN_ROOT + "app/Helpers.kt": "package com.shop.app\n\nfun helperInSamePackage(): Int = 1\n",
    KOTLIN_ROOT + "app/Main.kt": (
        "package com.shop.app\n\nimport com.shop.model.Item\nimport com.shop.util.formatPrice\n\n"
        "fun show(item: Item): String {\n    return formatPrice(item.price)\n}\n\n"
        "fun twice(x: Int): Int {\n    val y = x * 2\n    return y\n}\n\n"
        "fun other(): Int {\n    return helperInSamePackage()\n}\n"
    ),
}


def test_java_class_and_wildcard_imports(make_project: ProjectFactory) -> None:
    project = make_project(JAVA)
    report = project.scope_at(JAVA_ROOT + "app/Cart.java", "int t = 0")
    assert (report.unit_kind, report.unit_name) == ("function", "total")
    assert report.level == "multi_file"
    assert rel_files(project, report) == [
        JAVA_ROOT + "model/Item.java",
        JAVA_ROOT + "util/Money.java",
    ]


def test_java_static_import(make_project: ProjectFactory) -> None:
    project = make_project(JAVA)
    report = project.scope_at(JAVA_ROOT + "app/Cart.java", "return CURRENCY")
    assert rel_files(project, report) == [JAVA_ROOT + "util/Money.java"]
    symbol = next(s for s in report.symbols if s.name == "CURRENCY")
    assert symbol.definition is not None and symbol.definition.kind == "constant"


def test_java_same_package_and_local(make_project: ProjectFactory) -> None:
    project = make_project(JAVA)
    report = project.scope_at(JAVA_ROOT + "app/Cart.java", "return new Discount()")
    assert rel_files(project, report) == [JAVA_ROOT + "app/Discount.java"]
    local = project.scope_at(JAVA_ROOT + "app/Cart.java", "return items.size()")
    assert local.level == "single_file"


def test_kotlin_imports_and_same_package(make_project: ProjectFactory) -> None:
    project = make_project(KOTLIN)
    report = project.scope_at(KOTLIN_ROOT + "app/Main.kt", "return formatPrice")
    assert report.level == "multi_file"
    assert rel_files(project, report) == [KOTLIN_ROOT + "model/Item.kt", KOTLIN_ROOT + "util/Format.kt"]
    same = project.scope_at(KOTLIN_ROOT + "app/Main.kt", "return helperInSamePackage")
    assert rel_files(project, same) == [KOTLIN_ROOT + "app/Helpers.kt"]
    local = project.scope_at(KOTLIN_ROOT + "app/Main.kt", "val y = x * 2")
    assert local.level == "single_file"
