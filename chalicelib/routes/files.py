"""/files: a learner's own files. Another learner's file id answers 404, like a missing one."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from chalice import Blueprint, Response

from chalicelib import validation
from chalicelib.auth import authorizer, caller_of, cors
from chalicelib.config import ApiSettings
from chalicelib.errors import NotFoundError, json_errors
from chalicelib.files import public_view
from chalicelib.ids import is_file_id
from chalicelib.services import file_service

files_api = Blueprint(__name__)


def _file_id(file_id: str) -> str:
    if not is_file_id(file_id):
        raise NotFoundError(f"no file {file_id}")
    return file_id


@files_api.route("/files", methods=["POST"], authorizer=authorizer, cors=cors)
@json_errors
def create_file() -> Response:
    caller = caller_of(files_api.current_request)
    service = file_service(ApiSettings.from_env())
    body = validation.json_object(
        files_api.current_request.raw_body, allowed={"name", "size", "contentType"}, required={"name", "size"}
    )
    created = service.create_upload(
        caller.sub,
        name=validation.file_name(body),
        size=validation.positive_int(body, "size", service.max_upload_bytes),
        content_type=validation.content_type(body),
    )
    return Response(body=created, status_code=201)


@files_api.route("/files", methods=["GET"], authorizer=authorizer, cors=cors)
@json_errors
def list_files() -> dict[str, Any]:
    request = files_api.current_request
    params: Mapping[str, str] = request.query_params or {}
    limit = validation.page_limit(params.get("limit"))
    return file_service(ApiSettings.from_env()).list(caller_of(request).sub, limit, params.get("cursor"))


@files_api.route("/files/{file_id}", methods=["GET"], authorizer=authorizer, cors=cors)
@json_errors
def get_file(file_id: str) -> dict[str, Any]:
    caller = caller_of(files_api.current_request)
    return public_view(file_service(ApiSettings.from_env()).get(caller.sub, _file_id(file_id)))


@files_api.route("/files/{file_id}/download", methods=["GET"], authorizer=authorizer, cors=cors)
@json_errors
def download_file(file_id: str) -> dict[str, Any]:
    caller = caller_of(files_api.current_request)
    return file_service(ApiSettings.from_env()).download(caller.sub, _file_id(file_id))


@files_api.route("/files/{file_id}", methods=["DELETE"], authorizer=authorizer, cors=cors)
@json_errors
def delete_file(file_id: str) -> Response:
    caller = caller_of(files_api.current_request)
    file_service(ApiSettings.from_env()).delete(caller.sub, _file_id(file_id))
    return Response(body="", status_code=204)
