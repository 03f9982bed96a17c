"""Configuration of routing and usage control: ``[routing]``, ``[sensitive]``, ``[budgets]``...

The per-task policy table follows the reference design: the local GPUs take
completion, single-file refactoring, basic documentation, explanation,
simple debugging, review assistance, naming and basic tests; the cloud takes
multi-file and repository-wide work. Local first: explanation, naming, review
(the review command and action: file- and diff-scoped reviews, whose digest is
small) and documentation (a file's documentation) go local at any scope
whenever the prompt and answer fit the local window — the policy sends the
rest to the cloud (``decide``: "exceeds the local window") — fixes and
docstrings up to multi-file scope; sensitive code never leaves whatever the
table says. Every entry can be overridden in TOML::

    [routing.tasks.explain]
    local_up_to = "multi_file"        # scope levels served locally
    cloud = "gemini:gemini-2.5-flash" # provider[:model] when it goes to the cloud

Cheap first: ``tiers`` lists cloud targets tried in this order before
``cloud`` (which ends the list unless it is in it already). The first tier
serves the request; when its answer fails the command's check (findings that
do not parse or cite lines that were not shown, generated tests that do not
parse) the next tier is asked. By default review, security and performance
try ``gemini:gemini-2.5-flash`` first and escalate to their ``cloud`` model::

    [routing.tasks.security]
    tiers = ["gemini:gemini-2.5-flash", "openai:gpt-4o"]   # or tiers = [] for cloud alone

Routing that learns (``hybrid-assist routing learn``, :mod:`routing.learning`)
writes ``learned`` rules: cells (scope level, prompt-size bucket, language) of
a task moved to local or cloud by the outcomes the ledger recorded, judged by
``[routing.learning]``; ``exploration_share`` keeps both sides' estimates
fresh (:mod:`routing.exploration`).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError, field_validator

from routing.tasks import TaskKind

ScopeLevelName = Literal["single_file", "multi_file", "repository"]
LocalReach = Literal["never", "single_file", "multi_file", "repository"]


class LearnedRoute(BaseModel):
    """One cell of the policy moved by ``hybrid-assist routing learn``: a scope level, a context-size bucket and a
    language of one task, and where its requests go (sensitive code stays on the premises whatever this says)."""

    model_config = ConfigDict(extra="forbid")

    scope_level: ScopeLevelName = Field(description="The scope level of the requests this rule covers.")
    min_context_tokens: int = Field(default=0, ge=0, description="Smallest prompt (tokens) this rule covers.")
    max_context_tokens: int = Field(
        default=0, ge=0, description="Prompts below this many tokens are covered (0: no upper bound)."
    )
    language: str = Field(default="", description='The request\'s language id ("": any language).')
    route: Literal["local", "cloud"] = Field(description="Where these requests go: the local engine or the cloud.")
    evidence: str = Field(default="", description="Why (the counts, rates and intervals it was learned from).")

    def covers(self, scope_level: str, context_tokens: int, language: str) -> bool:
        """Whether a request of this scope, prompt size and language falls in this rule's cell."""
        return (
            self.scope_level == scope_level
            and context_tokens >= self.min_context_tokens
            and (self.max_context_tokens == 0 or context_tokens < self.max_context_tokens)
            and (not self.language or self.language == language)
        )


