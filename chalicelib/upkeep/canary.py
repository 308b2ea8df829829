"""The scan canary (issue #14): proves, on a schedule, that an infected upload ends locked.

Each run uploads the EICAR test file and a clean file through the real path — a file record and
a presigned POST, as ``POST /files`` makes them, but under ``canary/{run}/`` (scanned like any
upload; left out of listings, backups, rescans and the sweeper) — waits for both verdicts, and
checks, step by step:

1. the EICAR is INFECTED (record and object tag) and the clean file CLEAN;
2. the API's download refuses the EICAR and hands out the clean file;
3. S3 denies this function, a non-scanner principal, the EICAR (``HeadObject`` → 403, so the
   canary never reads infected bytes even if the lock were broken), and serves the clean file
   byte for byte. The local stack's emulator does not enforce bucket policies: there this step is
   reported as skipped (``CANARY_EXPECT_ACCESS_DENIED=false``), and the lock is instead evaluated
   offline (tests/infra/test_bucket_locks_evaluated.py);
4. both objects (every version) and both records are deleted (and, first, whatever an earlier run
   that died left behind: ``canary_leftovers``).

It publishes ``CanaryPassed`` (1 or 0) and ``CanarySeconds`` in ``ManabiPlus/Canary`` with the
stage as dimension; the canary alarms fire when a run fails or none reported for two hours.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from botocore.exceptions import ClientError

from chalicelib.config import CANARY_PREFIX
from chalicelib.files.errors import NotCleanError
from chalicelib.files.repository import FilesRepo
from chalicelib.files.service import FileService
from chalicelib.scanning.verdicts import Verdict
from chalicelib.upkeep.canary_leftovers import remove_leftovers
from chalicelib.upkeep.canary_report import CanaryReport, Step

logger = logging.getLogger(__name__)

EICAR = b"X5O!P%@AP[4\\PZX54(P^)7CC)7}$" + b"EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*"
FINAL = {Verdict.CLEAN.value, Verdict.INFECTED.value, Verdict.UNSCANNABLE.value, Verdict.ERROR.value}
DENIED_CODES = {"403", "AccessDenied", "Forbidden"}

# (url, form fields, file name, body) -> HTTP status. The default posts with urllib3 (in Lambda).
Poster = Callable[[str, dict[str, str], str, bytes], int]


def post_form(url: str, fields: dict[str, str], filename: str, body: bytes) -> int:
    """A browser's presigned POST: the form fields, then the file (S3 wants it last)."""
    import urllib3

    form: dict[str, Any] = dict(fields)
    form["file"] = (filename, body, fields.get("Content-Type", "application/octet-stream"))
    response = urllib3.PoolManager().request("POST", url, fields=form, timeout=30.0, retries=False)
    return int(response.status)


class CanaryFailedError(Exception):
    """A check failed; the message says which and what was seen."""


@dataclass
class _Probe:
    name: str
    body: bytes
    file_id: str = ""
    key: str = ""
    record: dict[str, Any] = field(default_factory=dict)


