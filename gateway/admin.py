"""Admin endpoints (admin keys only) and ``/v1/usage/me`` (every user, their own usage only).

- ``GET /v1/admin/users``, ``POST /v1/admin/users`` ``{"name", "team", "admin"}`` (answers the key once),
  ``POST /v1/admin/users/{name}/revoke`` (or ``DELETE /v1/admin/users/{name}``)
- ``POST /v1/admin/keys/rotate`` ``{"user"}`` (answers the new key once)
- ``POST /v1/admin/budgets`` ``{"user" | "team", "monthly_usd", "soft_fraction"}``
- ``GET /v1/admin/usage?user=NAME|team=NAME&since=&until=`` (without a name: every user, grouped)
- ``POST /v1/admin/routing/learn?since=30d&until=&apply=true`` — routing that learns (``routing.learning``): the
  proposed policy changes with their evidence and the overlay's TOML; ``apply=true`` adopts it: a row of the
  usage database (``routing_adoptions``), this replica's running policy at once, the other replicas' within
  ``[routing.learning] reload_s``, and this replica's cached overlay file
- ``DELETE /v1/admin/routing/learned`` — revert: adopt an empty overlay (every replica drops its learned rules)
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Literal

from sqlalchemy.exc import SQLAlchemyError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from gateway.errors import ApiError
from gateway.fields import get_bool, get_float, get_str, invalid
from gateway.http import caller, json_body
from gateway.state import Gateway
from gateway.store import StoreError, UnknownUser, UserExists, check_name
from gateway.usage import month_start, parse_time, usage_of
from routing.learned_overlay import REVERTED, empty_overlay
from routing.learning import learn, overlay_text, summary
from routing.periods import parse_when
from routing.usage.adoptions import Adoption
from routing.usage.budgets import BudgetManager
from routing.usage.outage import UNAVAILABLE, is_unavailable


def _store_error(exc: StoreError) -> ApiError:
    status = 404 if isinstance(exc, UnknownUser) else 409 if isinstance(exc, UserExists) else 400
    return ApiError(status, exc.code, str(exc))


async def list_users(request: Request) -> Response:
    gateway, _ = await caller(request, admin=True)
    users = await asyncio.to_thread(gateway.store.list_users)
    return JSONResponse({"users": [u.to_json() for u in users]})


async def create_user(request: Request) -> Response:
    gateway, _ = await caller(request, admin=True)
    body = await json_body(request, gateway)
    name = get_str(body, "name", "name", required=True)
    team = get_str(body, "team", "team", default="default")
    admin = get_bool(body, "admin", "admin")
    try:
        user, key = await asyncio.to_thread(gateway.store.add_user, name, team, admin=admin)
    except StoreError as exc:
        raise _store_error(exc) from None
    return JSONResponse({"user": user.to_json(), "api_key": key}, status_code=201)


async def revoke_user(request: Request) -> Response:
    gateway, _ = await caller(request, admin=True)
    name = request.path_params["name"]
    try:
        user = await asyncio.to_thread(gateway.store.revoke_user, name)
    except StoreError as exc:
        raise _store_error(exc) from None
    gateway.auth.forget_user(name)
    return JSONResponse({"user": user.to_json()})


async def rotate_key(request: Request) -> Response:
    gateway, _ = await caller(request, admin=True)
    body = await json_body(request, gateway)
    name = get_str(body, "user", "user", required=True)
    try:
        key = await asyncio.to_thread(gateway.store.rotate_key, name)
    except StoreError as exc:
        raise _store_error(exc) from None
    gateway.auth.forget_user(name)
    return JSONResponse({"user": name, "api_key": key})


async def set_budget(request: Request) -> Response:
    gateway, _ = await caller(request, admin=True)
    body = await json_body(request, gateway)
    user = get_str(body, "user", "user")
    team = get_str(body, "team", "team")
    if bool(user) == bool(team):
        raise invalid("user", "give exactly one of user or team")
    monthly = get_float(body, "monthly_usd", "monthly_usd")
    if monthly is None:
        raise invalid("monthly_usd", "is required")
    soft = get_float(body, "soft_fraction", "soft_fraction", maximum=1.0) or gateway.settings.budgets.soft_fraction
    scope: Literal["user", "team"] = "user" if user else "team"
    name = user or team
    try:
        check_name(name, scope)
    except StoreError as exc:
        raise invalid(scope, str(exc)) from None
    budgets = _budgets(gateway)
    await asyncio.to_thread(budgets.set_budget, scope, name, monthly, soft)
    return JSONResponse({"scope": scope, "name": name, "monthly_usd": monthly, "soft_fraction": soft})


async def admin_usage(request: Request) -> Response:
    gateway, _ = await caller(request, admin=True)
    since, until = _period(request)
    user = request.query_params.get("user")
    team = request.query_params.get("team")
    await _flush(gateway)
    if user:
        return JSONResponse(await asyncio.to_thread(usage_of, gateway.engine, "user", user, since, until))
    if team:
        return JSONResponse(await asyncio.to_thread(usage_of, gateway.engine, "team", team, since, until))
    ledger = gateway.ledger
    assert ledger is not None
    rows = await asyncio.to_thread(ledger.aggregate, since, until, "user")
    return JSONResponse(
        {
            "since": since.isoformat(),
            "until": until.isoformat() if until else None,
            "rows": [
                {
                    "user": row.key,
                    "task": row.task,
                    "target": row.target,
                    "model": row.model,
                    "requests": row.requests,
                    "failed": row.failed,
                    "input_tokens": row.input_tokens,
                    "cached_tokens": row.cached_tokens,
                    "output_tokens": row.output_tokens,
                    "cost_usd": round(row.cost_usd, 6),
                }
                for row in rows
            ],
        }
    )


async def learn_routing(request: Request) -> Response:
    """The policy changes the ledger's outcomes support; ``apply=true`` adopts them (admins only)."""
    gateway, principal = await caller(request, admin=True)
    params = request.query_params
    now = datetime.now(UTC)
    try:
        since = parse_when(params.get("since") or "30d", now)
        until = parse_when(params["until"], now) if params.get("until") else now
    except ValueError as exc:
        raise ApiError(400, "invalid_field", str(exc)) from None
    if since >= until:
        raise invalid("since", "must be before until")
    apply = (params.get("apply") or "false").lower()
    if apply not in ("true", "false", "1", "0"):
        raise invalid("apply", "is true or false")
    ledger = gateway.ledger
    if ledger is None:
        raise ApiError(503, "not_ready", "the ledger is unavailable")
    await _flush(gateway)
    settings = gateway.settings
    learned = await asyncio.to_thread(learn, ledger, settings.routing, settings.providers, since, until)
    text = overlay_text(learned)
    applied: str | None = None
    adopted: dict[str, object] | None = None
    if apply in ("true", "1"):
        applied, adopted = await _adopt(gateway, text, principal.name, summary(learned))
    return JSONResponse({**learned.to_json(), "overlay": text, "applied": applied, "adoption": adopted})


