"""The engine proves itself before it judges: after every clamd start and every reload.

A clamd that started on a half-written database directory answers ``OK`` for everything it no
longer knows. So before the first scan with a newly loaded database is accepted, the runtime
checks that clamd loaded the set the manifest names — its signature count, and for the official
databases the daily version clamd reports — and that a canary set is detected: EICAR, the
ClamAV test file, EICAR inside a zip, and a clean control that must come back ``OK``.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from chalicelib.clamav.errors import ClamdReplyError, EngineCheckError
from chalicelib.clamav.replies import ReplyKind, parse_reply

# The 68-byte EICAR test string, in two halves so that no file of this project is a test virus.
EICAR = b"X5O!P%@AP[4\\PZX54(P^)7CC)7}$" + b"EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*"
# ClamAV's own harmless test program, from Debian's clamav-testfiles (installed wherever clamd is).
CLAMAV_TEST_FILE = Path("/usr/share/clamav-testfiles/clam.exe")
CLEAN_CONTROL = b"Manabi Plus engine check: this control file is clean.\n"


def eicar_zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("eicar.com", EICAR)
    return buffer.getvalue()


def canaries(test_file: Path = CLAMAV_TEST_FILE) -> dict[str, tuple[bytes, ReplyKind]]:
    """Each canary's bytes and what a working engine answers for it."""
    try:
        clamav_test_file = test_file.read_bytes()
    except OSError as error:
        raise EngineCheckError(
            f"the ClamAV test file {test_file} is missing (Debian package clamav-testfiles)"
        ) from error
    return {
        "EICAR": (EICAR, ReplyKind.FOUND),
        "ClamAV test file": (clamav_test_file, ReplyKind.FOUND),
        "EICAR in a zip": (eicar_zip(), ReplyKind.FOUND),
        "clean control": (CLEAN_CONTROL, ReplyKind.OK),
    }


@dataclass(frozen=True)
class Expected:
    """What the manifest says clamd must have loaded."""

    version: str
    min_signatures: int
    max_signatures: int


Scan = Callable[[bytes], str]


def check_engine(
    expected: Expected,
    loaded_signatures: int | None,
    engine_version: str,
    scan: Scan,
    test_file: Path = CLAMAV_TEST_FILE,
) -> None:
    """Raise ``EngineCheckError`` naming the first thing that is wrong."""
    if loaded_signatures is None:
        raise EngineCheckError("clamd did not report how many signatures it loaded")
    if not expected.min_signatures <= loaded_signatures <= expected.max_signatures:
        raise EngineCheckError(
            f"clamd loaded {loaded_signatures} signatures; definitions {expected.version} have "
            f"{expected.min_signatures}–{expected.max_signatures}"
        )
    if expected.version.startswith("daily-"):
        # "ClamAV 1.4.6/27512/Sun Nov 29 08:27:02 2026" once official databases are loaded.
        reported = engine_version.split("/")
        if len(reported) < 2 or f"daily-{reported[1]}" != expected.version:
            raise EngineCheckError(f"clamd reports {engine_version!r}, not definitions {expected.version}")
    check_canaries(scan, test_file)


def check_canaries(scan: Scan, test_file: Path = CLAMAV_TEST_FILE) -> None:
    """Every canary gets the verdict a working engine gives it, or ``EngineCheckError``."""
    for name, (content, wanted) in canaries(test_file).items():
        reply = scan(content)
        try:
            kind = parse_reply(reply).kind
        except ClamdReplyError as error:
            raise EngineCheckError(f"engine check failed: {name}: {error}") from error
        if kind is not wanted:
            raise EngineCheckError(f"engine check failed: {name} came back {reply!r}, expected {wanted.value}")
