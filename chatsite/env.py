"""Typed readers for environment variables that fail loudly, naming the variable."""

import json
import math
import os
import re
from typing import Any
from urllib.parse import urlparse

from django.core.exceptions import ImproperlyConfigured

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def _raw(name: str) -> str | None:
    value = os.environ.get(name)
    return None if value is None else value.strip()


def env_str(name: str, default: str = "") -> str:
    value = _raw(name)
    return default if value is None or value == "" else value


def env_bool(name: str, default: bool = False) -> bool:
    value = _raw(name)
    if value is None:
        return default
    if value.lower() in _TRUE:
        return True
    if value.lower() in _FALSE:
        return False
    raise ImproperlyConfigured(f"{name}={value!r} is not a boolean; use true or false.")


def env_int(name: str, default: int, *, minimum: int = 0) -> int:
    value = _raw(name)
    if value is None or value == "":
        return default
    try:
        number = int(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name}={value!r} is not a whole number.") from None
    if number < minimum:
        raise ImproperlyConfigured(f"{name}={number} must be at least {minimum}.")
    return number


def env_optional_int(name: str, *, minimum: int = 0) -> int | None:
    """A whole number, or None when the variable is unset or empty (the default lives elsewhere)."""
    return env_int(name, 0, minimum=minimum) if _raw(name) else None


def env_optional_bool(name: str) -> bool | None:
    """A boolean, or None when the variable is unset or empty (the default lives elsewhere)."""
    return env_bool(name) if _raw(name) else None


def env_list(name: str, default: list[str]) -> list[str]:
    value = _raw(name)
    if value is None or value == "":
        return default
    return [item.strip() for item in value.split(",") if item.strip()]


def env_url(name: str, default: str = "", *, schemes: tuple[str, ...]) -> str:
    value = env_str(name, default)
    if not value:
        return value
    parsed = urlparse(value)
    if parsed.scheme.split("+")[0] not in schemes:
        allowed = ", ".join(schemes)
        raise ImproperlyConfigured(f"{name}={value!r} must be a URL starting with one of: {allowed}.")
    if parsed.scheme in ("http", "https") and not parsed.netloc:
        raise ImproperlyConfigured(f"{name}={value!r} has no host.")
    return value


def env_json(name: str, default: Any = None) -> Any:
    value = _raw(name)
    if value is None or value == "":
        return default
    try:
        return json.loads(value)
    except json.JSONDecodeError as exc:
        raise ImproperlyConfigured(f"{name} is not valid JSON ({exc.msg} at character {exc.pos}).") from None


def with_keys_from_env(entries: Any) -> Any:
    """A JSON list of objects with each `api_key_env` replaced by `api_key`, the named variable's
    value, so that keys stay out of the list (LLM_MODELS, EMBEDDERS)."""
    for entry in entries if isinstance(entries, list) else []:
        if isinstance(entry, dict) and "api_key_env" in entry:
            entry["api_key"] = env_str(str(entry.pop("api_key_env")))
    return entries


_PERIOD_SECONDS = {"s": 1, "sec": 1, "second": 1, "m": 60, "min": 60, "minute": 60}
_PERIOD_SECONDS |= {"h": 3600, "hour": 3600, "d": 86400, "day": 86400}
_RATE = re.compile(rf"(\d+)/({'|'.join(_PERIOD_SECONDS)})")


def env_rate(name: str, default: str) -> str:
    """A request rate like 60/min (also /s, /h, /day); `rate_parts` reads it."""
    value = env_str(name, default)
    if not _RATE.fullmatch(value):
        raise ImproperlyConfigured(f"{name}={value!r} is not a rate; use e.g. 60/min, 5/s or 1000/hour.")
    return value


def rate_parts(rate: str) -> tuple[int, int]:
    """How many requests a rate allows, and in how many seconds: "60/min" is (60, 60)."""
    found = _RATE.fullmatch(rate)
    if found is None:
        raise ValueError(f"{rate!r} is not a rate; use e.g. 60/min, 5/s or 1000/hour.")
    return int(found[1]), _PERIOD_SECONDS[found[2]]


def env_optional_float(name: str, *, minimum: float = 0.0) -> float | None:
    """A number such as 12.5, or None when the variable is unset or empty (no value)."""
    value = _raw(name)
    if not value:
        return None
    try:
        number = float(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name}={value!r} is not a number.") from None
    if not math.isfinite(number) or number < minimum:
        raise ImproperlyConfigured(f"{name}={value!r} must be a number of at least {minimum:g}.")
    return number


def env_optional_fraction(name: str) -> float | None:
    """A number from 0 to 1, such as 0.5, or None when the variable is unset or empty."""
    number = env_optional_float(name)
    if number is not None and number > 1:
        raise ImproperlyConfigured(f"{name}={number:g} must be between 0 and 1.")
    return number


def env_fraction(name: str, default: float) -> float:
    """A number from 0 to 1, such as 0.5."""
    number = env_optional_fraction(name)
    return default if number is None else number
