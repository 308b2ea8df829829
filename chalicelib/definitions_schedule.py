"""Scheduled job: refresh the ClamAV definitions (R-AV-05: once a day by default).

The schedule is read when the app is loaded (Chalice writes it into the deployed rule):
``DEFINITIONS_UPDATE_SCHEDULE`` takes an EventBridge expression such as ``rate(12 hours)``.
"""

from __future__ import annotations

import os
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from chalice import Blueprint
from chalice.app import CloudWatchEvent

from chalicelib.clients import client
from chalicelib.config import AdminSettings, ApiSettings, DefinitionsUpdateSettings
from chalicelib.definitions_store import DefinitionsStore
from chalicelib.definitions_updater import DefinitionsUpdater, source_for
from chalicelib.services import file_service
from chalicelib.uploads import ScanStarter

definitions_jobs = Blueprint(__name__)
UPDATE_SCHEDULE = os.environ.get("DEFINITIONS_UPDATE_SCHEDULE", "rate(1 day)")


def run_update(settings: DefinitionsUpdateSettings, s3_client: Any, sns_client: Any) -> dict[str, Any]:
    def alert(subject: str, message: str) -> None:
        sns_client.publish(TopicArn=settings.alert_topic_arn, Subject=subject, Message=message)

    workdir = Path(tempfile.gettempdir()) / "cvdupdate"
    updater = DefinitionsUpdater(
        source_for(settings.source, workdir), DefinitionsStore(s3_client, settings.bucket, settings.prefix), alert
    )
    return updater.run()


def rescan_recent_clean(hours: float) -> int:
    """Off by default (``RESCAN_CLEAN_HOURS=0``): each rescan is one more workflow execution and
    one more read of the object, so the cost grows with the uploads of the last ``hours``."""
    since = (datetime.now(UTC) - timedelta(hours=hours)).strftime("%Y-%m-%dT%H:%M:%S")
    starter = ScanStarter(client("stepfunctions"), AdminSettings.from_env().state_machine_arn)
    return file_service(ApiSettings.from_env()).rescan_all(starter, clean_since=since)


@definitions_jobs.schedule(UPDATE_SCHEDULE, name="update_definitions")
def update_definitions(event: CloudWatchEvent) -> dict[str, Any]:
    settings = DefinitionsUpdateSettings.from_env()
    result = run_update(settings, client("s3"), client("sns"))
    if result["published"] and settings.rescan_clean_hours > 0:
        result["rescansStarted"] = rescan_recent_clean(settings.rescan_clean_hours)
    return result
