"""Which tier to ask when an answer fails its check: cheap first, local first, the same rule in both processes.

A task's cloud tiers (``[routing.tasks.NAME] tiers``, then ``cloud``:
:attr:`routing.settings.TaskPolicy.order`) are asked in turn. :func:`tier_after`
says which one follows the target that gave a failing answer: the tier after the
one that served it, or the first cloud tier when the answer came from the
premises. The language server asks it in process; in gateway mode it names the
failing answer's target and model (``/v1/assist`` ``escalate_after``) and the
gateway asks it of its own table. Whether an on-premises answer may escalate at
all (never for sensitive code) is the caller's question.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from inference.settings import ProviderSettings
from routing.policy import LOCAL, OVERFLOW, split_target


def tier_after(
    order: Sequence[str],
    target: str,
    model: str,
    providers: Mapping[str, ProviderSettings],
    *,
    start: int = 0,
) -> int | None:
    """The index in ``order`` of the tier to ask after ``target:model`` failed its check; None: none is left.

    ``start`` is the first tier the failing answer was asked of (a later escalation looks from there on).
    """
    if not order:
        return None
    provider = providers.get(target)
    if target in (LOCAL, OVERFLOW) or provider is None or provider.local:  # an answer from the premises
        return start if start < len(order) else None
    for index in range(start, len(order)):
        name, tier_model = split_target(order[index])
        if (target == name or provider.kind == name) and (not tier_model or tier_model == model):
            return index + 1 if index + 1 < len(order) else None
    return None
