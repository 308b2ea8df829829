"""Issue #9: an engine that proves itself before it judges.

The scanner runtime (as in the Lambda container) downloads the published set into a new
directory, verifies it, starts clamd and checks the engine — signature count and canaries —
before any verdict counts. Damaged sets, engines that loaded less than the manifest names and
dead clamds are refused or healed; never CLEAN on half a database.
"""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest

from chalicelib.clamav.errors import EngineCheckError
from chalicelib.clamav.runtime import ScannerRuntime
from chalicelib.config import ScannerSettings
from chalicelib.definitions.manifest import DefinitionFile, Manifest
from chalicelib.definitions.sources import count_signatures
from chalicelib.definitions.store import DefinitionsStore
from chalicelib.scanning.scanner import ObjectScanner
from chalicelib.scanning.verdicts import Verdict
from chalicelib.wiring import build_runtime, build_scanner
from devstack.clamd import EICAR, EICAR_SIGNATURE, UNOFFICIAL, write_offline_database
from devstack.resources import MainStack
from tests.support.pipeline import REGION, clamd_pids

MIB = 1024 * 1024


@dataclass
class Runtime:
    runtime: ScannerRuntime
    scanner: ObjectScanner
    store: DefinitionsStore
    s3: Any
    data_bucket: str

    def scan(self, body: bytes) -> Any:
        key = "uploads/u/f"
        version = str(self.s3.put_object(Bucket=self.data_bucket, Key=key, Body=body)["VersionId"])
        return self.scanner.scan(self.data_bucket, key, version)


def publish(store: DefinitionsStore, directory: Path, **counts: int) -> Manifest:
    """Publish the set in ``directory`` through the store, as the updater does."""
    index = json.loads((directory / "manifest.json").read_text())
    files = [DefinitionFile(entry["name"], entry["size"], entry["sha256"]) for entry in index["files"]]
    manifest = count_signatures(Manifest(index["version"], index["built_at"], files, "test"), directory)
    if counts:
        manifest = manifest.with_counts(**counts)
    return store.publish(manifest, directory)


@pytest.fixture
def runtime(aws: boto3.Session, stack: MainStack, app_bucket: str, tmp_path: Path) -> Iterator[Runtime]:
    settings = ScannerSettings(
        clamd_address="",
        clamd_timeout_seconds=30.0,
        max_scan_bytes=16 * MIB,
        database_dir="",
        max_definitions_age_hours=48.0,
        definitions_bucket=app_bucket,
        clamd_workdir=str(tmp_path / "clamd"),
        definitions_check_seconds=3600.0,
    )
    s3 = aws.client("s3", region_name=REGION)
    built = build_runtime(settings, s3)
    yield Runtime(built, build_scanner(settings, s3, built), DefinitionsStore(s3, app_bucket), s3, stack.data_bucket)
    built.stop()


@pytest.fixture
def offline_set(tmp_path: Path) -> Path:
    directory = tmp_path / "set"
    write_offline_database(directory)
    return directory


def test_the_engine_is_checked_before_the_first_verdict(runtime: Runtime, offline_set: Path) -> None:
    publish(runtime.store, offline_set)
    assert runtime.scan(EICAR).signature == EICAR_SIGNATURE + UNOFFICIAL
    log = (runtime.runtime.database_dir.parent / "clamd.log").read_text()
    # The three infected canaries were scanned before the upload.
    assert log.count("FOUND") == 4
    assert runtime.runtime.database_dir.is_symlink()


