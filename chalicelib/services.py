"""Builds the API's domain services from settings and the container's AWS clients."""

from __future__ import annotations

from chalicelib.clients import client, resource
from chalicelib.config import ApiSettings
from chalicelib.files import FileService, FilesRepo
from chalicelib.profiles import ProfileService


def file_service(settings: ApiSettings) -> FileService:
    return FileService(
        repo=FilesRepo(resource("dynamodb").Table(settings.files_table)),
        s3_client=client("s3"),
        data_bucket=settings.data_bucket,
        upload_prefix=settings.upload_prefix,
        max_upload_bytes=settings.max_upload_bytes,
        upload_url_seconds=settings.upload_url_seconds,
        download_url_seconds=settings.download_url_seconds,
    )


def profile_service(settings: ApiSettings) -> ProfileService:
    return ProfileService(resource("dynamodb").Table(settings.profiles_table))
