"""Issue #9 end to end: clamd killed while uploads are in flight through the local stack.

The scanner must start one new clamd, check it, and judge the rest correctly: an EICAR uploaded
right after the kill is INFECTED, and every clean file ends CLEAN without an operator (the state
machine retries, and the sweeper rescans what still ended ERROR).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import requests

from devstack.clamd import EICAR
from devstack.local import launch, stop_running

MANABI = Path(sys.executable).with_name("manabi")
PASSWORD = "Manabi+2026"
UPLOADS = 60
FINAL = {"CLEAN", "INFECTED", "UNSCANNABLE", "ERROR"}


class Learner:
    def __init__(self, api: str, token: str) -> None:
        self._api = api
        self._http = requests.Session()
        self._http.headers["Authorization"] = token

    def upload(self, name: str, content: bytes) -> str:
        created = self._http.post(
            f"{self._api}/files", json={"name": name, "size": len(content), "contentType": "text/plain"}, timeout=30
        )
        created.raise_for_status()
        form = created.json()["upload"]
        posted = requests.post(form["url"], data=form["fields"], files={"file": (name, content)}, timeout=60)
        assert posted.status_code in (200, 204), posted.text
        return str(created.json()["file"]["id"])

    def status(self, file_id: str) -> dict[str, Any]:
        response = self._http.get(f"{self._api}/files/{file_id}", timeout=30)
        response.raise_for_status()
        return response.json()  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[dict[str, Any], Learner, Path]]:
    state_dir, home = tmp_path_factory.mktemp("killed"), tmp_path_factory.mktemp("killed-home")
    # The sweeper runs every minute here, and retries a transient ERROR after a second.
    env = {
        **os.environ,
        "MANABI_STATE_DIR": str(state_dir),
        "MANABI_HOME": str(home),
        "SWEEP_SCHEDULE": "rate(1 minute)",
        "AUTO_RESCAN_FIRST_DELAY_SECONDS": "1",
    }
    process = launch(state_dir, env)
    try:
        info = json.loads((state_dir / "stack.json").read_text())
        for command in (
            ["signup", "hanako", "--email", "hanako@example.jp", "--password", PASSWORD],
            ["login", "hanako", "--password", PASSWORD],
        ):
            subprocess.run([str(MANABI), "--json", *command], env=env, check=True, capture_output=True, timeout=60)
        token = json.loads((home / "session.json").read_text())[info["api"]]["IdToken"]
        yield info, Learner(info["api"], token), state_dir
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(60)
        stop_running(state_dir)


def clamd_pids(state_dir: Path) -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        try:
            command_line = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if entry.name.isdigit() and b"clamd" in command_line and str(state_dir).encode() in command_line:
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
            if state != "Z":
                pids.append(int(entry.name))
    return pids


def test_killing_clamd_mid_burst_loses_no_verdict(stack: tuple[dict[str, Any], Learner, Path]) -> None:
    _, learner, state_dir = stack
    (victim,) = clamd_pids(state_dir)
    clean = {f"note-{index}.txt": os.urandom(64 * 1024) for index in range(UPLOADS)}
    with ThreadPoolExecutor(max_workers=8) as pool:
        futures = {name: pool.submit(learner.upload, name, content) for name, content in clean.items()}
        while sum(future.done() for future in futures.values()) < 10:
            time.sleep(0.05)
        os.kill(victim, signal.SIGKILL)
        eicar = learner.upload("eicar.com", EICAR)
        ids = {name: future.result() for name, future in futures.items()}

    deadline = time.monotonic() + 300
    verdicts: dict[str, dict[str, Any]] = {}
    pending = {**ids, "eicar.com": eicar}
    while pending and time.monotonic() < deadline:
        for name, file_id in list(pending.items()):
            status = learner.status(file_id)
            if status["scanStatus"] in FINAL and not (status["scanStatus"] == "ERROR" and name != "eicar.com"):
                verdicts[name] = status
                del pending[name]
        time.sleep(1)

    assert not pending, f"still waiting after 5 minutes: {sorted(pending)[:5]} …"
    assert verdicts.pop("eicar.com")["scanStatus"] == "INFECTED"
    assert {status["scanStatus"] for status in verdicts.values()} == {"CLEAN"}
    survivors = clamd_pids(state_dir)
    assert len(survivors) == 1 and victim not in survivors, "one new clamd, the killed one reaped"
    log = (state_dir / "clamd" / "clamd.log").read_text()
    assert log.count("Loaded 2 signatures.") >= 2, "the new clamd loaded the whole set and was checked"
