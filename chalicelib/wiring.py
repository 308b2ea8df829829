"""Where every service is built: one lazy ``get_x()`` per service, built once per container from
the settings of the function that uses it (the Chalice samples' ``get_media_db()`` habit).

No service borrows another function's settings: the definitions updater's rescans are built
from the updater's own settings, not from the API's (which need the CloudFront origin secret).
Entry points (``chalicelib.api``, ``chalicelib.functions``) call these; domain packages never do.
Tests call ``reset()`` when they change the environment.
"""

from __future__ import annotations

import tempfile
from datetime import timedelta
from functools import cache
from pathlib import Path
from typing import Any

from chalicelib.clamav.client import ClamdClient
from chalicelib.clamav.engine import EngineProvider, ExternalEngine
from chalicelib.clamav.process import ClamdLimits
from chalicelib.clamav.runtime import ScannerRuntime
from chalicelib.clients import client, resource
from chalicelib.config import (
    CANARY_PREFIX,
    AdminSettings,
    ApiSettings,
    BackupSettings,
    CanarySettings,
    DefinitionsUpdateSettings,
    ScannerSettings,
    SweepSettings,
    UploadEventSettings,
)
from chalicelib.definitions.sources import source_for
from chalicelib.definitions.store import DefinitionsStore
from chalicelib.definitions.updater import DefinitionsUpdater
from chalicelib.files.arrivals import UploadArrivals
from chalicelib.files.repository import FilesRepo
from chalicelib.files.service import FileService
from chalicelib.profiles.service import ProfileService
from chalicelib.scanning.requests import ScanStarter
from chalicelib.scanning.scanner import ObjectScanner
from chalicelib.upkeep.backups import DataBackup
from chalicelib.upkeep.canary import Canary
from chalicelib.upkeep.rescans import Rescans
from chalicelib.upkeep.sweeper import UploadSweeper

# -- the REST API ----------------------------------------------------------------------------


@cache
def get_api_settings() -> ApiSettings:
    return ApiSettings.from_env()


@cache
def get_file_service() -> FileService:
    settings = get_api_settings()
    return FileService(
        repo=FilesRepo(resource("dynamodb").Table(settings.files_table)),
        s3_client=client("s3"),
        data_bucket=settings.data_bucket,
        upload_prefix=settings.upload_prefix,
        max_upload_bytes=settings.max_upload_bytes,
        upload_url_seconds=settings.upload_url_seconds,
        download_url_seconds=settings.download_url_seconds,
    )


@cache
def get_profile_service() -> ProfileService:
    return ProfileService(resource("dynamodb").Table(get_api_settings().profiles_table))


@cache
def get_admin_rescans() -> Rescans:
    settings, admin = get_api_settings(), AdminSettings.from_env()
    starter = ScanStarter(client("stepfunctions"), admin.state_machine_arn)
    return Rescans(FilesRepo(resource("dynamodb").Table(settings.files_table)), starter, settings.data_bucket)


@cache
def get_published_definitions() -> DefinitionsStore:
    admin = AdminSettings.from_env()
    return DefinitionsStore(client("s3"), admin.app_bucket, admin.definitions_prefix)


# -- the upload event handler ----------------------------------------------------------------


@cache
def get_upload_settings() -> UploadEventSettings:
    return UploadEventSettings.from_env()


@cache
def get_scan_starter() -> ScanStarter:
    return ScanStarter(client("stepfunctions"), get_upload_settings().state_machine_arn)


@cache
def get_upload_arrivals() -> UploadArrivals:
    settings = get_upload_settings()
    return UploadArrivals(FilesRepo(resource("dynamodb").Table(settings.files_table)), client("s3"), get_scan_starter())


# -- the scanner (container image) -----------------------------------------------------------


def build_runtime(settings: ScannerSettings, s3_client: Any) -> ScannerRuntime:
    """The warm clamd of a scanner container, fed from the published definitions."""
    return ScannerRuntime(
        DefinitionsStore(s3_client, settings.definitions_bucket, settings.definitions_prefix),
        workdir=Path(settings.clamd_workdir),
        limits=ClamdLimits.for_scan_limit(settings.max_scan_bytes),
        check_interval=settings.definitions_check_seconds,
    )


