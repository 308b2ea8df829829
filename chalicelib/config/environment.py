"""Reading the environment: required values, prefixes, numbers and flags, each failing with a
message that names the variable, never with a KeyError deep inside a handler."""

from __future__ import annotations

from collections.abc import Mapping

DEFAULT_UPLOAD_PREFIX = "uploads/"
# The scan canary's objects (issue #14): scanned like uploads; left out of listings, backups, the
# sweeper and rescans (files.repository).
CANARY_PREFIX = "canary/"
DEFAULT_DEFINITIONS_PREFIX = "clamav/"
DEFAULT_MAX_SCAN_BYTES = 1024 * 1024 * 1024
DEFAULT_CLAMD_TIMEOUT_SECONDS = 600.0
DEFAULT_MAX_DEFINITIONS_AGE_HOURS = 48.0


class ConfigurationError(RuntimeError):
    """A required environment variable is missing or malformed."""


def _required(env: Mapping[str, str], name: str) -> str:
    value = env.get(name, "").strip()
    if not value:
        raise ConfigurationError(f"environment variable {name} is not set")
    return value


def _prefix(env: Mapping[str, str], name: str, default: str) -> str:
    """A key prefix setting, always ending with ``/``."""
    value = env.get(name, "").strip() or default
    return value if value.endswith("/") else value + "/"


def _number(env: Mapping[str, str], name: str, default: float, allow_zero: bool = False) -> float:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigurationError(f"environment variable {name} must be a number, got {raw!r}") from None
    if value < 0 or (value == 0 and not allow_zero):
        raise ConfigurationError(f"environment variable {name} must be positive, got {raw!r}")
    return value


def _flag(env: Mapping[str, str], name: str) -> bool:
    raw = env.get(name, "").strip().lower()
    if raw in {"", "0", "false", "no"}:
        return False
    if raw in {"1", "true", "yes"}:
        return True
    raise ConfigurationError(f"environment variable {name} must be true or false, got {raw!r}")
