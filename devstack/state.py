"""The local stack's state directory (``MANABI_STATE_DIR``, default ``.local/``): who holds it
(``run.lock``, from the first step until the stack stopped), what a running stack recorded
(``stack.json``), and the settings every local process shares. ``make run``, ``make stop``, the
CLI and a ``chalice local`` started by hand read it from here; nothing here starts anything."""

from __future__ import annotations

import fcntl
import json
import os
import time
from pathlib import Path
from typing import Any

from devstack.templates import ROOT

STAGE = "local"
DEFAULT_STATE_DIR = ROOT / ".local"
LOCAL_MAX_BYTES = 512 * 1024 * 1024  # upload limit = scan limit = clamd StreamMaxLength


class LocalStackError(RuntimeError):
    """The local stack could not start or stop; the message says what to do."""


def stage_environment() -> dict[str, str]:
    config = json.loads((ROOT / ".chalice" / "config.json").read_text(encoding="utf-8"))
    env = dict(config.get("environment_variables", {}))
    env.update(config["stages"][STAGE].get("environment_variables", {}))
    return env


def claim_state_dir(state_dir: Path) -> Any:
    """Hold ``state_dir/run.lock`` for this process, from before the first step until the stack
    has stopped: stack.json only exists once the stack is up, so the lock is what tells a second
    ``make run`` (and ``make stop``) that a stack is starting here. The kernel releases it when
    the process ends, however it ends."""
    lock = (state_dir / "run.lock").open("a+")
    for _ in range(10):  # `make stop` probes the lock for a moment (running_pid)
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            break
        except BlockingIOError:
            time.sleep(0.05)
    else:
        lock.seek(0)
        holder = lock.read().strip() or "?"
        lock.close()
        raise LocalStackError(
            f"a local stack is already running or starting here (pid {holder}); stop it with `make stop` first"
        )
    lock.seek(0)
    lock.truncate()
    lock.write(f"{os.getpid()}\n")
    lock.flush()
    return lock


def running_pid(state_dir: Path) -> int | None:
    """The pid of the stack that holds ``state_dir``'s claim (running or still starting), if any."""
    try:
        lock = (state_dir / "run.lock").open("r")
    except FileNotFoundError:
        return None
    with lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            text = lock.read().strip()
            return int(text) if text.isdigit() else None
        fcntl.flock(lock, fcntl.LOCK_UN)
        return None


def read_info(state_dir: Path) -> dict[str, Any] | None:
    path = state_dir / "stack.json"
    if not path.is_file():
        return None
    return json.loads(path.read_text(encoding="utf-8"))  # type: ignore[no-any-return]


def alive(pid: int) -> bool:
    """True while ``pid`` runs (a zombie waiting for its parent to reap it counts as gone)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (ProcessLookupError, PermissionError, FileNotFoundError):
        return False
    return state != "Z"
