"""Validating request JSON field by field; every refusal is a 400 that names the field."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from gateway.errors import ApiError


def invalid(field: str, message: str) -> ApiError:
    return ApiError(400, "invalid_field", f"{field}: {message}")


def get_str(
    body: Mapping[str, Any],
    key: str,
    field: str,
    *,
    required: bool = False,
    default: str = "",
    max_chars: int | None = None,
) -> str:
    value = body.get(key)
    if value is None:
        if required:
            raise invalid(field, "is required")
        return default
    if not isinstance(value, str):
        raise invalid(field, "must be a string")
    if max_chars is not None and len(value) > max_chars:
        raise invalid(field, f"is longer than {max_chars} characters")
    return value


def get_bool(body: Mapping[str, Any], key: str, field: str, default: bool = False) -> bool:
    value = body.get(key)
    if value is None:
        return default
    if not isinstance(value, bool):
        raise invalid(field, "must be true or false")
    return value


def get_int(
    body: Mapping[str, Any], key: str, field: str, *, minimum: int = 0, maximum: int | None = None
) -> int | None:
    value = body.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise invalid(field, "must be an integer")
    if value < minimum or (maximum is not None and value > maximum):
        bound = f"between {minimum} and {maximum}" if maximum is not None else f"at least {minimum}"
        raise invalid(field, f"must be {bound}")
    return value


def get_float(
    body: Mapping[str, Any], key: str, field: str, *, minimum: float = 0.0, maximum: float | None = None
) -> float | None:
    value = body.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise invalid(field, "must be a number")
    number = float(value)
    if number != number or number < minimum or (maximum is not None and number > maximum):
        bound = f"between {minimum:g} and {maximum:g}" if maximum is not None else f"at least {minimum:g}"
        raise invalid(field, f"must be a number {bound}")
    return number


def get_object(body: Mapping[str, Any], key: str, field: str, *, required: bool = False) -> dict[str, Any]:
    value = body.get(key)
    if value is None:
        if required:
            raise invalid(field, "is required")
        return {}
    if not isinstance(value, dict):
        raise invalid(field, "must be an object")
    return value


def get_str_list(body: Mapping[str, Any], key: str, field: str, *, one_string_ok: bool = False) -> tuple[str, ...]:
    value = body.get(key)
    if value is None:
        return ()
    if one_string_ok and isinstance(value, str):
        return (value,)
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise invalid(field, "must be a list of strings")
    return tuple(value)
