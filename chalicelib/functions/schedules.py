"""The scheduled functions (EventBridge rules on AWS; ``devstack.schedules`` runs them locally).

- ``update_definitions`` — daily by default (R-AV-05); then, with ``RESCAN_CLEAN_HOURS`` > 0,
  rescans the files found CLEAN in the last hours with the new definitions;
- ``sweep_stuck_uploads`` — every 15 minutes: missed upload events, stuck scans, automatic
  rescans of transient ERRORs (R-MON-02);
- ``backup_data`` — daily at 03:00 JST: CLEAN versions into the backup bucket (R-BAK-03);
- ``scan_canary`` — hourly: an EICAR and a clean file through the real path, checked and deleted,
  with a metric the canary alarms watch (issue #14; ``manabi canary`` runs it on demand).

Schedules are read when the app is loaded (Chalice writes them into the deployed rules):
``DEFINITIONS_UPDATE_SCHEDULE``, ``SWEEP_SCHEDULE``, ``BACKUP_SCHEDULE``, ``CANARY_SCHEDULE`` take EventBridge
expressions such as ``rate(12 hours)``.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from typing import Any

from chalice import Blueprint
from chalice.app import CloudWatchEvent

from chalicelib import logs
from chalicelib.clients import client
from chalicelib.upkeep.sweeper import RetryPolicy, SweepReport
from chalicelib.wiring import (
    get_canary,
    get_data_backup,
    get_definitions_updater,
    get_rescans_after_update,
    get_sweep_settings,
    get_sweeper,
    get_update_settings,
)

schedules = Blueprint(__name__)
UPDATE_SCHEDULE = os.environ.get("DEFINITIONS_UPDATE_SCHEDULE", "rate(1 day)")
SWEEP_SCHEDULE = os.environ.get("SWEEP_SCHEDULE", "rate(15 minutes)")
# R-BAK-03: daily, at 03:00 JST (18:00 UTC), after the definitions update of the night.
BACKUP_SCHEDULE = os.environ.get("BACKUP_SCHEDULE", "cron(0 18 * * ? *)")
# The canary alarms expect a report every hour (infra/main/operations.yaml): change both together.
CANARY_SCHEDULE = os.environ.get("CANARY_SCHEDULE", "rate(1 hour)")
# The upload URL lives 5 minutes and S3 events can take a minute or more; scans take seconds
# (900 s at most for the scanner), so these margins only catch what is really stuck.
UPLOAD_GRACE = timedelta(minutes=15)
SCAN_GRACE = timedelta(minutes=30)


@schedules.schedule(UPDATE_SCHEDULE, name="update_definitions")
def update_definitions(event: CloudWatchEvent) -> dict[str, Any]:
    with logs.bound(function="update_definitions"):
        result = get_definitions_updater().run()
        hours = get_update_settings().rescan_clean_hours
        if result["published"] and hours > 0:
            # Off by default: each rescan is one more execution and one more read of the object.
            since = datetime.now(UTC) - timedelta(hours=hours)
            result["rescansStarted"] = get_rescans_after_update().rescan_all(clean_since=since)
        return result


def retry_policy(env: dict[str, str] | None = None) -> RetryPolicy:
    """``AUTO_RESCAN_ATTEMPTS`` (default 4) and ``AUTO_RESCAN_FIRST_DELAY_SECONDS`` (default 600):
    with the 15-minute sweep, a transient ERROR is retried for about three hours, then reported."""
    env = dict(os.environ) if env is None else env
    return RetryPolicy(
        attempts=int(env.get("AUTO_RESCAN_ATTEMPTS", "4")),
        first_delay=timedelta(seconds=float(env.get("AUTO_RESCAN_FIRST_DELAY_SECONDS", "600"))),
    )


@schedules.schedule(SWEEP_SCHEDULE, name="sweep_stuck_uploads")
def sweep_stuck_uploads(event: CloudWatchEvent) -> dict[str, Any]:
    with logs.bound(function="sweep_stuck_uploads"):
        report = get_sweeper().sweep(UPLOAD_GRACE, SCAN_GRACE, retry=retry_policy())
        _alert(get_sweep_settings().alert_topic_arn, report)
        return {
            "unscanned": report.unscanned_versions,
            "restarted": report.restarted_scans,
            "retried": report.retried_errors,
            "gaveUp": report.given_up,
        }


def _alert(topic_arn: str, report: SweepReport) -> None:
    if report.found:
        lines = [f"never scanned: {item}" for item in report.unscanned_versions]
        lines += [f"scan restarted: {item}" for item in report.restarted_scans]
        client("sns").publish(
            TopicArn=topic_arn,
            Subject="Manabi Plus: uploads were waiting for a scan",
            Message="The sweeper started scans the upload path had missed (the objects stayed unreadable "
            "meanwhile). Check the upload handler's errors.\n" + "\n".join(lines[:50]),
        )
    if report.given_up:
        client("sns").publish(
            TopicArn=topic_arn,
            Subject="Manabi Plus: scans keep failing",
            Message="These uploads still ended ERROR after every automatic rescan; they stay unreadable. "
            "See docs/OPERATIONS.md (scan errors), fix the cause, then `manabi rescan`.\n"
            + "\n".join(report.given_up[:50]),
        )


@schedules.schedule(BACKUP_SCHEDULE, name="backup_data")
def backup_data(event: CloudWatchEvent) -> dict[str, int]:
    with logs.bound(function="backup_data"):
        report = get_data_backup().run()
        return {"copied": report.copied, "alreadyBackedUp": report.already_backed_up}


@schedules.schedule(CANARY_SCHEDULE, name="scan_canary")
def scan_canary(event: CloudWatchEvent) -> dict[str, Any]:
    with logs.bound(function="scan_canary"):
        return get_canary().run().to_dict()
