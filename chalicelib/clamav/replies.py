"""What one ``INSTREAM`` reply says, in clamd's own terms (the verdict rule is ``scanning.verdicts``)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from chalicelib.clamav.errors import ClamdReplyError

SIZE_LIMIT_REPLY = "INSTREAM size limit exceeded. ERROR"
# ClamAV reports limit hits and encrypted content as "detections" of these families when
# AlertExceedsMax / AlertEncrypted are on. They mean "not scanned", not "malware".
NOT_SCANNED_PREFIXES = ("Heuristics.Limits.Exceeded.", "Heuristics.Encrypted.")
# Our own name for clamd's refusal of a stream over StreamMaxLength, in ClamAV's naming style.
STREAM_TOO_LARGE = "Manabi.Limits.Exceeded.StreamMaxLength"


class ReplyKind(str, Enum):
    OK = "OK"
    FOUND = "FOUND"
    NOT_SCANNED = "NOT_SCANNED"


@dataclass(frozen=True)
class Reply:
    kind: ReplyKind
    signature: str


def parse_reply(reply: str) -> Reply:
    """Anything that is not ``OK`` or a named finding raises: never OK by default."""
    if reply == SIZE_LIMIT_REPLY:
        return Reply(ReplyKind.NOT_SCANNED, STREAM_TOO_LARGE)
    body = reply[len("stream: ") :] if reply.startswith("stream: ") else reply
    if body == "OK":
        return Reply(ReplyKind.OK, "")
    if body.endswith(" FOUND"):
        signature = body[: -len(" FOUND")].strip()
        if not signature:
            raise ClamdReplyError(f"clamd reported a finding without a name: {reply!r}")
        kind = ReplyKind.NOT_SCANNED if signature.startswith(NOT_SCANNED_PREFIXES) else ReplyKind.FOUND
        return Reply(kind, signature)
    raise ClamdReplyError(f"clamd did not return a scan result: {reply!r}")
