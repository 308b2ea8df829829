"""The verdict rule, in one place, and the statuses a file record moves through
(ARCHITECTURE.md, "Verdicts"): ``decide`` turns clamd's reply and the archive audit into the
verdict that becomes the version's ``scan-status`` tag and the record's ``scanStatus``."""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, replace
from enum import Enum
from typing import Any

from chalicelib.clamav.replies import STREAM_TOO_LARGE, ReplyKind, parse_reply
from chalicelib.scanning.archives import AuditReport
from chalicelib.scanning.errors import AuditMissingError


class Verdict(str, Enum):
    """Value of the ``scan-status`` tag on an object version and of the file record."""

    PENDING = "PENDING"
    CLEAN = "CLEAN"
    INFECTED = "INFECTED"
    UNSCANNABLE = "UNSCANNABLE"
    ERROR = "ERROR"


# The record's scanStatus before the upload arrives (no object version yet, so no tag).
PENDING_UPLOAD = "PENDING_UPLOAD"
STILL_SCANNING = {PENDING_UPLOAD, Verdict.PENDING.value}
SCAN_STATUSES = (PENDING_UPLOAD, *(verdict.value for verdict in Verdict))
# INFECTED is final: the bucket policy forbids re-tagging, so it is never rescanned.
NEVER_RESCANNED = {Verdict.INFECTED.value}
# The record's lifecycle ``status`` (not a scan status): deleted records are kept, marked.
DELETED = "DELETED"

# Our own reasons, written in ClamAV's naming style so the tag reads the same way.
OBJECT_TOO_LARGE = "Manabi.Limits.Exceeded.MaxScanBytes"
SIZE_MISMATCH = "Manabi.Size.Mismatch"
_VERDICT_OF = {
    ReplyKind.OK: Verdict.CLEAN,
    ReplyKind.FOUND: Verdict.INFECTED,
    ReplyKind.NOT_SCANNED: Verdict.UNSCANNABLE,
}


@dataclass(frozen=True)
class ClamdFinding:
    verdict: Verdict
    signature: str


def classify_reply(reply: str) -> ClamdFinding:
    """Map one INSTREAM reply to a verdict. Anything unexpected raises: never CLEAN by default."""
    parsed = parse_reply(reply)
    return ClamdFinding(_VERDICT_OF[parsed.kind], parsed.signature)


def _why_unscannable(signature: str) -> str:
    if signature == STREAM_TOO_LARGE:
        return "larger than clamd's StreamMaxLength: not scanned"
    if ".Encrypted." in signature:
        return f"encrypted content cannot be scanned ({signature})"
    return f"ClamAV did not read all of it ({signature})"


def decide(clamd: ClamdFinding, audit: AuditReport | None) -> tuple[Verdict, str, str]:
    """The one verdict rule: (verdict, signature, reason).

    CLEAN only when clamd answered ``OK`` for the whole stream *and* the archive audit accounted
    for every container in it. A signature found by either is INFECTED; a limit, an encryption
    or anything the audit could not account for is UNSCANNABLE.
    """
    if clamd.verdict is Verdict.INFECTED:
        return Verdict.INFECTED, clamd.signature, ""
    finding = audit.finding if audit is not None else None
    if finding is not None and finding.infected:
        return Verdict.INFECTED, finding.signature, finding.reason
    if clamd.verdict is Verdict.UNSCANNABLE:
        return Verdict.UNSCANNABLE, clamd.signature, _why_unscannable(clamd.signature)
    if audit is None:
        raise AuditMissingError("clamd answered OK, but the archive audit did not run")
    if finding is not None:
        return Verdict.UNSCANNABLE, finding.signature, finding.reason
    return Verdict.CLEAN, "", ""


@dataclass(frozen=True)
class ScanResult:
    """What the scanner returns to the state machine for one object version."""

    verdict: Verdict
    signature: str
    engine: str
    definitions: str
    sha256: str
    bytes: int
    seconds: float
    reason: str = ""

    @classmethod
    def of(
        cls,
        verdict: Verdict,
        signature: str,
        engine: str,
        definitions: str,
        sha256: str,
        size: int,
        started: float,
        reason: str = "",
    ) -> ScanResult:
        seconds = round(time.monotonic() - started, 6)
        return cls(verdict, signature, engine, definitions, sha256, size, seconds, reason)

    @classmethod
    def refused(cls, reason: str, started: float, engine: str = "") -> ScanResult:
        """The scanner would not judge (no checked engine, stale definitions): ERROR with the reason."""
        return cls.of(Verdict.ERROR, "", engine, "", "", 0, started, reason)

    def to_payload(self) -> dict[str, Any]:
        payload = asdict(self)
        payload["verdict"] = self.verdict.value
        return payload


def held_to_declared_size(result: ScanResult, declared_size: int | None) -> ScanResult:
    """CLEAN only for the bytes the upload declared: a version of another size is UNSCANNABLE.

    S3 enforces the POST policy's ``content-length-range`` (pinned to the declared size); the
    emulator does not, and a scan must not depend on that alone. A signature found stays
    INFECTED whatever the size.
    """
    if declared_size is None or result.verdict is not Verdict.CLEAN or result.bytes == declared_size:
        return result
    reason = f"{result.bytes} bytes arrived, but the upload declared {declared_size}"
    return replace(result, verdict=Verdict.UNSCANNABLE, signature=SIZE_MISMATCH, reason=reason)
