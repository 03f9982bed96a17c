"""Targets that cannot honour a request's tools or structured output are skipped with a reason, never used.

``routing.prepare.decide_route`` drops every target named in ``RouteInput.unable`` from the decision's chain
(a reason each); with none left the decision is refused ``unsupported_field`` naming the fields. Budget
re-decisions keep the skip (the field travels with the route input). ``GenerationRequest.features`` is what
a request needs, and ``missing_fields`` names the request fields a backend's features leave out.
"""

from __future__ import annotations

import dataclasses

from inference.settings import default_providers
from inference.types import (
    ChatMessage,
    Feature,
    GenerationRequest,
    ResponseFormat,
    ToolCall,
    ToolChoice,
    ToolSpec,
    missing_fields,
)
from routing.policy import LocalState, RouteInput
from routing.prepare import UNSUPPORTED_FIELD, decide_route
from routing.settings import RoutingSettings
from routing.tasks import TaskKind

PROVIDERS = default_providers()
ROUTING = RoutingSettings()
#: Explain at single-file scope: local by the default policy, the cloud providers as fallbacks.
LOCAL_FIRST = RouteInput(TaskKind.EXPLAIN, "single_file", 300, local=LocalState(model="tiny"))


def test_a_target_that_cannot_honour_is_skipped_with_its_reason() -> None:
    plain = decide_route(LOCAL_FIRST, ROUTING, PROVIDERS)
    assert plain.target == "local" and plain.fallbacks
    tools = dataclasses.replace(LOCAL_FIRST, unable=(("local", ("tools",)),))
    decision = decide_route(tools, ROUTING, PROVIDERS)
    assert decision.target == plain.fallbacks[0].target
    assert "local" not in [t.target for t in decision.chain()]
    assert "local:tiny skipped: cannot honour tools" in decision.reasons
    budget = dataclasses.replace(tools, budget_remaining_usd=0.0)  # the service decides again under a budget
    assert "local" not in [t.target for t in decide_route(budget, ROUTING, PROVIDERS).chain()]


def test_none_left_is_refused_naming_the_fields() -> None:
    everyone = tuple(
        (t.target, ("response_format", "tools")) for t in decide_route(LOCAL_FIRST, ROUTING, PROVIDERS).chain()
    )
    decision = decide_route(dataclasses.replace(LOCAL_FIRST, unable=everyone), ROUTING, PROVIDERS)
    assert decision.primary is None and decision.refused == UNSUPPORTED_FIELD
    assert decision.empty_reason.startswith("response_format, tools: no target that may serve this request")


def test_sensitive_requests_never_fall_to_the_cloud_for_a_feature() -> None:
    sensitive = dataclasses.replace(LOCAL_FIRST, sensitive=True, unable=(("local", ("tools",)),))
    decision = decide_route(sensitive, ROUTING, PROVIDERS)
    assert decision.primary is None and decision.refused == UNSUPPORTED_FIELD
    assert not [t for t in decision.chain() if t.cloud]


def test_what_a_request_needs() -> None:
    tool = ToolSpec("f", parameters={"type": "object"})
    ask = ChatMessage("user", "hi")
    assert GenerationRequest.chat("a", [ask]).features() == frozenset()
    assert GenerationRequest.chat("a", [ask], tools=(tool,)).features() == {Feature.TOOLS}
    assert GenerationRequest.chat("a", [ask], tools=(tool,), tool_choice=ToolChoice("none")).features() == frozenset()
    history = [ask, ChatMessage("assistant", "", (ToolCall("c1", "f"),)), ChatMessage("tool", "42", tool_call_id="c1")]
    assert GenerationRequest.chat("a", history).features() == {Feature.TOOLS}  # a history of calls needs tools
    schema = ResponseFormat("json_schema", "r", {"type": "object"})
    assert GenerationRequest.chat("a", [ask], response_format=schema).features() == {Feature.JSON_SCHEMA}
    assert missing_fields({Feature.TOOLS, Feature.JSON_OBJECT}, {Feature.TOOLS}) == ("response_format",)
    assert missing_fields({Feature.TOOLS}, ()) == ("tools",)
