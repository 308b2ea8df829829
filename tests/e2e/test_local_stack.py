"""End to end over real HTTP: the local stack started as `make run` starts it, driven by `manabi`."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from devstack.clamd import EICAR
from devstack.local import launch
from tests.support.local_stack import make_stop

ROOT = Path(__file__).resolve().parents[2]
MANABI = Path(sys.executable).with_name("manabi")
PASSWORD = "Manabi+2026"


class Stack:
    def __init__(self, state_dir: Path, home: Path) -> None:
        self.state_dir = state_dir
        self.env = {**os.environ, "MANABI_STATE_DIR": str(state_dir), "MANABI_HOME": str(home)}
        self.process = launch(state_dir, self.env)
        self.info = json.loads((state_dir / "stack.json").read_text())

    def manabi(self, *args: str, expect: int = 0, cwd: Path | None = None, verdict: bool = False) -> Any:
        """One JSON document on success (and, with ``verdict``, for any verdict's exit status);
        otherwise one line on stderr and nothing on stdout."""
        result = subprocess.run(
            [str(MANABI), "--json", *args],
            env=self.env,
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert result.returncode == expect, result.stderr
        if expect and not verdict:
            assert result.stdout == ""
            assert len(result.stderr.strip().splitlines()) == 1, result.stderr
            return result.stderr.strip()
        return json.loads(result.stdout)

    def children(self) -> list[int]:
        listing = subprocess.run(["ps", "-eo", "pid,ppid,args"], capture_output=True, text=True, check=True).stdout
        return [
            int(line.split()[0])
            for line in listing.splitlines()[1:]
            if str(self.state_dir) in line and int(line.split()[0]) != self.process.pid
        ]

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            self.process.wait(60)


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    running = Stack(tmp_path_factory.mktemp("stack"), tmp_path_factory.mktemp("home"))
    yield running
    running.stop()


@pytest.fixture(scope="module")
def signed_in(stack: Stack) -> Stack:
    created = stack.manabi("signup", "hanako", "--email", "hanako@example.jp", "--password", PASSWORD)
    assert created["confirmed"] is True
    assert stack.manabi("login", "hanako", "--password", PASSWORD)["signedIn"] is True
    return stack


def test_sign_up_rejects_a_weak_password_with_one_line(stack: Stack) -> None:
    message = stack.manabi("signup", "weak", "--email", "weak@example.jp", "--password", "short", expect=1)
    assert message.startswith("manabi: ")


def test_commands_need_a_session(tmp_path: Path, stack: Stack) -> None:
    stranger = Stack.__new__(Stack)
    stranger.env = {**stack.env, "MANABI_HOME": str(tmp_path)}
    assert "manabi login" in stranger.manabi("files", expect=1)


def test_clean_upload_downloads_byte_for_byte(signed_in: Stack, tmp_path: Path) -> None:
    original = tmp_path / "作文.txt"
    original.write_bytes(os.urandom(300_000))
    uploaded = signed_in.manabi("upload", str(original), "--wait")
    assert uploaded["scanStatus"] == "CLEAN"
    status = signed_in.manabi("status", uploaded["id"])
    assert (status["id"], status["scanStatus"]) == (uploaded["id"], "CLEAN")
    target = tmp_path / "back.txt"
    downloaded = signed_in.manabi("download", uploaded["id"], "-o", str(target))
    assert downloaded["bytes"] == original.stat().st_size
    assert target.read_bytes() == original.read_bytes()


def test_an_empty_file_is_accepted_and_scans_clean(signed_in: Stack, tmp_path: Path) -> None:
    empty = tmp_path / "empty.txt"
    empty.write_bytes(b"")
    uploaded = signed_in.manabi("upload", str(empty), "--wait")
    assert (uploaded["scanStatus"], uploaded["size"]) == ("CLEAN", 0)
    target = tmp_path / "back.txt"
    assert signed_in.manabi("download", uploaded["id"], "-o", str(target))["bytes"] == 0
    assert target.read_bytes() == b""


def test_infected_upload_is_refused_then_deleted(signed_in: Stack, tmp_path: Path) -> None:
    sample = tmp_path / "eicar.com"
    sample.write_bytes(EICAR)
    uploaded = signed_in.manabi("upload", str(sample), "--wait", expect=3, verdict=True)
    assert (uploaded["scanStatus"], uploaded["signature"]) == ("INFECTED", "Manabi.Test.EICAR.UNOFFICIAL")
    assert signed_in.manabi("status", uploaded["id"], "--wait", expect=3, verdict=True)["scanStatus"] == "INFECTED"
    refusal = signed_in.manabi("download", uploaded["id"], expect=1)
    assert "INFECTED" in refusal and "HTTP 403" in refusal
    assert signed_in.manabi("delete", uploaded["id"]) == {"id": uploaded["id"], "deleted": True}
    assert uploaded["id"] not in [item["id"] for item in signed_in.manabi("files")["files"]]


def test_download_goes_into_a_directory_and_never_over_a_file_unasked(signed_in: Stack, tmp_path: Path) -> None:
    original = tmp_path / "ノート.txt"
    original.write_text("download me")
    file_id = signed_in.manabi("upload", str(original), "--wait")["id"]
    into = tmp_path / "into"
    into.mkdir()
    for target in (str(into), f"{tmp_path / 'into2'}/"):
        Path(target).mkdir(exist_ok=True)
        downloaded = signed_in.manabi("download", file_id, "-o", target)
        assert Path(downloaded["path"]) == Path(target) / "ノート.txt"
        assert Path(downloaded["path"]).read_text() == "download me"

    missing = tmp_path / "no" / "such" / "dir" / "x.txt"
    refusal = signed_in.manabi("download", file_id, "-o", str(missing), expect=1)
    assert "does not exist" in refusal
    assert not list(tmp_path.rglob("*.part"))

    here = tmp_path / "here"
    here.mkdir()
    (here / "ノート.txt").write_text("my own edits")
    refusal = signed_in.manabi("download", file_id, cwd=here, expect=1)
    assert "already exists" in refusal and (here / "ノート.txt").read_text() == "my own edits"
    signed_in.manabi("download", file_id, "--force", cwd=here)
    assert (here / "ノート.txt").read_text() == "download me"
    assert not list(tmp_path.rglob("*.part"))


def test_sign_up_refusals_say_what_is_wrong(stack: Stack) -> None:
    stack.manabi("signup", "taro", "--email", "taro@example.jp", "--password", PASSWORD)
    taken = stack.manabi("signup", "taro", "--email", "taro2@example.jp", "--password", PASSWORD, expect=1)
    assert "taro is taken" in taken
    weak = stack.manabi("signup", "jiro", "--email", "jiro@example.jp", "--password", "short", expect=1)
    assert "at least 8 characters" in weak
    bad = stack.manabi("signup", "saburo", "--email", "saburo-at-example", "--password", PASSWORD, expect=1)
    assert "not an e-mail address" in bad
    # Nothing was half-created: the name is still free.
    assert stack.manabi("signup", "saburo", "--email", "saburo@example.jp", "--password", PASSWORD)["confirmed"]


def test_files_lists_with_a_header_sizes_and_dates(signed_in: Stack, tmp_path: Path) -> None:
    sample = tmp_path / "size.txt"
    sample.write_bytes(b"x" * 2048)
    signed_in.manabi("upload", str(sample), "--wait")
    text = subprocess.run(
        [str(MANABI), "files"], env=signed_in.env, capture_output=True, text=True, timeout=60, check=True
    ).stdout.splitlines()
    assert text[0].split() == ["ID", "STATUS", "SIZE", "UPLOADED", "NAME"]
    assert any("2.0 KiB" in line and line.endswith("size.txt") for line in text[1:])
    assert signed_in.manabi("files", "--limit", "1", "--json")["files"][0]["name"] == "size.txt"


def test_trace_shows_each_step_of_the_scan(signed_in: Stack, tmp_path: Path) -> None:
    sample = tmp_path / "notes.txt"
    sample.write_text("traced")
    uploaded = signed_in.manabi("upload", str(sample), "--wait")
    trace = signed_in.manabi("trace", uploaded["id"])
    assert trace["status"] == "SUCCEEDED" and trace["scanStatus"] == "CLEAN"
    states = [step["state"] for step in trace["steps"]]
    assert states[:3] == ["MarkPending", "RecordPending", "Scan"]
    assert states[-2:] == ["Release", "RecordVerdict"]
    assert all(step["seconds"] is not None for step in trace["steps"])


def test_the_canary_runs_on_demand_through_the_local_stack(stack: Stack) -> None:
    """`manabi canary`: its presigned POSTs go over HTTP to the emulator, the emulated event path
    scans both files, and every step but the policy check (not enforced here) passes."""
    report = stack.manabi("canary")
    assert report["passed"] is True, report
    steps = {step["name"]: step for step in report["steps"]}
    assert steps["EICAR is INFECTED (record and tag)"]["ok"] is True
    assert steps["the clean file is readable, byte for byte"]["ok"] is True
    assert steps["S3 denies a non-scanner principal the EICAR"]["ok"] is None
    assert steps["delete both objects and records"]["ok"] is True


def test_the_local_stack_schedules_the_canary(stack: Stack) -> None:
    assert stack.info["schedules"]["scan_canary"] == "rate(1 hour)"


def test_stopping_leaves_no_process_behind(tmp_path_factory: pytest.TempPathFactory) -> None:
    own = Stack(tmp_path_factory.mktemp("stop"), tmp_path_factory.mktemp("stop-home"))
    assert own.children(), "the stack should have started clamd and chalice local"
    result = make_stop(own.state_dir, own.env)
    assert result.stdout.strip() == "stopped", result.stderr
    own.process.wait(30)
    assert own.children() == []
    assert not (own.state_dir / "stack.json").exists()


def test_make_stop_after_a_killed_stack_leaves_no_process_behind(tmp_path_factory: pytest.TempPathFactory) -> None:
    killed = Stack(tmp_path_factory.mktemp("killed"), tmp_path_factory.mktemp("killed-home"))
    assert killed.children(), "the stack should have started clamd and chalice local"
    killed.process.kill()  # SIGKILL: no cleanup ran
    killed.process.wait(30)
    assert killed.children(), "its clamd and chalice local outlive it"
    result = make_stop(killed.state_dir, killed.env)
    assert result.returncode == 0, result.stderr
    deadline = time.monotonic() + 15
    while killed.children() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert killed.children() == []
    with pytest.raises(OSError):  # chalice local is gone too: nothing answers on its port
        urllib.request.urlopen(killed.info["api"] + "/health", timeout=2)  # noqa: S310 - loopback
