"""Scan verdicts and how clamd's replies map onto them (ARCHITECTURE.md, "Verdicts")."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from enum import Enum
from typing import Any

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

    def to_payload(self) -> dict[str, Any]:
        payload = asdict(self)
        payload["verdict"] = self.verdict.value
        return payload
