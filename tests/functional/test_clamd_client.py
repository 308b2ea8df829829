"""The INSTREAM client against a real clamd: replies, limits and failures."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from chalicelib.clamav.client import ClamdClient
from chalicelib.clamav.errors import ClamdTimeoutError, ClamdUnavailableError
from chalicelib.clamav.replies import SIZE_LIMIT_REPLY, STREAM_TOO_LARGE
from chalicelib.scanning.verdicts import Verdict, classify_reply
from devstack.clamd import EICAR, EICAR_SIGNATURE, UNOFFICIAL, ClamdLimits, ClamdProcess, temporary_clamd
from tests.support.limits import MIB, TEST_LIMITS


def test_ping_version_and_verdicts(clamd: ClamdProcess) -> None:
    client = clamd.client()
    assert client.ping()
    assert client.version().startswith("ClamAV ")
    assert client.instream([b"plain text"]) == "stream: OK"
    assert client.instream([EICAR[:30], EICAR[30:]]) == f"stream: {EICAR_SIGNATURE}{UNOFFICIAL} FOUND"
    assert client.instream([]) == "stream: OK"


def test_a_stream_past_stream_max_length_is_reported_not_broken_pipe(clamd: ClamdProcess) -> None:
    chunk = os.urandom(MIB)
    chunks = (chunk for _ in range(TEST_LIMITS.stream_max // MIB + 8))
    reply = clamd.client().instream(chunks)
    assert reply == SIZE_LIMIT_REPLY
    assert classify_reply(reply).verdict is Verdict.UNSCANNABLE
    assert classify_reply(reply).signature == STREAM_TOO_LARGE


def test_an_absent_clamd_is_unavailable(tmp_path: Path) -> None:
    with pytest.raises(ClamdUnavailableError, match="cannot connect"):
        ClamdClient(f"unix://{tmp_path / 'nothing.sock'}").ping()
    with pytest.raises(ClamdUnavailableError):
        ClamdClient("tcp://127.0.0.1:1", timeout_seconds=2).instream([b"x"])


@pytest.fixture
def frozen_clamd() -> Iterator[ClamdProcess]:
    process = temporary_clamd(ClamdLimits()).start()
    assert process.process is not None
    os.kill(process.process.pid, signal.SIGSTOP)
    yield process
    os.kill(process.process.pid, signal.SIGCONT)
    process.stop()


def test_a_hung_clamd_times_out(frozen_clamd: ClamdProcess) -> None:
    with pytest.raises(ClamdTimeoutError):
        frozen_clamd.client(timeout_seconds=0.5).instream([b"anything"])


@pytest.mark.parametrize("address", ["relative.sock", "tcp://nohost", "tcp://:3310"])
def test_bad_addresses_are_refused(address: str) -> None:
    with pytest.raises(ValueError, match="clamd address"):
        ClamdClient(address)


class _ImpatientClient(ClamdClient):
    """A client whose PING gives up after 50 ms: on this machine, what the client's 60 s are to
    a reload of the official-size database (45–93 s, docs/PERFORMANCE.md)."""

    def ping(self) -> bool:
        self.timeout_seconds = min(self.timeout_seconds, 0.05)
        return super().ping()


def test_a_reload_longer_than_the_clients_timeout_is_waited_out(monkeypatch: pytest.MonkeyPatch) -> None:
    """A non-concurrent reload keeps clamd silent until the new engine is ready: the wait for it
    is bounded by the reload's own deadline, not by one PING's socket timeout (issue #14, found
    with the official-size database)."""
    from chalicelib.clamav import process as clamd_process
    from devstack.clamd import hash_signature, write_offline_database

    running = temporary_clamd()
    running.extra_config = {"ConcurrentDatabaseReload": "no", "IdleTimeout": "2"}
    running.start()
    try:
        before = running.signatures or 0
        # Enough signatures that loading them takes clamd well over 50 ms.
        release = tuple(hash_signature(f"release 2, file {n}".encode(), f"Manabi.Test.R2.{n}") for n in range(200_000))
        write_offline_database(running.database_dir, extra_hashes=release)
        monkeypatch.setattr(clamd_process, "ClamdClient", _ImpatientClient)
        assert running.reload(timeout=120) == before + len(release)
        assert running.alive()
    finally:
        running.stop()
