"""Event handler: every new object version in the data bucket starts its scan workflow (or, when
its file was deleted meanwhile, is removed: chalicelib/files/arrivals.py)."""

from __future__ import annotations

from chalice import Blueprint
from chalice.app import CloudWatchEvent

from chalicelib import logs
from chalicelib.scanning.requests import parse_object_created
from chalicelib.wiring import get_upload_arrivals, get_upload_settings

upload_events = Blueprint(__name__)

# The bucket name is narrowed in the packaged template (infra merge); the handler checks it too.
OBJECT_CREATED_PATTERN = {"source": ["aws.s3"], "detail-type": ["Object Created"]}


@upload_events.on_cw_event(OBJECT_CREATED_PATTERN, name="on_object_created")
def on_object_created(event: CloudWatchEvent) -> dict[str, str | None]:
    settings = get_upload_settings()
    with logs.bound(function="on_object_created", eventId=event.event_id):
        request = parse_object_created(
            event.to_dict(), settings.data_bucket, settings.upload_prefix, settings.canary_prefix
        )
        if request is None:
            return {"execution": None}
        with logs.bound(owner=request.ownerSub, fileId=request.fileId, versionId=request.versionId):
            return get_upload_arrivals().arrived(request)
