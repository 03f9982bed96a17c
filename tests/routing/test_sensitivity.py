"""``SensitiveRules.check``: the document and its context against ``[sensitive]`` (one rule set for LSP and gateway)."""

from __future__ import annotations

from routing.sensitivity import SensitiveRules

GLOBS = ("**/secrets/**", "**/.env")


def test_a_sensitive_document_keeps_the_request_local_whatever_the_mode() -> None:
    for mode in ("keep_local", "withhold"):
        check = SensitiveRules(GLOBS, ("/w",), mode).check("/w/secrets/keys.py", ["/w/app.py"])
        assert check.reasons == ("sensitive path: keys.py matches '**/secrets/**'; kept on the premises",)
        assert check.withheld == () and check.notes == ()


def test_sensitive_context_is_kept_local_by_default() -> None:
    check = SensitiveRules(GLOBS, ("/w",)).check("/w/billing.py", ["/w/util.py", "/w/pkg/secrets/keys.py"])
    assert check.reasons == (
        "context from pkg/secrets/keys.py (sensitive path: keys.py matches '**/secrets/**'): kept on the premises",
    )
    assert check.sensitive and check.withheld == ()


def test_sensitive_context_is_withheld_when_asked() -> None:
    rules = SensitiveRules(GLOBS, ("/w", "/w/pkg"), "withhold")
    check = rules.check("/w/billing.py", ["/w/pkg/secrets/keys.py", "/w/.env", "/w/pkg/secrets/keys.py"])
    assert not check.sensitive
    assert check.withheld == ("/w/pkg/secrets/keys.py", "/w/.env")
    assert check.notes == (
        "context from secrets/keys.py withheld (sensitive path: keys.py matches '**/secrets/**'): "
        "sent without that file's content",  # the innermost root names it
        "context from .env withheld (sensitive path: .env matches '**/.env'): sent without that file's content",
    )


def test_a_caller_that_cannot_withhold_keeps_the_request_local() -> None:
    check = SensitiveRules(GLOBS, (), "withhold").check("/w/billing.py", ["/w/secrets/keys.py"], may_withhold=False)
    assert check.withheld == ()
    assert check.reasons == (
        "context from /w/secrets/keys.py (sensitive path: keys.py matches '**/secrets/**'): kept on the premises",
    )


def test_ordinary_context_changes_nothing() -> None:
    assert SensitiveRules(GLOBS, ("/w",)).check("/w/billing.py", ["/w/util.py", "", "/w/billing.py"]).reasons == ()
