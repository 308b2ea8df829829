"""The settings of the scanner and of the definitions updater."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from chalicelib.config.environment import (
    DEFAULT_CLAMD_TIMEOUT_SECONDS,
    DEFAULT_DEFINITIONS_PREFIX,
    DEFAULT_MAX_DEFINITIONS_AGE_HOURS,
    DEFAULT_MAX_SCAN_BYTES,
    ConfigurationError,
    _number,
    _prefix,
    _required,
)


@dataclass(frozen=True)
class DefinitionsUpdateSettings:
    """The scheduled definitions updater: where to fetch from, where to publish, whom to alert, and
    (``RESCAN_CLEAN_HOURS`` > 0) where the rescans of recent CLEAN files start."""

    source: str
    bucket: str
    prefix: str
    alert_topic_arn: str
    rescan_clean_hours: float = 0.0
    files_table: str = ""
    data_bucket: str = ""
    state_machine_arn: str = ""

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> DefinitionsUpdateSettings:
        env = os.environ if env is None else env
        return cls(
            source=env.get("DEFINITIONS_SOURCE", "official").strip() or "official",
            bucket=_required(env, "APP_BUCKET"),
            prefix=_prefix(env, "DEFINITIONS_PREFIX", DEFAULT_DEFINITIONS_PREFIX),
            alert_topic_arn=_required(env, "ALERT_TOPIC_ARN"),
            rescan_clean_hours=_number(env, "RESCAN_CLEAN_HOURS", 0.0, allow_zero=True),
            **{name: env.get(variable, "").strip() for name, variable in _RESCAN_TARGETS.items()},
        )

    def require_rescan_targets(self) -> None:
        missing = [variable for name, variable in _RESCAN_TARGETS.items() if not getattr(self, name)]
        if missing:
            raise ConfigurationError(f"RESCAN_CLEAN_HOURS needs environment variable(s) {', '.join(missing)}")


_RESCAN_TARGETS = dict(files_table="FILES_TABLE", data_bucket="DATA_BUCKET", state_machine_arn="SCAN_STATE_MACHINE_ARN")


@dataclass(frozen=True)
class ScannerSettings:
    """What the scanner function needs.

    Either the scanner runs its own clamd with the definitions published in
    ``DEFINITIONS_BUCKET`` (the Lambda container, clamd under ``clamd_workdir``), or it talks to a
    clamd that is already running (``CLAMD_ADDRESS`` + ``CLAMAV_DATABASE_DIR``: tests, tools).
    ``max_scan_bytes`` must not exceed clamd's ``StreamMaxLength``: larger objects are refused
    before a byte is streamed and reported UNSCANNABLE.
    """

    clamd_address: str
    clamd_timeout_seconds: float
    max_scan_bytes: int
    database_dir: str
    max_definitions_age_hours: float
    definitions_bucket: str = ""
    definitions_prefix: str = "clamav/"
    clamd_workdir: str = "/tmp/clamd"
    definitions_check_seconds: float = 300.0

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> ScannerSettings:
        env = os.environ if env is None else env
        bucket = env.get("DEFINITIONS_BUCKET", "").strip()
        return cls(
            clamd_address="" if bucket else _required(env, "CLAMD_ADDRESS"),
            clamd_timeout_seconds=_number(env, "CLAMD_TIMEOUT_SECONDS", DEFAULT_CLAMD_TIMEOUT_SECONDS),
            max_scan_bytes=int(_number(env, "MAX_SCAN_BYTES", DEFAULT_MAX_SCAN_BYTES)),
            database_dir="" if bucket else _required(env, "CLAMAV_DATABASE_DIR"),
            max_definitions_age_hours=_number(env, "MAX_DEFINITIONS_AGE_HOURS", DEFAULT_MAX_DEFINITIONS_AGE_HOURS),
            definitions_bucket=bucket,
            definitions_prefix=_prefix(env, "DEFINITIONS_PREFIX", DEFAULT_DEFINITIONS_PREFIX),
            clamd_workdir=env.get("CLAMD_WORKDIR", "").strip() or "/tmp/clamd",
            definitions_check_seconds=_number(env, "DEFINITIONS_CHECK_SECONDS", 300.0),
        )