async def revert_learned(request: Request) -> Response:
    """``DELETE /v1/admin/routing/learned``: adopt an empty overlay, so every replica drops its learned rules."""
    gateway, principal = await caller(request, admin=True)
    applied, adopted = await _adopt(gateway, empty_overlay(principal.name), principal.name, REVERTED)
    return JSONResponse({"reverted": True, "applied": applied, "adoption": adopted})


async def _adopt(gateway: Gateway, text: str, by: str, summary: str) -> tuple[str, dict[str, object]]:
    """Adopt ``text`` through the usage database (every replica follows); 503 when nothing could be adopted."""
    if gateway.adopt_learned is None:
        raise ApiError(503, "not_ready", "this gateway cannot adopt a learned overlay")
    try:
        applied, row = await asyncio.to_thread(gateway.adopt_learned, text, by, summary)
    except SQLAlchemyError as exc:
        if not is_unavailable(exc):
            raise
        raise ApiError(
            503, "usage_unavailable", f"{UNAVAILABLE}: nothing adopted (the other replicas could not follow)"
        ) from None
    return applied, _adopted_json(row, gateway.settings.routing.learning.reload_s)


def _adopted_json(row: Adoption | None, reload_s: float) -> dict[str, object]:
    """What was adopted, and when the other replicas on the usage database follow."""
    if row is None:
        return {"shared": False, "message": "adopted by this gateway only (it has no usage database)"}
    follow = f"within {reload_s:g} s ([routing.learning] reload_s)" if reload_s > 0 else "at their next start"
    return {
        **row.to_json(),
        "shared": True,
        "reload_s": reload_s,
        "message": f"adopted as #{row.id}: in force on this replica now; the other replicas follow {follow}",
    }


async def my_usage(request: Request) -> Response:
    """The caller's own usage this month (or ``since``/``until``) and their remaining budget."""
    gateway, principal = await caller(request)
    for other in ("user", "team"):
        asked = request.query_params.get(other)
        if asked and asked != (principal.name if other == "user" else principal.team):
            raise ApiError(403, "forbidden", "a user may read only their own usage; admins use /v1/admin/usage")
    since, until = _period(request)
    await _flush(gateway)
    usage = await asyncio.to_thread(usage_of, gateway.engine, "user", principal.name, since, until)
    usage["team"] = principal.team
    usage["budget"] = await gateway.service.budget(principal.name, principal.team)
    return JSONResponse(usage)


def _period(request: Request) -> tuple[datetime, datetime | None]:
    try:
        since_text = request.query_params.get("since")
        until_text = request.query_params.get("until")
        since = parse_time(since_text, "since") if since_text else month_start()
        until = parse_time(until_text, "until") if until_text else None
    except ValueError as exc:
        raise ApiError(400, "invalid_field", str(exc)) from None
    return since, until


async def _flush(gateway: Gateway) -> None:
    ledger = gateway.ledger
    if ledger is not None:
        await asyncio.to_thread(ledger.flush, 5.0)


def _budgets(gateway: Gateway) -> BudgetManager:
    budgets = gateway.budgets
    if budgets is None:
        raise ApiError(503, "not_ready", "budgets are unavailable (the usage database could not be opened)")
    return budgets
