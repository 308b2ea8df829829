"""/admin: operators (Cognito group ``admins``) list files by verdict, rescan, see definitions."""

from __future__ import annotations

from typing import Any

from chalice import Blueprint, Response

from chalicelib.api import validation
from chalicelib.api.errors import NotFoundError
from chalicelib.api.routing import caller, checked_id, checked_owner, query, route
from chalicelib.files.records import public_view
from chalicelib.scanning.verdicts import SCAN_STATUSES
from chalicelib.wiring import get_admin_rescans, get_file_service, get_published_definitions

admin_api = Blueprint(__name__)


@route(admin_api, "/admin/files", ["GET"])
def files_by_status() -> dict[str, Any]:
    caller(admin_api, admin=True)
    params = query(admin_api)
    status = validation.choice({"status": params.get("status")}, "status", SCAN_STATUSES)
    limit = validation.page_limit(params.get("limit"), default=50)
    page = get_file_service().repository.list_by_status(status, limit, params.get("cursor"))
    return {"files": [{**public_view(item), "owner": item["ownerSub"]} for item in page.items], "cursor": page.cursor}


@route(admin_api, "/admin/users/{owner_sub}/files/{file_id}/rescan", ["POST"])
def rescan(owner_sub: str, file_id: str) -> Response:
    caller(admin_api, admin=True)
    execution = get_admin_rescans().rescan(checked_owner(owner_sub), checked_id(file_id))
    return Response(body={"execution": execution}, status_code=202)


@route(admin_api, "/admin/rescans", ["POST"])
def rescan_all() -> Response:
    """Rescan every file not scanned with the given definitions version (e.g. the current one)."""
    caller(admin_api, admin=True)
    version = validation.rescan_request(admin_api.current_request.raw_body)
    started = get_admin_rescans().rescan_all(not_scanned_with=version)
    return Response(body={"started": started, "notScannedWith": version}, status_code=202)


@route(admin_api, "/admin/definitions", ["GET"])
def definitions() -> dict[str, Any]:
    caller(admin_api, admin=True)
    store = get_published_definitions()
    manifest = store.current()
    if manifest is None:
        where = f"s3://{store.bucket}/{store.manifest_key}"
        raise NotFoundError(f"no definitions published yet ({where})", code="definitions_not_published")
    return manifest.to_dict()
