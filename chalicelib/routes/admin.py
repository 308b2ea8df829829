"""/admin: operators (Cognito group ``admins``) list files by verdict, rescan, see definitions."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from botocore.exceptions import ClientError
from chalice import Blueprint, Response

from chalicelib import validation
from chalicelib.auth import authorizer, caller_of, cors, require_admin
from chalicelib.clients import client
from chalicelib.config import AdminSettings, ApiSettings
from chalicelib.errors import NotFoundError, json_errors
from chalicelib.files import PENDING_UPLOAD, public_view
from chalicelib.ids import is_file_id
from chalicelib.services import file_service
from chalicelib.uploads import ScanStarter
from chalicelib.verdicts import Verdict

admin_api = Blueprint(__name__)
STATUSES = (PENDING_UPLOAD, *(verdict.value for verdict in Verdict))


@admin_api.route("/admin/files", methods=["GET"], authorizer=authorizer, cors=cors)
@json_errors
def files_by_status() -> dict[str, Any]:
    request = admin_api.current_request
    require_admin(caller_of(request))
    params: Mapping[str, str] = request.query_params or {}
    status = validation.choice({"status": params.get("status")}, "status", STATUSES)
    limit = validation.page_limit(params.get("limit"), default=50)
    service = file_service(ApiSettings.from_env())
    page = service.repository.list_by_status(status, limit, params.get("cursor"))
    return {"files": [{**public_view(item), "owner": item["ownerSub"]} for item in page.items], "cursor": page.cursor}


@admin_api.route("/admin/users/{owner_sub}/files/{file_id}/rescan", methods=["POST"], authorizer=authorizer, cors=cors)
@json_errors
def rescan(owner_sub: str, file_id: str) -> Response:
    require_admin(caller_of(admin_api.current_request))
    if not is_file_id(file_id):
        raise NotFoundError(f"no file {file_id}")
    starter = ScanStarter(client("stepfunctions"), AdminSettings.from_env().state_machine_arn)
    execution = file_service(ApiSettings.from_env()).rescan(owner_sub, file_id, starter)
    return Response(body={"execution": execution}, status_code=202)


@admin_api.route("/admin/rescans", methods=["POST"], authorizer=authorizer, cors=cors)
@json_errors
def rescan_all() -> Response:
    """Rescan every file not scanned with the given definitions version (e.g. the current one)."""
    request = admin_api.current_request
    require_admin(caller_of(request))
    body = validation.json_object(request.raw_body, allowed={"notScannedWith"}, required={"notScannedWith"})
    version = validation.text(body, "notScannedWith", max_length=128)
    starter = ScanStarter(client("stepfunctions"), AdminSettings.from_env().state_machine_arn)
    started = file_service(ApiSettings.from_env()).rescan_all(starter, not_scanned_with=version)
    return Response(body={"started": started, "notScannedWith": version}, status_code=202)


@admin_api.route("/admin/definitions", methods=["GET"], authorizer=authorizer, cors=cors)
@json_errors
def definitions() -> dict[str, Any]:
    require_admin(caller_of(admin_api.current_request))
    settings = AdminSettings.from_env()
    key = f"{settings.definitions_prefix}manifest.json"
    try:
        body = client("s3").get_object(Bucket=settings.app_bucket, Key=key)["Body"].read()
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") in {"NoSuchKey", "404"}:
            raise NotFoundError(
                f"no definitions published yet (s3://{settings.app_bucket}/{key})", code="definitions_not_published"
            ) from None
        raise
    return json.loads(body)  # type: ignore[no-any-return]
