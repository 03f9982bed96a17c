"""Context assembly: budgets, determinism, stable prefixes, multi-line decisions, trimming."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lsp_server.analysis.completion import trim_completion, wants_multiline
from lsp_server.analysis.context import assemble_context
from lsp_server.analysis.documents import Document
from lsp_server.analysis.scope import measure_scope
from lsp_server.analysis.settings import AnalysisSettings
from tests.analysis.conftest import Project, ProjectFactory

FILES = {
    "shop/pricing.py": (
        '"""Pricing rules."""\n\nTAX = 0.2\n\n'
        "def net(amount: float) -> float:\n"
        '    """Amount without tax."""\n'
        "    return amount / (1 + TAX)\n\n"
        "class Discount:\n"
        '    """A percentage discount."""\n\n'
        "    def __init__(self, percent: int) -> None:\n"
        "        self.percent = percent\n\n"
        "    def apply(self, amount: float) -> float:\n"
        "        return amount * (100 - self.percent) / 100\n"
    ),
    "shop/cart.py": (
        "from shop.pricing import Discount, net\n\n\n"
        "def total(items: list[float], percent: int) -> float:\n"
        "    subtotal = sum(items)\n"
        "    discounted = Discount(percent).apply(subtotal)\n"
        "    return net(discounted)\n\n\n"
        "def count(items: list[float]) -> int:\n"
        "    return len(items)\n"
    ),
}


def _words(text: str) -> int:
    """A deliberately different tokenizer: whitespace-separated words plus newlines."""
    return len(text.split()) + text.count("\n")


def _setup(project: Project) -> tuple[Document, int]:
    doc = project.open("shop/cart.py")
    return doc, doc.source.index(b"discounted = ")


def test_snippets_signature_first_then_bodies(make_project: ProjectFactory) -> None:
    project = make_project(FILES)
    doc, offset = _setup(project)
    scope = measure_scope(doc, offset, "completion", project.index, project.settings)
    small = assemble_context(doc, offset, scope, project.index, 60)
    assert [s.name for s in small.snippets] == ["Discount"]
    assert not small.snippets[0].full
    assert "# class Discount\n#     A percentage discount.\n" in small.prompt_prefix()
    large = assemble_context(doc, offset, scope, project.index, 2000)
    assert all(s.full for s in large.snippets)
    assert [(s.path, s.name) for s in large.snippets] == [
        ("shop/pricing.py", "net"),
        ("shop/pricing.py", "Discount"),
    ]
    block = large.snippet_block()
    assert block.startswith("# shop/pricing.py:5\n# def net(")
    assert block.endswith("# shop/cart.py\n")
    assert large.prompt_prefix().endswith("    subtotal = sum(items)\n    ")
    assert large.suffix.startswith("discounted = Discount(percent)")


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(budget=st.integers(0, 400), position=st.integers(0, 10_000), words=st.booleans())
def test_context_never_exceeds_budget(make_project: ProjectFactory, budget: int, position: int, words: bool) -> None:
    project = make_project(FILES)
    doc = project.open("shop/cart.py")
    offset = position % (len(doc.source) + 1)
    counter = _words if words else None
    scope = measure_scope(doc, offset, "inline_completion", project.index, project.settings)
    ctx = assemble_context(doc, offset, scope, project.index, budget, counter)
    count = counter or __import__("lsp_server.analysis.tokens", fromlist=["x"]).estimate_tokens
    assert ctx.token_count == count(ctx.prompt_prefix()) + count(ctx.suffix)
    assert ctx.token_count <= budget
    assert doc.text.encode()[ctx.prefix_start : offset].decode() == ctx.prefix
    assert doc.text.encode()[offset : ctx.suffix_end].decode() == ctx.suffix


def test_identical_inputs_give_identical_bytes(make_project: ProjectFactory) -> None:
    project = make_project(FILES)
    results = []
    for _ in range(2):
        doc, offset = _setup(project)
        scope = measure_scope(doc, offset, "completion", project.index, project.settings)
        ctx = assemble_context(doc, offset, scope, project.index, 300)
        results.append((ctx.prompt_prefix().encode(), ctx.suffix.encode(), ctx.token_count))
    assert results[0] == results[1]


def test_typing_keeps_the_prompt_prefix_stable(make_project: ProjectFactory) -> None:
    project = make_project(FILES)
    doc, offset = _setup(project)
    previous = None
    for char in "x = net(":
        scope = measure_scope(doc, offset, "completion", project.index, project.settings)
        ctx = assemble_context(doc, offset, scope, project.index, 1000)
        if previous is not None:
            assert ctx.prompt_prefix().startswith(previous)
        previous = ctx.prompt_prefix()
        line, col = doc.position_at(offset, "utf-16")
        doc.apply_change((line, col), (line, col), char, "utf-16")
        offset += 1


def test_plain_text_context_by_lines() -> None:
    text = "".join(f"line number {n}\n" for n in range(40))
    doc = Document("file:///t/notes.txt", text, "plaintext")
    offset = doc.source.index(b"number 20") + 3
    scope = measure_scope(doc, offset, "completion", None, AnalysisSettings())
    assert scope.level == "single_file" and scope.language is None
    ctx = assemble_context(doc, offset, scope, None, 40)
    assert ctx.snippets == () and ctx.comment == ""
    assert ctx.prefix.endswith("\nline num") and ctx.prefix.startswith("line number ")
    assert ctx.suffix.startswith("ber 20\n") and ctx.suffix.endswith(tuple("0123456789"))
    assert 0 < ctx.token_count <= 40
    assert not ctx.multiline


def _doc(text: str, language: str) -> tuple[Document, int]:
    marker = text.index("|")
    clean = text[:marker] + text[marker + 1 :]
    return Document(f"file:///t/x.{language}", clean, language), len(clean[:marker].encode())


def test_multiline_decisions() -> None:
    cases = [
        ("def f():|\n", "python", True),
        ("def f():\n    |\n", "python", True),
        ("def f():\n    x = 1\n    |\n", "python", True),
        ("x = fo|o()\n", "python", False),
        ("x = 1\n|\n", "python", False),
        ("function f() {|}\n", "javascript", True),
        ("function f() {\n  |\n}\n", "javascript", True),
        ("const a = b|;\n", "javascript", False),
        ("\n|\nconst a = 1;\n", "javascript", False),
        ("fn main() {\n    |\n}\n", "rust", True),
    ]
    for text, language, expected in cases:
        doc, offset = _doc(text, language)
        assert wants_multiline(doc, offset) is expected, text


def test_trim_single_line() -> None:
    doc, offset = _doc("x = |\n", "python")
    assert trim_completion(doc, offset, "compute(1)\ny = 2\n", False) == "compute(1)"


def test_trim_python_block() -> None:
    doc, offset = _doc("def f(x):\n    |\n\ndef g():\n    pass\n", "python")
    generated = "y = x * 2\n    return y\n\ndef h():\n    return 3\n"
    assert trim_completion(doc, offset, generated, True) == "y = x * 2\n    return y"
    doc, offset = _doc("class K:|\n", "python")
    generated = "\n    def m(self):\n        return 1\nprint(K())\n"
    assert trim_completion(doc, offset, generated, True) == "\n    def m(self):\n        return 1"


def test_trim_brace_block() -> None:
    doc, offset = _doc("function f() {\n  |\n}\n", "javascript")
    generated = "const y = 1;\n  return y;\n}\n\nfunction g() {}\n"
    assert trim_completion(doc, offset, generated, True) == "const y = 1;\n  return y;"
    doc, offset = _doc("function f() {|\n", "javascript")
    generated = "\n  return '}';\n}\nfunction g() {}\n"
    assert trim_completion(doc, offset, generated, True) == "\n  return '}';\n}"


def test_trim_drops_lines_that_break_a_clean_parse() -> None:
    doc, offset = _doc("def f(x):\n    |\n", "python")
    generated = "y = x + 1\n    return (y"
    assert trim_completion(doc, offset, generated, True) == "y = x + 1"
