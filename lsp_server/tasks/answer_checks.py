"""The checks a cheap tier's answer must pass before it is used (cheap first, escalate on a checked failure).

Each check returns why the answer fails ("" when it passes), using the checks
the commands already apply: findings must parse and cite lines of the files
that were shown (:func:`lsp_server.tasks.command_results.locate_findings`);
generated test files must parse (:func:`lsp_server.tasks.findings.parse_generated_files`)
and have no syntax error in their language (:func:`lsp_server.tasks.edits.syntax_problems`).
A failing answer from a cloud tier is asked again of the task's next tier.
"""

from __future__ import annotations

from lsp_server.analysis.languages import detect_language
from lsp_server.tasks.command_results import locate_findings
from lsp_server.tasks.edits import syntax_problems
from lsp_server.tasks.findings import MalformedAnswerError, parse_findings, parse_generated_files
from lsp_server.tasks.gathering import Gathered
from lsp_server.tasks.repository import Digest


def findings_problem(answer: str, digest: Digest, gathered: Gathered) -> str:
    """Why ``answer``'s findings cannot be trusted: they do not parse, or one does not cite a line shown."""
    try:
        parsed = parse_findings(answer)
    except MalformedAnswerError as exc:
        return f"the findings do not parse: {exc}"
    if parsed.problems:
        return f"a finding does not parse: {parsed.problems[0]}"
    _, problems = locate_findings(parsed, digest, gathered)
    return f"a finding cites lines that were not shown: {problems[0]}" if problems else ""


def generated_tests_problem(answer: str, default_path: str | None) -> str:
    """Why ``answer``'s generated test files cannot be used: none is named, one is cut off or does not parse."""
    try:
        parsed = parse_generated_files(answer, default_path)
    except MalformedAnswerError as exc:
        return str(exc)
    cut = [p for p in parsed.problems if "cut off" in p]
    if cut:
        return cut[0]
    for generated in parsed.files:
        language = detect_language("", generated.path)
        found = syntax_problems(language, generated.content.encode("utf-8"))
        if found:
            return f"{generated.path}:{found[0].line + 1}: {found[0].message}"
    return ""
