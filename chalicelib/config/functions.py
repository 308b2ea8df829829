"""The settings of the API and of the upkeep functions (upload events, sweeper, canary, backups)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from chalicelib.config.environment import (
    CANARY_PREFIX,
    DEFAULT_DEFINITIONS_PREFIX,
    DEFAULT_MAX_SCAN_BYTES,
    DEFAULT_UPLOAD_PREFIX,
    ConfigurationError,
    _flag,
    _number,
    _prefix,
    _required,
)


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
