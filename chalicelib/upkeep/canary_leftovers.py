"""What an interrupted canary run left behind, removed by a later run.

A run that dies before its last step (a timeout, a crash) leaves its objects under
``canary/{run}/{fileId}`` — an EICAR among them, locked like any INFECTED upload — and its
``run-…`` records, which listings, backups, rescans and the sweeper all skip: nothing else would
ever remove them. Each run first removes every version under the canary prefix that belongs to
another run and is older than ``older_than`` (so a run still in flight, e.g. ``manabi canary``
next to the hourly one, keeps its objects), and the records of those files.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from chalicelib.files.repository import FilesRepo
from chalicelib.files.service import FileService


def remove_leftovers(
    s3_client: Any,
    bucket: str,
    prefix: str,
    files: FileService,
    repo: FilesRepo,
    current_run: str,
    older_than: datetime,
) -> str:
    doomed: set[tuple[str, str]] = set()
    for page in s3_client.get_paginator("list_object_versions").paginate(Bucket=bucket, Prefix=prefix):
        for entry in page.get("Versions", []) + page.get("DeleteMarkers", []):
            parts = entry["Key"][len(prefix) :].split("/")
            if len(parts) == 2 and parts[0] != current_run and entry["LastModified"] < older_than:
                doomed.add((parts[0], parts[1]))
    for run, file_id in sorted(doomed):
        files.delete_versions(f"{prefix}{run}/{file_id}")
        repo.forget(run, file_id)
    if not doomed:
        return "nothing left by earlier runs"
    runs = sorted({run for run, _ in doomed})
    return f"removed {len(doomed)} file(s) of {len(runs)} earlier run(s): {', '.join(runs)}"
