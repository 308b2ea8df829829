"""The `manabi` CLI as a new user meets it (issue #13), without a stack: options, messages, output."""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from devstack.templates import load_main_template
from manabi_cli import main as cli

# Any AWS call a broken check would make goes to a closed local port, never to AWS.
NOWHERE = "http://127.0.0.1:9"


@pytest.fixture(autouse=True)
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MANABI_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("MANABI_STATE_DIR", str(tmp_path / "no-stack"))
    monkeypatch.setenv("AWS_ENDPOINT_URL", NOWHERE)
    monkeypatch.chdir(tmp_path)


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    status = cli.main(list(argv))
    captured = capsys.readouterr()
    return status, captured.out, captured.err


@pytest.mark.parametrize("argv", [["--json", "files"], ["files", "--json"], ["files", "--limit", "3", "--json"]])
def test_json_is_accepted_before_or_after_the_command(argv: list[str]) -> None:
    assert cli.build_parser().parse_args(argv).json is True


def test_without_json_the_output_is_text() -> None:
    assert cli.build_parser().parse_args(["files"]).json is False


def test_uploading_a_directory_says_it_is_one(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    folder = tmp_path / "homework"
    folder.mkdir()
    status, out, err = run(capsys, "--api", NOWHERE, "upload", str(folder))
    assert (status, out) == (1, "")
    assert "is a directory" in err and len(err.strip().splitlines()) == 1
    status, _, err = run(capsys, "--api", NOWHERE, "upload", str(tmp_path / "missing.txt"))
    assert status == 1 and "no such file" in err


def test_sign_up_checks_the_email_before_asking_cognito(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, err = run(
        capsys,
        "--api",
        NOWHERE,
        "--client-id",
        "c",
        "signup",
        "hanako",
        "--email",
        "hanako",
        "--password",
        "Manabi+2026",
    )
    assert (status, out) == (1, "")
    assert "not an e-mail address" in err and len(err.strip().splitlines()) == 1


def test_sign_up_help_shows_the_password_rules(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        cli.main(["signup", "--help"])
    assert cli.password_rules() in " ".join(capsys.readouterr().out.split())


def test_the_password_rules_are_the_user_pools() -> None:
    policy = load_main_template()["Resources"]["UserPool"]["Properties"]["Policies"]["PasswordPolicy"]
    assert {name: policy[name] for name in cli.PASSWORD_POLICY} == cli.PASSWORD_POLICY
    assert cli.password_rules() == (
        "at least 8 characters, with an upper-case letter, a lower-case letter, a digit and a symbol"
    )


def listing(**fields: Any) -> dict[str, Any]:
    item = {
        "id": "01KB0ZJ6N8Q3D1V4Y6M0S2T9RX",
        "name": "宿題 1.pdf",
        "size": 48213,
        "contentType": "application/pdf",
        "createdAt": "2026-11-29T16:40:00.123Z",
        "scanStatus": "CLEAN",
    }
    return {**item, **fields}


@pytest.fixture
def in_tokyo(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("TZ", "Asia/Tokyo")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def test_files_are_listed_with_a_header_readable_sizes_and_dates(in_tokyo: None) -> None:
    lines = list(cli.render("files", {"files": [listing(), listing(size=0, scanStatus="INFECTED")], "cursor": None}))
    assert lines[0].split() == ["ID", "STATUS", "SIZE", "UPLOADED", "NAME"]
    assert "47.1 KiB" in lines[1] and "2026-11-30 01:40" in lines[1] and lines[1].endswith("宿題 1.pdf")
    assert "0 B" in lines[2] and "INFECTED" in lines[2]
    assert json.dumps(cli.format_size(3 * 1024**3)) == '"3.0 GiB"'


def test_verdicts_have_their_own_exit_codes() -> None:
    assert cli.VERDICT_EXIT == {"CLEAN": 0, "INFECTED": 3, "UNSCANNABLE": 4, "ERROR": 5}


def local_stack(tmp_path: Path, pid: int, stack_id: str = "this-stack") -> None:
    state = tmp_path / "no-stack"
    state.mkdir(exist_ok=True)
    info = {
        "api": NOWHERE,
        "region": "ap-northeast-1",
        "emulator": NOWHERE,
        "cliClientId": "client",
        "userPoolId": "pool",
        "stateMachineArn": "arn:aws:states:ap-northeast-1:123456789012:stateMachine:x",
        "stackId": stack_id,
        "pid": pid,
    }
    (state / "stack.json").write_text(json.dumps(info))


def signed_in_to(tmp_path: Path, stack_id: str | None) -> None:
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    session = {"username": "hanako", "IdToken": "token", **({"stackId": stack_id} if stack_id else {})}
    (home / "session.json").write_text(json.dumps({NOWHERE: session}))


@pytest.mark.parametrize("stored", ["an-earlier-stack", None])
def test_a_session_of_an_earlier_local_stack_is_told_plainly(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, stored: str | None
) -> None:
    local_stack(tmp_path, os.getpid())
    signed_in_to(tmp_path, stored)
    status, out, err = run(capsys, "files")
    assert (status, out) == (1, "")
    assert "restarted" in err and "keeps no accounts or files" in err and "manabi signup" in err


def test_a_stack_json_left_by_a_dead_stack_is_no_stack(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    gone = subprocess.Popen(["true"])
    gone.wait()
    local_stack(tmp_path, gone.pid)
    signed_in_to(tmp_path, "this-stack")
    status, _, err = run(capsys, "files")
    assert status == 1 and "no local stack is running" in err and "make run" in err


def test_a_deployed_function_is_invoked_once_and_waited_for(monkeypatch: pytest.MonkeyPatch) -> None:
    """`manabi canary --function-name`: the canary waits through a cold scanner for minutes;
    boto3's default (60 s read timeout, then retries) would time out and run it again."""
    from io import BytesIO

    import boto3

    from manabi_cli.api import Target

    made: list[Any] = []

    class FakeLambda:
        def invoke(self, **_: Any) -> dict[str, Any]:
            return {"Payload": BytesIO(json.dumps({"passed": True}).encode())}

    def client(service: str, **kwargs: Any) -> FakeLambda:
        made.append(kwargs["config"])
        return FakeLambda()

    monkeypatch.setattr(boto3, "client", client)
    target = Target("https://api.example.jp", "ap-northeast-1", None, None, None, local=False)
    assert target.invoke("manabiplus-stag-scan_canary", {}) == {"passed": True}
    (config,) = made
    assert config.read_timeout >= 900
    assert config.retries["total_max_attempts"] == 1


@pytest.mark.parametrize(
    ("verdict", "status"), [("CLEAN", 0), ("INFECTED", 3), ("UNSCANNABLE", 4), ("ERROR", 5), ("PENDING", 1)]
)
def test_status_wait_exits_with_the_verdicts_code(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], verdict: str, status: int
) -> None:
    """Through main(): the exit code a script sees for each verdict (README, "Exit codes")."""
    monkeypatch.setattr(cli, "resolve_target", lambda *_: None)
    monkeypatch.setitem(cli.COMMANDS, "status", lambda *_: {"id": "f1", "name": "a.txt", "scanStatus": verdict})
    assert cli.main(["status", "f1", "--wait", "--json"]) == status
    assert json.loads(capsys.readouterr().out)["scanStatus"] == verdict


def test_a_download_cut_off_half_way_leaves_nothing_behind(tmp_path: Path) -> None:
    """The storage closes the connection after part of the object: no file, no ``.part``."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    from manabi_cli.api import ApiClient, CliError

    class CutOff(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Length", str(4 * 1024 * 1024))
            self.end_headers()
            self.wfile.write(b"x" * (256 * 1024))
            self.wfile.flush()
            self.close_connection = True

        def log_message(self, *_: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), CutOff)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    output = tmp_path / "notes.txt"
    try:
        with pytest.raises(CliError, match="download failed"):
            ApiClient("http://127.0.0.1:1", "token").download(
                f"http://127.0.0.1:{server.server_port}/object", output, lambda _: None
            )
    finally:
        server.shutdown()
    assert list(tmp_path.iterdir()) == []
