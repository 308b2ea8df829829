"""/files: a learner's own files. Another learner's file id answers 404, like a missing one."""

from __future__ import annotations

from typing import Any

from chalice import Blueprint, Response

from chalicelib.api import validation
from chalicelib.api.routing import caller, checked_id, query, route
from chalicelib.files.records import public_view
from chalicelib.wiring import get_file_service

files_api = Blueprint(__name__)


@route(files_api, "/files", ["POST"])
def create_file() -> Response:
    service = get_file_service()
    upload = validation.upload_request(files_api.current_request.raw_body, service.max_upload_bytes)
    return Response(body=service.create_upload(caller(files_api).sub, **upload), status_code=201)


@route(files_api, "/files", ["GET"])
def list_files() -> dict[str, Any]:
    params = query(files_api)
    limit = validation.page_limit(params.get("limit"))
    return get_file_service().list(caller(files_api).sub, limit, params.get("cursor"))


@route(files_api, "/files/{file_id}", ["GET"])
def get_file(file_id: str) -> dict[str, Any]:
    return public_view(get_file_service().get(caller(files_api).sub, checked_id(file_id)))


@route(files_api, "/files/{file_id}/download", ["GET"])
def download_file(file_id: str) -> dict[str, Any]:
    return get_file_service().download(caller(files_api).sub, checked_id(file_id))


@route(files_api, "/files/{file_id}", ["DELETE"])
def delete_file(file_id: str) -> Response:
    get_file_service().delete(caller(files_api).sub, checked_id(file_id))
    return Response(body="", status_code=204)
