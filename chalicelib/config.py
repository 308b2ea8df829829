"""One place that reads the environment.

Each Lambda function needs a different subset of settings, so settings are read on first
use and a missing one fails with a message naming the variable, never with a KeyError deep
inside a handler.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

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


@dataclass(frozen=True)
class UploadEventSettings:
    """What the upload event handler needs: which bucket to watch, where to start scans, and the
    file records (an upload for a deleted record is removed; the record declares the size)."""

    data_bucket: str
    state_machine_arn: str
    upload_prefix: str
    files_table: str
    canary_prefix: str = CANARY_PREFIX

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> UploadEventSettings:
        env = os.environ if env is None else env
        return cls(
            data_bucket=_required(env, "DATA_BUCKET"),
            state_machine_arn=_required(env, "SCAN_STATE_MACHINE_ARN"),
            upload_prefix=_prefix(env, "UPLOAD_PREFIX", DEFAULT_UPLOAD_PREFIX),
            files_table=_required(env, "FILES_TABLE"),
        )


def _flag(env: Mapping[str, str], name: str) -> bool:
    raw = env.get(name, "").strip().lower()
    if raw in {"", "0", "false", "no"}:
        return False
    if raw in {"1", "true", "yes"}:
        return True
    raise ConfigurationError(f"environment variable {name} must be true or false, got {raw!r}")


@dataclass(frozen=True)
class ApiSettings:
    """What the REST API needs. ``require_origin_secret`` is on in stag and prod: requests that did
    not come through CloudFront (which adds the secret header) are refused (R-SEC-04)."""

    data_bucket: str
    files_table: str
    profiles_table: str
    upload_prefix: str
    max_upload_bytes: int
    upload_url_seconds: int
    download_url_seconds: int
    require_origin_secret: bool
    origin_secret: str

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> ApiSettings:
        env = os.environ if env is None else env
        require = _flag(env, "REQUIRE_ORIGIN_SECRET")
        secret = env.get("ORIGIN_SECRET", "").strip()
        secret_arn = env.get("ORIGIN_SECRET_ARN", "").strip()
        if require and not secret and secret_arn:  # read once per container: wiring keeps the settings
            from chalicelib.clients import client

            secret = str(client("secretsmanager").get_secret_value(SecretId=secret_arn)["SecretString"])
        if require and len(secret) < 16:
            raise ConfigurationError(
                "environment variable ORIGIN_SECRET (or the secret ORIGIN_SECRET_ARN names) must hold "
                "at least 16 characters"
            )
        return cls(
            data_bucket=_required(env, "DATA_BUCKET"),
            files_table=_required(env, "FILES_TABLE"),
            profiles_table=_required(env, "PROFILES_TABLE"),
            upload_prefix=_prefix(env, "UPLOAD_PREFIX", DEFAULT_UPLOAD_PREFIX),
            max_upload_bytes=int(_number(env, "MAX_UPLOAD_BYTES", DEFAULT_MAX_SCAN_BYTES)),
            upload_url_seconds=int(_number(env, "UPLOAD_URL_SECONDS", 300)),
            download_url_seconds=int(_number(env, "DOWNLOAD_URL_SECONDS", 300)),
            require_origin_secret=require,
            origin_secret=secret,
        )


@dataclass(frozen=True)
class AdminSettings:
    """Extra settings of the admin routes: where rescans start and definitions are published."""

    state_machine_arn: str
    app_bucket: str
    definitions_prefix: str

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> AdminSettings:
        env = os.environ if env is None else env
        return cls(
            state_machine_arn=_required(env, "SCAN_STATE_MACHINE_ARN"),
            app_bucket=_required(env, "APP_BUCKET"),
            definitions_prefix=_prefix(env, "DEFINITIONS_PREFIX", DEFAULT_DEFINITIONS_PREFIX),
        )


@dataclass(frozen=True)
class SweepSettings:
    """The stuck-upload sweeper: which records and bucket to check, where to restart scans and alert."""

    data_bucket: str
    files_table: str
    state_machine_arn: str
    alert_topic_arn: str

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> SweepSettings:
        env = os.environ if env is None else env
        return cls(
            data_bucket=_required(env, "DATA_BUCKET"),
            files_table=_required(env, "FILES_TABLE"),
            state_machine_arn=_required(env, "SCAN_STATE_MACHINE_ARN"),
            alert_topic_arn=_required(env, "ALERT_TOPIC_ARN"),
        )


@dataclass(frozen=True)
class CanarySettings:
    """The scan canary: where it uploads, where the records are, where its metric goes, and whether
    S3 is expected to deny it the INFECTED object (``CANARY_EXPECT_ACCESS_DENIED``: true on AWS;
    false in the local stack, whose emulator does not enforce bucket policies)."""

    data_bucket: str
    files_table: str
    stage: str
    metric_namespace: str = "ManabiPlus/Canary"
    verdict_timeout_seconds: float = 600.0
    expect_access_denied: bool = True

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> CanarySettings:
        env = os.environ if env is None else env
        raw_expect = env.get("CANARY_EXPECT_ACCESS_DENIED", "").strip()
        return cls(
            data_bucket=_required(env, "DATA_BUCKET"),
            files_table=_required(env, "FILES_TABLE"),
            stage=env.get("STAGE", "").strip() or _stage_of(_required(env, "DATA_BUCKET")),
            metric_namespace=env.get("CANARY_METRIC_NAMESPACE", "").strip() or "ManabiPlus/Canary",
            verdict_timeout_seconds=_number(env, "CANARY_VERDICT_TIMEOUT_SECONDS", 600.0),
            expect_access_denied=True if not raw_expect else _flag(env, "CANARY_EXPECT_ACCESS_DENIED"),
        )


def _stage_of(data_bucket: str) -> str:
    """``stag-manabiplus-data…`` → ``stag``: the stage the metric is published for."""
    return data_bucket.split("-", 1)[0]


@dataclass(frozen=True)
class BackupSettings:
    """The daily data backup: CLEAN versions of the data bucket into the backup bucket."""

    data_bucket: str
    files_table: str
    backup_bucket: str

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> BackupSettings:
        env = os.environ if env is None else env
        return cls(
            data_bucket=_required(env, "DATA_BUCKET"),
            files_table=_required(env, "FILES_TABLE"),
            backup_bucket=_required(env, "BACKUP_BUCKET"),
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
