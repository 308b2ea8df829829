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

BATCH = 1000  # DeleteObjects takes at most 1,000 keys


def remove_leftovers(
    s3_client: Any, bucket: str, prefix: str, repo: FilesRepo, current_run: str, older_than: datetime
) -> str:
    doomed: dict[tuple[str, str], list[dict[str, str]]] = {}
    for page in s3_client.get_paginator("list_object_versions").paginate(Bucket=bucket, Prefix=prefix):
        for entry in page.get("Versions", []) + page.get("DeleteMarkers", []):
            parts = entry["Key"][len(prefix) :].split("/")
            if len(parts) != 2 or parts[0] == current_run or entry["LastModified"] >= older_than:
                continue
            doomed.setdefault((parts[0], parts[1]), []).append({"Key": entry["Key"], "VersionId": entry["VersionId"]})
    for (run, file_id), versions in doomed.items():
        for start in range(0, len(versions), BATCH):
            batch = {"Objects": versions[start : start + BATCH], "Quiet": True}
            refused = s3_client.delete_objects(Bucket=bucket, Delete=batch).get("Errors")
            if refused:
                raise RuntimeError(f"S3 kept {len(refused)} version(s) under {prefix}{run}/: {refused[0].get('Code')}")
        repo.forget(run, file_id)
    if not doomed:
        return "nothing left by earlier runs"
    runs = sorted({run for run, _ in doomed})
    return f"removed {len(doomed)} file(s) of {len(runs)} earlier run(s): {', '.join(runs)}"
