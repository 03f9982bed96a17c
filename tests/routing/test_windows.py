"""``input_limit``: the largest prompt a target the policy may send a request to holds (its window less the answer)."""

from __future__ import annotations

from inference.settings import ProviderSettings
from routing.policy import LocalState, RouteInput, input_limit, too_large
from routing.settings import RoutingSettings, TaskPolicy
from routing.tasks import TaskKind

SMALL_LOCAL = LocalState(model="tiny", context_window=4096)


def _cloud(window: int = 32_000, **kw: object) -> dict[str, ProviderSettings]:
    provider = ProviderSettings(kind="openai", api_key_env="K", models=["m"], context_window=window, **kw)  # type: ignore[arg-type]
    return {"cloud": provider}


def _settings(local_up_to: str, output: int = 1000) -> RoutingSettings:
    policy = TaskPolicy(local_up_to=local_up_to, cloud="cloud:m", max_output_tokens=output)  # type: ignore[arg-type]
    return RoutingSettings(tasks={t.value: policy for t in TaskKind})


def _input(task: TaskKind = TaskKind.EXPLAIN, context_tokens: int = 0, **kw: object) -> RouteInput:
    kw.setdefault("local", SMALL_LOCAL)
    return RouteInput(task, "single_file", context_tokens, **kw)  # type: ignore[arg-type]


def test_the_largest_window_among_the_targets_that_may_serve_less_the_answer() -> None:
    # local by policy, the cloud when it does not fit: the larger of the two
    limit = input_limit(_input(), _settings("repository"), _cloud())
    assert (limit.tokens, limit.windows) == (31_000, (("local", 4096), ("cloud:m", 32_000)))
    # never local by policy and a cloud target is usable: the local window does not count
    assert input_limit(_input(), _settings("never"), _cloud(window=2000)).tokens == 1000


def test_targets_that_may_not_serve_do_not_count() -> None:
    settings = _settings("repository")
    # sensitive code stays on the premises: the local window alone
    assert input_limit(_input(sensitive=True), settings, _cloud()).tokens == 3096
    # a completion the policy keeps local never goes to the cloud
    assert input_limit(_input(TaskKind.COMPLETION), settings, _cloud()).tokens == 3096
    # no key or an open circuit: the cloud target is not usable
    assert input_limit(_input(missing_keys=frozenset({"cloud"})), settings, _cloud()).tokens == 3096
    assert input_limit(_input(unhealthy=frozenset({"cloud"})), settings, _cloud()).tokens == 3096
    # never local, but no cloud target usable: the local engine is what may serve it
    assert input_limit(_input(missing_keys=frozenset({"cloud"})), _settings("never"), _cloud()).tokens == 3096
    # before the engine is up, the setting is its window
    starting = _input(local=LocalState(model="tiny"), sensitive=True)
    assert input_limit(starting, settings, _cloud()).tokens == settings.local_context_tokens - 1000


def test_an_unknown_window_means_no_limit_and_too_large_names_the_sizes() -> None:
    assert input_limit(_input(), _settings("repository"), _cloud(window=0)).tokens is None
    assert input_limit(_input(local=LocalState(available=False)), _settings("never"), {}).tokens is None
    limit = input_limit(_input(), _settings("repository"), _cloud(window=8000))
    assert too_large(_input(context_tokens=7000), limit) == ""
    assert too_large(_input(context_tokens=7001), limit) == (
        "context 7001+1000 tokens fits no model's window (local 4096, cloud:m 8000); nothing was sent"
    )