class TaskPolicy(BaseModel):
    """Where one task kind goes."""

    model_config = ConfigDict(extra="forbid")

    local_up_to: LocalReach = Field(
        description="Largest scope level served by the local engine; 'never' sends every request to the cloud."
    )
    cloud: str = Field(
        description='Cloud target as "provider" or "provider:model"; the provider part names a [providers.NAME] '
        'table or a kind ("openai:gpt-4o": any enabled provider of kind openai that lists or accepts gpt-4o).'
    )
    max_output_tokens: int = Field(default=512, ge=1, description="Answer length asked of the model.")
    tiers: list[str] = Field(
        default_factory=list,
        description='Cheap first: cloud targets ("provider[:model]") tried in this order before cloud (which ends '
        "the list unless it is in it); when an answer fails the command's check (findings JSON that does not "
        "parse or cites lines not shown, generated tests that do not parse) the next tier is asked. Empty: cloud "
        "alone.",
    )

    learned: list[LearnedRoute] = Field(
        default_factory=list,
        description="Cells moved by routing that learns (hybrid-assist routing learn --apply writes them to the "
        "learned overlay): the first rule covering a request's scope level, prompt size and language decides local "
        "or cloud instead of local_up_to (the local window and sensitive code still rule).",
    )

    @field_validator("tiers")
    @classmethod
    def _tiers_are_targets(cls, tiers: list[str]) -> list[str]:
        if any(not tier.partition(":")[0].strip() for tier in tiers):
            raise ValueError('each tier is "provider" or "provider:model"')
        return tiers

    @property
    def order(self) -> tuple[str, ...]:
        """The cloud targets in the order they are asked: the tiers, then ``cloud`` (once)."""
        return tuple(dict.fromkeys([*self.tiers, self.cloud]))

    def learned_route(self, scope_level: str, context_tokens: int, language: str) -> LearnedRoute | None:
        """The first learned rule covering a request (None: ``local_up_to`` decides)."""
        return next((r for r in self.learned if r.covers(scope_level, context_tokens, language)), None)

    @property
    def first_cloud(self) -> str:
        """The cloud target asked first: the first tier, else ``cloud``."""
        return self.order[0]


def _t(local_up_to: LocalReach, cloud: str, max_output_tokens: int, *cheaper: str) -> TaskPolicy:
    return TaskPolicy(local_up_to=local_up_to, cloud=cloud, max_output_tokens=max_output_tokens, tiers=list(cheaper))


#: The cheap first tier of the repository-wide findings tasks (review, security, performance).
CHEAP_TIER = "gemini:gemini-2.5-flash"


def default_task_policies() -> dict[str, TaskPolicy]:
    """The reference design's local-vs-cloud split, task by task."""
    return {
        TaskKind.COMPLETION: _t("repository", "openai:gpt-4o-mini", 64),
        TaskKind.INLINE_COMPLETION: _t("repository", "openai:gpt-4o-mini", 64),
        # the reference design's local tasks: local whenever the request fits the local window
        TaskKind.EXPLAIN: _t("repository", "gemini:gemini-2.5-flash", 400),
        TaskKind.DOCSTRING: _t("multi_file", "gemini:gemini-2.5-flash", 300),
        TaskKind.NAMING: _t("repository", "gemini:gemini-2.5-flash", 120),
        TaskKind.REFACTOR: _t("single_file", "anthropic:claude-sonnet-4-6", 1500),
        TaskKind.TESTS: _t("single_file", "anthropic:claude-sonnet-4-6", 1500),
        TaskKind.FIX: _t("multi_file", "openai:gpt-4o", 800),
        # findings tasks: the cheap tier first, the premium model when its findings fail their check
        TaskKind.REVIEW: _t("repository", "anthropic:claude-sonnet-4-6", 1500, CHEAP_TIER),
        TaskKind.MULTI_FILE_REFACTOR: _t("never", "anthropic:claude-sonnet-4-6", 3000),
        TaskKind.ARCHITECTURE: _t("never", "openai:gpt-4o", 2500),
        TaskKind.DOCUMENTATION: _t("repository", "gemini:gemini-2.5-pro", 4000),
        TaskKind.SECURITY: _t("never", "openai:gpt-4o", 2500, CHEAP_TIER),
        TaskKind.MIGRATION: _t("never", "anthropic:claude-sonnet-4-6", 3000),
        TaskKind.PERFORMANCE: _t("never", "openai:gpt-4o", 2000, CHEAP_TIER),
        TaskKind.API_INTEGRATION: _t("never", "gemini:gemini-2.5-pro", 2000),
    }


