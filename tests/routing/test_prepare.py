"""``routing.prepare.scan_route``: the secret scan runs only where text may leave, and keeps what it found."""

from __future__ import annotations

from inference.settings import default_providers
from routing.policy import LocalState, RouteInput
from routing.prepare import PreparedRoute, decide_route, scan_route
from routing.sensitivity import ContextCheck
from routing.settings import RoutingSettings, SensitiveSettings
from routing.tasks import TaskKind

TOKEN = 'TOKEN = "ghp_aB3dE5fG7hJ9kL1mN3pQ5rS7tU9vW1xY3zA5"\n'
PROVIDERS = default_providers()
ROUTING = RoutingSettings()


def _prepared(sensitive: bool = False) -> PreparedRoute:
    route_input = RouteInput(
        TaskKind.SECURITY,  # the default policy sends it to the cloud
        "repository",
        500,
        sensitive=sensitive,
        sensitive_reasons=("kept",) if sensitive else (),
        local=LocalState(model="tiny"),
    )
    return PreparedRoute(route_input, decide_route(route_input, ROUTING, PROVIDERS), ContextCheck((), (), ()))


def test_secrets_bound_for_the_cloud_are_redacted_or_keep_the_request_local() -> None:
    plain = _prepared()
    assert plain.may_leave
    assert scan_route(plain, lambda: ("def f(): pass",), PROVIDERS, ROUTING, SensitiveSettings()) == plain

    redacted = scan_route(plain, lambda: (TOKEN,), PROVIDERS, ROUTING, SensitiveSettings())
    assert redacted.secrets == ("token",) and redacted.may_leave and not redacted.route_input.sensitive
    assert "secrets in the context (token) are redacted before it leaves the premises" in redacted.decision.reasons

    kept = scan_route(plain, lambda: (TOKEN,), PROVIDERS, ROUTING, SensitiveSettings(on_secret="local_only"))
    assert kept.secrets == ("token",)  # kept: anything that still left would be redacted
    assert kept.route_input.sensitive and not kept.may_leave and kept.decision.target == "local"
    assert kept.route_input.sensitive_reasons == ("secrets in the context (token): kept on the premises",)


def test_nothing_is_scanned_when_nothing_may_leave() -> None:
    def never() -> tuple[str, ...]:
        raise AssertionError("scanned")

    sensitive = _prepared(sensitive=True)
    assert not sensitive.may_leave
    assert scan_route(sensitive, never, PROVIDERS, ROUTING, SensitiveSettings()) is sensitive
    plain = _prepared()
    assert scan_route(plain, never, PROVIDERS, ROUTING, SensitiveSettings(detect_secrets=False)) is plain
