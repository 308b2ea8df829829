import pytest

from chalicelib.clamav.errors import ClamdReplyError
from chalicelib.clamav.replies import STREAM_TOO_LARGE
from chalicelib.scanning.verdicts import Verdict, classify_reply


@pytest.mark.parametrize(
    ("reply", "verdict", "signature"),
    [
        ("stream: OK", Verdict.CLEAN, ""),
        ("stream: Win.Test.EICAR_HDB-1 FOUND", Verdict.INFECTED, "Win.Test.EICAR_HDB-1"),
        ("stream: Manabi.Test.EICAR.UNOFFICIAL FOUND", Verdict.INFECTED, "Manabi.Test.EICAR.UNOFFICIAL"),
        ("stream: Heuristics.Zip.OverlappingFiles FOUND", Verdict.INFECTED, "Heuristics.Zip.OverlappingFiles"),
        ("stream: Heuristics.Encrypted.Zip FOUND", Verdict.UNSCANNABLE, "Heuristics.Encrypted.Zip"),
        ("stream: Heuristics.Encrypted.PDF FOUND", Verdict.UNSCANNABLE, "Heuristics.Encrypted.PDF"),
        (
            "stream: Heuristics.Limits.Exceeded.MaxRecursion FOUND",
            Verdict.UNSCANNABLE,
            "Heuristics.Limits.Exceeded.MaxRecursion",
        ),
        (
            "stream: Heuristics.Limits.Exceeded.MaxScanSize FOUND",
            Verdict.UNSCANNABLE,
            "Heuristics.Limits.Exceeded.MaxScanSize",
        ),
        ("INSTREAM size limit exceeded. ERROR", Verdict.UNSCANNABLE, STREAM_TOO_LARGE),
    ],
)
def test_clamd_replies_map_to_verdicts(reply: str, verdict: Verdict, signature: str) -> None:
    finding = classify_reply(reply)
    assert (finding.verdict, finding.signature) == (verdict, signature)


@pytest.mark.parametrize(
    "reply",
    ["", "stream: ", "stream:  FOUND", "stream: Can't allocate memory ERROR", "UNKNOWN COMMAND", "PONG", "stream: ok"],
)
def test_anything_else_is_never_clean(reply: str) -> None:
    with pytest.raises(ClamdReplyError):
        classify_reply(reply)