class LearningSettings(BaseModel):
    """``[routing.learning]``: how ``hybrid-assist routing learn`` judges the ledger's outcomes."""

    model_config = ConfigDict(extra="forbid")

    margin: float = Field(
        default=0.05,
        ge=0,
        le=1,
        description="Local is good enough when its success rate is within this much of the cloud's: a cell moves "
        "to local when the upper end of the confidence interval of (cloud - local) is at most this; it stays "
        "(or goes back) in the cloud when the lower end is above it.",
    )
    min_samples: int = Field(
        default=30, ge=1, description="Judged requests each side (local and cloud) needs before a cell may move."
    )
    confidence: float = Field(default=0.95, gt=0.5, lt=1, description="Confidence level of the Wilson score intervals.")
    context_buckets: list[int] = Field(
        default_factory=lambda: [1024, 4096, 16384],
        description="Prompt-size bucket edges in tokens (ascending): [1024, 4096] makes <1024, 1024-4095, >=4096.",
    )
    reload_s: float = Field(
        default=30.0,
        ge=0,
        description="How often (seconds) a gateway replica, or a language server on the same usage database, "
        "checks the database for a newer adopted learned overlay and switches its running policy to it (one "
        "query for the newest id); 0 = only at start.",
    )

    @field_validator("context_buckets")
    @classmethod
    def _ascending(cls, edges: list[int]) -> list[int]:
        if any(e <= 0 for e in edges) or edges != sorted(set(edges)):
            raise ValueError("bucket edges are positive and strictly ascending")
        return edges