class Canary:
    """One run: upload, wait, check, delete, publish. Never raises for a failed check: the report
    and the metric say what failed (an exception in a step is a failed step)."""

    def __init__(
        self,
        files: FileService,
        repo: FilesRepo,
        s3_client: Any,
        cloudwatch: Any,
        data_bucket: str,
        stage: str,
        metric_namespace: str = "ManabiPlus/Canary",
        verdict_timeout: float = 600.0,
        expect_access_denied: bool = True,
        post: Poster = post_form,
        poll_seconds: float = 1.0,
        sleep: Callable[[float], None] = time.sleep,
        leftovers_after: float | None = None,
    ) -> None:
        self._files, self._repo, self._s3, self._cloudwatch = files, repo, s3_client, cloudwatch
        self._bucket, self._stage, self._namespace = data_bucket, stage, metric_namespace
        self._timeout, self._expect_denied = verdict_timeout, expect_access_denied
        self._post, self._poll, self._sleep = post, poll_seconds, sleep
        # Another run's objects younger than this may still be in use (default: two verdict waits).
        self._leftovers_after = 2 * verdict_timeout if leftovers_after is None else leftovers_after

    def run(self) -> CanaryReport:
        run = datetime.now(UTC).strftime("run-%Y%m%dT%H%M%SZ-") + secrets.token_hex(3)
        report = CanaryReport(run=run, stage=self._stage)
        began = time.monotonic()
        eicar = _Probe("eicar.com", EICAR)
        clean = _Probe("clean.txt", f"Manabi Plus canary {run}: clean\n".encode())
        checks: list[tuple[str, Callable[[], str | None]]] = [
            ("upload EICAR and a clean file (presigned POST)", lambda: self._upload(run, (eicar, clean))),
            ("wait for both verdicts", lambda: self._wait(run, (eicar, clean))),
            ("EICAR is INFECTED (record and tag)", lambda: self._verdict(eicar, Verdict.INFECTED)),
            ("clean file is CLEAN (record and tag)", lambda: self._verdict(clean, Verdict.CLEAN)),
            ("the API refuses to hand out the EICAR", lambda: self._api_refuses(run, eicar)),
            ("S3 denies a non-scanner principal the EICAR", lambda: self._s3_denies(eicar)),
            ("the clean file is readable, byte for byte", lambda: self._readable(run, clean)),
        ]
        self._step(report, "remove what earlier runs left", lambda: self._remove_leftovers(run))
        failed = False
        for name, check in checks:
            if failed:
                report.steps.append(Step(name, False, "not run: an earlier step failed", 0.0))
                continue
            failed = not self._step(report, name, check)
        self._step(report, "delete both objects and records", lambda: self._delete(run, (eicar, clean)))
        report.seconds = time.monotonic() - began
        self._step(report, "publish the metric", lambda: self._publish(report))
        (logger.info if report.passed else logger.error)(
            "scan canary %s %s in %.1fs", run, "passed" if report.passed else "FAILED", report.seconds
        )
        return report

    # -- steps ---------------------------------------------------------------------------------

    def _step(self, report: CanaryReport, name: str, check: Callable[[], str | None]) -> bool:
        began = time.monotonic()
        try:
            detail = check()
            ok: bool | None = True
            if detail is not None and detail.startswith("skipped:"):
                ok = None
        except Exception as error:  # noqa: BLE001 - a failed step, reported
            ok, detail = False, f"{type(error).__name__}: {error}"
        report.steps.append(Step(name, ok, detail or "ok", round(time.monotonic() - began, 3)))
        return ok is not False

    def _remove_leftovers(self, run: str) -> str:
        cutoff = datetime.now(UTC) - timedelta(seconds=self._leftovers_after)
        return remove_leftovers(self._s3, self._bucket, CANARY_PREFIX, self._files, self._repo, run, cutoff)

    def _upload(self, run: str, probes: tuple[_Probe, ...]) -> str:
        for probe in probes:
            created = self._files.create_upload(run, probe.name, len(probe.body), "application/octet-stream")
            probe.file_id = created["file"]["id"]
            probe.key = self._files.repository.get(run, probe.file_id)["objectKey"]  # type: ignore[index]
            form = created["upload"]
            status = self._post(form["url"], form["fields"], probe.name, probe.body)
            if status not in (200, 201, 204):
                raise CanaryFailedError(f"the presigned POST of {probe.name} answered HTTP {status}")
        return ", ".join(f"s3://{self._bucket}/{probe.key}" for probe in probes)

    def _wait(self, run: str, probes: tuple[_Probe, ...]) -> str:
        deadline = time.monotonic() + self._timeout
        while True:
            for probe in probes:
                probe.record = self._repo.get(run, probe.file_id) or {}
            if all(probe.record.get("scanStatus") in FINAL for probe in probes):
                return ", ".join(f"{probe.name}: {probe.record['scanStatus']}" for probe in probes)
            if time.monotonic() > deadline:
                seen = ", ".join(f"{probe.name}: {probe.record.get('scanStatus')}" for probe in probes)
                raise CanaryFailedError(f"no verdict within {self._timeout:.0f}s ({seen})")
            self._sleep(self._poll)

    def _verdict(self, probe: _Probe, expected: Verdict) -> str:
        status = probe.record.get("scanStatus")
        version = probe.record.get("versionId", "")
        tags = self._s3.get_object_tagging(Bucket=self._bucket, Key=probe.key, VersionId=version)["TagSet"]
        tag = {entry["Key"]: entry["Value"] for entry in tags}.get("scan-status")
        if status != expected.value or tag != expected.value:
            reason = probe.record.get("scanReason") or probe.record.get("scanError") or ""
            raise CanaryFailedError(f"{probe.name}: record {status}, tag {tag}, expected {expected.value} {reason}")
        signature = probe.record.get("signature") or ""
        return f"{expected.value} {signature}".strip() + f" (version {version})"

    def _api_refuses(self, run: str, probe: _Probe) -> str:
        try:
            self._files.download(run, probe.file_id)
        except NotCleanError as refusal:
            return str(refusal)
        raise CanaryFailedError(f"the API handed out a download URL for {probe.name}")

    def _s3_denies(self, probe: _Probe) -> str:
        if not self._expect_denied:
            return "skipped: the emulator does not enforce bucket policies (evaluated offline instead)"
        try:
            self._s3.head_object(Bucket=self._bucket, Key=probe.key, VersionId=probe.record.get("versionId", ""))
        except ClientError as error:
            code = str(error.response.get("Error", {}).get("Code", ""))
            if code in DENIED_CODES:
                return f"HeadObject answered {code}"
            raise CanaryFailedError(f"HeadObject failed with {code}, not AccessDenied") from error
        raise CanaryFailedError(f"S3 let a non-scanner principal read the INFECTED {probe.key}: the lock is broken")

    def _readable(self, run: str, probe: _Probe) -> str:
        self._files.download(run, probe.file_id)  # the API hands it out
        body = self._s3.get_object(Bucket=self._bucket, Key=probe.key, VersionId=probe.record["versionId"])["Body"]
        data = body.read()
        if hashlib.sha256(data).digest() != hashlib.sha256(probe.body).digest():
            raise CanaryFailedError(f"{probe.name} came back with other bytes ({len(data)} bytes)")
        return f"{len(data)} bytes, sha256 matches"

    def _delete(self, run: str, probes: tuple[_Probe, ...]) -> str:
        deleted = []
        for probe in probes:
            if probe.file_id:
                self._files.delete(run, probe.file_id)
                self._repo.forget(run, probe.file_id)
                deleted.append(probe.name)
        return "deleted " + (", ".join(deleted) or "nothing")

    def _publish(self, report: CanaryReport) -> str:
        dimensions = [{"Name": "Stage", "Value": self._stage}]
        self._cloudwatch.put_metric_data(
            Namespace=self._namespace,
            MetricData=[
                {"MetricName": "CanaryPassed", "Dimensions": dimensions, "Value": 1.0 if report.passed else 0.0},
                {"MetricName": "CanarySeconds", "Dimensions": dimensions, "Value": report.seconds, "Unit": "Seconds"},
            ],
        )
        return f"{self._namespace} CanaryPassed={1 if report.passed else 0}"
