"""Event handler: every new object version in the data bucket starts its scan workflow."""

from __future__ import annotations

from chalice import Blueprint
from chalice.app import CloudWatchEvent

from chalicelib.clients import client
from chalicelib.config import UploadEventSettings
from chalicelib.uploads import ScanStarter, parse_object_created

upload_events = Blueprint(__name__)

# The bucket name is narrowed in the packaged template (infra merge); the handler checks it too.
OBJECT_CREATED_PATTERN = {"source": ["aws.s3"], "detail-type": ["Object Created"]}


@upload_events.on_cw_event(OBJECT_CREATED_PATTERN, name="on_object_created")
def on_object_created(event: CloudWatchEvent) -> dict[str, str | None]:
    settings = UploadEventSettings.from_env()
    request = parse_object_created(event.to_dict(), settings.data_bucket, settings.upload_prefix)
    if request is None:
        return {"execution": None}
    execution = ScanStarter(client("stepfunctions"), settings.state_machine_arn).start(request)
    return {"execution": execution}