class RoutingSettings(BaseModel):
    """``[routing]``: the policy table and the load thresholds."""

    model_config = ConfigDict(extra="forbid")

    tasks: dict[str, TaskPolicy] = Field(
        default_factory=default_task_policies, description="Per task kind: local reach and cloud target."
    )
    provider_order: list[str] = Field(
        default_factory=list,
        description="Order in which other cloud providers are tried when the chosen one fails; "
        "empty (the default): every configured, enabled provider, the built-in ones first, then the "
        "user's in file order.",
    )
    completion_slo_ms: float = Field(
        default=300.0, gt=0, description="Time-to-first-token goal of completions on the local engine."
    )
    max_local_queue: int = Field(
        default=32, ge=0, description="Queued local requests beyond which completions overflow or are shed."
    )
    local_context_tokens: int = Field(
        default=8192, ge=256, description="Context window of the local model (prompt + answer)."
    )
    local_to_cloud_fallback: bool = Field(
        default=True,
        description="Let non-sensitive, non-completion local tasks fall back to the cloud when the local engine fails.",
    )
    map_cloud_models_to_local: bool = Field(
        default=False,
        description="When a client names a cloud model (gateway, OpenAI endpoints) that cannot serve the request "
        "(sensitive code, no key, open circuit), let the local engine answer instead (the response names the local "
        "model). Off: the request is refused with a 4xx/503 saying why.",
    )
    deadline_s: float = Field(default=60.0, gt=0, description="Overall deadline of one request, fallbacks included.")
    completion_deadline_s: float = Field(default=5.0, gt=0, description="Deadline of one completion request.")
    teams: dict[str, dict[str, Any]] = Field(
        default_factory=dict,
        description="Per-team overrides of any [routing] key, e.g. [routing.teams.payments.tasks.explain] "
        'local_up_to = "repository" (the team\'s own policy table).',
    )
    local_price_per_mtok: float = Field(
        default=0.0, ge=0, description="Notional $ per million local tokens (0: the GPUs are already paid for)."
    )

    learning: LearningSettings = Field(default_factory=LearningSettings)
    exploration_share: float = Field(
        default=0.02,
        ge=0,
        le=0.5,
        description="Share of eligible requests served by the other side (local instead of cloud or the "
        "reverse), so that routing learn keeps both estimates fresh; only requests whose route already lists a "
        "target of the other side as a fallback, never sensitive code, never completions or a named model. "
        "Their ledger rows say reason 'explore'. 0: off.",
    )
    exploration_budget_usd: float = Field(
        default=5.0,
        ge=0,
        description="Most dollars a month that exploration may spend in the cloud, shared by the gateway's replicas "
        "(the month's explored cost is read back from the ledger every 60 s); once reached, only local exploration "
        "continues.",
    )

    _team_cache: dict[str, RoutingSettings] = PrivateAttr(default_factory=dict)

    @field_validator("teams")
    @classmethod
    def _teams_are_valid(cls, teams: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
        for team, override in teams.items():
            if "teams" in override:
                raise ValueError(f"team {team!r}: overrides cannot nest 'teams'")
            merged = cls().model_dump()
            merged.pop("teams")
            _deep_merge(merged, override)
            try:
                cls.model_validate(merged)
            except ValidationError as exc:
                raise ValueError(f"team {team!r}: {exc.errors()[0]['msg']} at {exc.errors()[0]['loc']}") from None
        return teams

    def escalated(self, task: str, tier: int, *, to_cloud: bool = False) -> RoutingSettings:
        """These settings with ``task`` sent to its tiers from ``tier`` on (``tier`` 0: unchanged, unless
        ``to_cloud``: a local answer failed its check and the cloud tiers are asked from the first).

        An escalation asks the cloud again: the task's local reach is 'never' and its learned rules are set aside
        (sensitive code still never leaves: :func:`routing.policy.decide` keeps it on the premises whatever the
        table says).
        """
        policy = self.tasks.get(task)
        if policy is None or tier >= len(policy.order) or (tier <= 0 and not to_cloud):
            return self
        rest = list(policy.order[max(0, tier) :])
        changed = policy.model_copy(update={"tiers": rest, "cloud": rest[-1], "local_up_to": "never", "learned": []})
        escalated = self.model_copy(update={"tasks": {**self.tasks, task: changed}})
        escalated._team_cache = {}  # not the original's: its teams' settings are not escalated
        return escalated

    def for_team(self, team: str) -> RoutingSettings:
        """These settings with ``teams[team]`` merged over them (the same object when the team has none)."""
        override = self.teams.get(team)
        if not override:
            return self
        effective = self._team_cache.get(team)
        if effective is None:
            merged = self.model_dump()
            merged.pop("teams")
            _deep_merge(merged, override)
            effective = self._team_cache[team] = RoutingSettings.model_validate(merged)
        return effective


def _deep_merge(target: dict[str, Any], overrides: dict[str, Any]) -> None:
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(target.get(key), dict):
            _deep_merge(target[key], value)
        else:
            target[key] = value


class SensitiveSettings(BaseModel):
    """``[sensitive]``: what must never leave the premises."""

    model_config = ConfigDict(extra="forbid")

    path_globs: list[str] = Field(
        default_factory=lambda: [
            "**/secrets/**",
            "**/*.pem",
            "**/*.key",
            "**/.env",
            "**/.env.*",
            "**/id_rsa*",
            "**/*credentials*",
        ],
        description="Files matching any of these globs are served only on the premises.",
    )
    detect_secrets: bool = Field(default=True, description="Scan outgoing context for secrets.")
    on_secret: Literal["redact", "local_only"] = Field(
        default="redact",
        description="When a secret is found in context bound for the cloud: redact it, or keep the request local.",
    )
    context: Literal["keep_local", "withhold"] = Field(
        default="keep_local",
        description="When a request's context (definitions from other files, files of a multi-file refactor) "
        "comes from a file matching path_globs: keep the whole request on the premises, or let it go to the "
        "cloud with that content withheld (each definition reduced to its bare name and 'withheld: sensitive "
        "file'). Repository digests always leave sensitive files out.",
    )
