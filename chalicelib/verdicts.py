"""Scan verdicts and how clamd's replies map onto them (ARCHITECTURE.md, "Verdicts")."""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from enum import Enum
from typing import Any

from chalicelib.archives import AuditReport
from chalicelib.clamd import SIZE_LIMIT_REPLY


class Verdict(str, Enum):
    """Value of the ``scan-status`` tag on an object version and of the file record."""

    PENDING = "PENDING"
    CLEAN = "CLEAN"
    INFECTED = "INFECTED"
    UNSCANNABLE = "UNSCANNABLE"
    ERROR = "ERROR"


# ClamAV reports limit hits and encrypted content as "detections" of these families when
# AlertExceedsMax / AlertEncrypted are on. They mean "not scanned", not "malware".
UNSCANNABLE_SIGNATURE_PREFIXES = ("Heuristics.Limits.Exceeded.", "Heuristics.Encrypted.")

# Our own reasons, written in ClamAV's naming style so the tag reads the same way.
OBJECT_TOO_LARGE = "Manabi.Limits.Exceeded.MaxScanBytes"
STREAM_TOO_LARGE = "Manabi.Limits.Exceeded.StreamMaxLength"


class ClamdReplyError(Exception):
    """clamd answered with something that is not a scan result (e.g. ``... ERROR``)."""


class AuditMissingError(Exception):
    """clamd said OK but the archive audit did not run: that is no proof of a complete read."""


@dataclass(frozen=True)
class ClamdFinding:
    verdict: Verdict
    signature: str


def classify_reply(reply: str) -> ClamdFinding:
    """Map one INSTREAM reply to a verdict. Anything unexpected raises: never CLEAN by default."""
    if reply == SIZE_LIMIT_REPLY:
        return ClamdFinding(Verdict.UNSCANNABLE, STREAM_TOO_LARGE)
    body = reply[len("stream: ") :] if reply.startswith("stream: ") else reply
    if body == "OK":
        return ClamdFinding(Verdict.CLEAN, "")
    if body.endswith(" FOUND"):
        signature = body[: -len(" FOUND")].strip()
        if not signature:
            raise ClamdReplyError(f"clamd reported a finding without a name: {reply!r}")
        if signature.startswith(UNSCANNABLE_SIGNATURE_PREFIXES):
            return ClamdFinding(Verdict.UNSCANNABLE, signature)
        return ClamdFinding(Verdict.INFECTED, signature)
    raise ClamdReplyError(f"clamd did not return a scan result: {reply!r}")


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
