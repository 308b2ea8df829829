"""Scheduled jobs other than the definitions update: the stuck-upload sweeper, the data backup."""

from __future__ import annotations

import os
from datetime import timedelta
from typing import Any

from chalice import Blueprint
from chalice.app import CloudWatchEvent

from chalicelib.backups import DataBackup
from chalicelib.clients import client, resource
from chalicelib.config import BackupSettings, SweepSettings
from chalicelib.files import FilesRepo
from chalicelib.sweeper import RetryPolicy, UploadSweeper
from chalicelib.uploads import ScanStarter

jobs = Blueprint(__name__)
SWEEP_SCHEDULE = os.environ.get("SWEEP_SCHEDULE", "rate(15 minutes)")
# R-BAK-03: daily, at 03:00 JST (18:00 UTC), after the definitions update of the night.
BACKUP_SCHEDULE = os.environ.get("BACKUP_SCHEDULE", "cron(0 18 * * ? *)")
# The upload URL lives 5 minutes and S3 events can take a minute or more; scans take seconds
# (900 s at most for the scanner), so these margins only catch what is really stuck.
UPLOAD_GRACE = timedelta(minutes=15)
SCAN_GRACE = timedelta(minutes=30)


def retry_policy(env: dict[str, str] | None = None) -> RetryPolicy:
    """``AUTO_RESCAN_ATTEMPTS`` (default 4) and ``AUTO_RESCAN_FIRST_DELAY_SECONDS`` (default 600):
    with the 15-minute sweep, a transient ERROR is retried for about three hours, then reported."""
    env = dict(os.environ) if env is None else env
    return RetryPolicy(
        attempts=int(env.get("AUTO_RESCAN_ATTEMPTS", "4")),
        first_delay=timedelta(seconds=float(env.get("AUTO_RESCAN_FIRST_DELAY_SECONDS", "600"))),
    )


def run_sweep(settings: SweepSettings) -> dict[str, Any]:
    sweeper = UploadSweeper(
        FilesRepo(resource("dynamodb").Table(settings.files_table)),
        client("s3"),
        settings.data_bucket,
        ScanStarter(client("stepfunctions"), settings.state_machine_arn),
    )
    report = sweeper.sweep(UPLOAD_GRACE, SCAN_GRACE, retry=retry_policy())
    if report.found:
        lines = [f"never scanned: {item}" for item in report.unscanned_versions]
        lines += [f"scan restarted: {item}" for item in report.restarted_scans]
        client("sns").publish(
            TopicArn=settings.alert_topic_arn,
            Subject="Manabi Plus: uploads were waiting for a scan",
            Message="The sweeper started scans the upload path had missed (the objects stayed unreadable "
            "meanwhile). Check the upload handler's errors.\n" + "\n".join(lines[:50]),
        )
    if report.given_up:
        client("sns").publish(
            TopicArn=settings.alert_topic_arn,
            Subject="Manabi Plus: scans keep failing",
            Message="These uploads still ended ERROR after every automatic rescan; they stay unreadable. "
            "See docs/OPERATIONS.md (scan errors), fix the cause, then `manabi rescan`.\n"
            + "\n".join(report.given_up[:50]),
        )
    return {
        "unscanned": report.unscanned_versions,
        "restarted": report.restarted_scans,
        "retried": report.retried_errors,
        "gaveUp": report.given_up,
    }


@jobs.schedule(SWEEP_SCHEDULE, name="sweep_stuck_uploads")
def sweep_stuck_uploads(event: CloudWatchEvent) -> dict[str, Any]:
    return run_sweep(SweepSettings.from_env())


def run_backup(settings: BackupSettings) -> dict[str, int]:
    backup = DataBackup(
        FilesRepo(resource("dynamodb").Table(settings.files_table)),
        client("s3"),
        settings.data_bucket,
        settings.backup_bucket,
    )
    report = backup.run()
    return {"copied": report.copied, "alreadyBackedUp": report.already_backed_up}


@jobs.schedule(BACKUP_SCHEDULE, name="backup_data")
def backup_data(event: CloudWatchEvent) -> dict[str, int]:
    return run_backup(BackupSettings.from_env())