def build_scanner(settings: ScannerSettings, s3_client: Any, runtime: ScannerRuntime | None = None) -> ObjectScanner:
    """With ``DEFINITIONS_BUCKET`` the scanner runs its own clamd (``runtime``); otherwise it uses
    the clamd at ``CLAMD_ADDRESS``, which must run with ``ClamdLimits.for_scan_limit``'s limits."""
    provider: EngineProvider
    if settings.definitions_bucket:
        provider = (runtime or build_runtime(settings, s3_client)).engine
    else:
        provider = ExternalEngine(
            ClamdClient(settings.clamd_address, settings.clamd_timeout_seconds),
            settings.database_dir,
            ClamdLimits.for_scan_limit(settings.max_scan_bytes),
            settings.definitions_check_seconds,
        )
    return ObjectScanner(
        s3_client=s3_client,
        engine=provider,
        max_scan_bytes=settings.max_scan_bytes,
        max_definitions_age=timedelta(hours=settings.max_definitions_age_hours),
    )


@cache
def get_scanner() -> ObjectScanner:
    return build_scanner(ScannerSettings.from_env(), client("s3"))


# -- scheduled functions ---------------------------------------------------------------------


@cache
def get_sweep_settings() -> SweepSettings:
    return SweepSettings.from_env()


@cache
def get_sweeper() -> UploadSweeper:
    settings = get_sweep_settings()
    repo = FilesRepo(resource("dynamodb").Table(settings.files_table))
    starter = ScanStarter(client("stepfunctions"), settings.state_machine_arn)
    return UploadSweeper(repo, client("s3"), settings.data_bucket, starter)


@cache
def get_data_backup() -> DataBackup:
    settings = BackupSettings.from_env()
    repo = FilesRepo(resource("dynamodb").Table(settings.files_table))
    return DataBackup(repo, client("s3"), settings.data_bucket, settings.backup_bucket)


def build_canary(settings: CanarySettings, s3_client: Any, table: Any, cloudwatch: Any) -> Canary:
    """The scan canary: records and presigned POSTs as the API makes them, under ``canary/``."""
    repo = FilesRepo(table)
    files = FileService(
        repo=repo,
        s3_client=s3_client,
        data_bucket=settings.data_bucket,
        upload_prefix=CANARY_PREFIX,
        max_upload_bytes=1024 * 1024,
        upload_url_seconds=300,
        download_url_seconds=60,
    )
    return Canary(
        files,
        repo,
        s3_client,
        cloudwatch,
        settings.data_bucket,
        settings.stage,
        metric_namespace=settings.metric_namespace,
        verdict_timeout=settings.verdict_timeout_seconds,
        expect_access_denied=settings.expect_access_denied,
    )


@cache
def get_canary() -> Canary:
    settings = CanarySettings.from_env()
    return build_canary(settings, client("s3"), resource("dynamodb").Table(settings.files_table), client("cloudwatch"))


@cache
def get_update_settings() -> DefinitionsUpdateSettings:
    return DefinitionsUpdateSettings.from_env()


def build_definitions_updater(
    settings: DefinitionsUpdateSettings, s3_client: Any, sns_client: Any
) -> DefinitionsUpdater:
    def alert(subject: str, message: str) -> None:
        sns_client.publish(TopicArn=settings.alert_topic_arn, Subject=subject, Message=message)

    source = source_for(settings.source, Path(tempfile.gettempdir()) / "cvdupdate")
    return DefinitionsUpdater(source, DefinitionsStore(s3_client, settings.bucket, settings.prefix), alert)


@cache
def get_definitions_updater() -> DefinitionsUpdater:
    return build_definitions_updater(get_update_settings(), client("s3"), client("sns"))


@cache
def get_rescans_after_update() -> Rescans:
    """The updater's rescans of recent CLEAN files, from the updater's own settings."""
    settings = get_update_settings()
    settings.require_rescan_targets()
    starter = ScanStarter(client("stepfunctions"), settings.state_machine_arn)
    return Rescans(FilesRepo(resource("dynamodb").Table(settings.files_table)), starter, settings.data_bucket)


def reset() -> None:
    """Forget every service built so far (tests that change the environment)."""
    for getter in (
        get_api_settings,
        get_file_service,
        get_profile_service,
        get_admin_rescans,
        get_published_definitions,
        get_upload_settings,
        get_scan_starter,
        get_upload_arrivals,
        get_scanner,
        get_sweep_settings,
        get_sweeper,
        get_data_backup,
        get_canary,
        get_update_settings,
        get_definitions_updater,
        get_rescans_after_update,
    ):
        getter.cache_clear()