@pytest.mark.parametrize("damage", ["truncated", "missing"])
def test_a_damaged_published_set_is_refused(runtime: Runtime, offline_set: Path, damage: str) -> None:
    manifest = publish(runtime.store, offline_set)
    key = manifest.files[0].key
    if damage == "truncated":
        body = runtime.s3.get_object(Bucket=runtime.store.bucket, Key=key)["Body"].read()
        runtime.s3.put_object(Bucket=runtime.store.bucket, Key=key, Body=body[: len(body) // 2])
    else:
        runtime.s3.delete_object(Bucket=runtime.store.bucket, Key=key)

    result = runtime.scan(b"a clean file")
    assert result.verdict is Verdict.ERROR
    assert ("does not match the manifest" if damage == "truncated" else "cannot download") in result.reason
    assert runtime.runtime.pid is None, "no clamd runs on a damaged set"
    assert not list(runtime.runtime.database_dir.parent.glob("db-*")), "the half-downloaded set was removed"


def test_an_engine_with_fewer_signatures_than_published_is_refused(runtime: Runtime, offline_set: Path) -> None:
    publish(runtime.store, offline_set, signatures=3, min_signatures=3)

    result = runtime.scan(EICAR)
    assert result.verdict is Verdict.ERROR
    assert "clamd loaded 2 signatures" in result.reason
    assert runtime.runtime.pid is None

    # Once a correct manifest is published, the next scan starts clean and counts.
    publish(runtime.store, offline_set)
    assert runtime.scan(EICAR).verdict is Verdict.INFECTED


def test_an_engine_that_misses_a_canary_is_refused(runtime: Runtime, offline_set: Path) -> None:
    # A set without the EICAR body signature: clamd starts and answers, but not as it should.
    (offline_set / "manabi-offline.ndb").unlink()
    index = json.loads((offline_set / "manifest.json").read_text())
    index["files"] = [entry for entry in index["files"] if entry["name"] != "manabi-offline.ndb"]
    (offline_set / "manifest.json").write_text(json.dumps(index))
    publish(runtime.store, offline_set)

    result = runtime.scan(b"an innocent file")
    assert result.verdict is Verdict.ERROR
    assert "EICAR came back 'stream: OK'" in result.reason


def test_a_damaged_database_on_disk_is_replaced_before_clamd_restarts(runtime: Runtime, offline_set: Path) -> None:
    publish(runtime.store, offline_set)
    assert runtime.scan(b"clean").verdict is Verdict.CLEAN
    on_disk = runtime.runtime.database_dir.resolve()
    (on_disk / "manabi-offline.ndb").write_bytes(b"")  # half-written
    _kill(runtime.runtime.pid)

    assert runtime.scan(EICAR).verdict is Verdict.INFECTED
    fresh = runtime.runtime.database_dir.resolve()
    assert fresh != on_disk and not on_disk.exists()
    assert (fresh / "manabi-offline.ndb").stat().st_size > 0


def test_cold_starts_are_serialised(runtime: Runtime, offline_set: Path) -> None:
    publish(runtime.store, offline_set)
    before = clamd_pids()
    engines: list[Any] = []
    threads = [threading.Thread(target=lambda: engines.append(runtime.runtime.engine())) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(engines) == 8
    assert len({engine.client.address for engine in engines}) == 1
    assert len(clamd_pids() - before) == 1


def test_a_dead_clamd_is_restarted_once_and_reaped(runtime: Runtime, offline_set: Path) -> None:
    publish(runtime.store, offline_set)
    runtime.runtime.engine()
    dead = runtime.runtime.pid
    assert dead is not None
    _kill(dead)
    threads = [threading.Thread(target=runtime.runtime.engine) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert runtime.runtime.pid not in (None, dead)
    assert not Path(f"/proc/{dead}").exists(), "the killed clamd was reaped, not left a zombie"
    workdir = str(runtime.runtime.database_dir.parent)
    assert [pid for pid in clamd_pids() if workdir in _command_line(pid)] == [runtime.runtime.pid]


def test_the_engine_check_needs_the_clamav_test_file(tmp_path: Path) -> None:
    from chalicelib.clamav.canaries import canaries

    with pytest.raises(EngineCheckError, match="clamav-testfiles"):
        canaries(tmp_path / "missing-clam.exe")


def _kill(pid: int | None) -> None:
    """SIGKILL clamd (a child of this process) and return once its exit can be collected.

    The kill is asynchronous: for a while after it clamd's threads are still exiting and
    ``waitpid`` does not report it yet (``/proc`` may already call the main thread a zombie), so
    the runtime rightly takes it for alive; a scan then fails on a reset connection, as one
    against a clamd dying mid-scan does, and is retried. ``WNOWAIT`` leaves the exit for the
    runtime to collect."""
    assert pid is not None
    os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None:
                return
        except ChildProcessError:
            return  # already collected
        time.sleep(0.01)
    raise AssertionError(f"clamd {pid} did not exit after SIGKILL")


def _command_line(pid: int) -> str:
    return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
