"""Upload throughput of the local stack with 1 and with N concurrent clients (issue #14).

Run: ``.venv/bin/python -m bench.local_throughput`` (part of ``make bench``). Starts the stack as
``make run`` does (free ports, temporary state directory), signs up one learner, then for each
client count runs that many threads; each uploads fresh random files through ``POST /files``
and the presigned POST and polls ``GET /files/{id}`` until the verdict is visible (the learner's
view). Reported: files/s over the wall time of the round and the per-file latency.

Baseline in the same run: clamd alone (``INSTREAM`` of the same size, same thread counts) on the
stack's own clamd, so the ratio says what the emulated event path costs on this machine.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from devstack.local import launch

ROOT = Path(__file__).resolve().parent.parent
FINAL = {"CLEAN", "INFECTED", "UNSCANNABLE", "ERROR"}


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(fraction * len(ordered)) - 1))]


def cpu_seconds(pid: int | None) -> float:
    """User + system CPU time of a process so far (0 when unknown)."""
    if not pid:
        return 0.0
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _round(
    threads: int, per_thread: int, one: Callable[[int], float], pids: dict[str, int | None] | None = None
) -> dict[str, Any]:
    latencies: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()

    def worker(index: int) -> None:
        for _ in range(per_thread):
            try:
                seconds = one(index)
            except Exception as error:  # noqa: BLE001 - counted and reported
                with lock:
                    errors.append(f"{type(error).__name__}: {error}")
                continue
            with lock:
                latencies.append(seconds)

    workers = [threading.Thread(target=worker, args=(index,)) for index in range(threads)]
    cpu_before = {name: cpu_seconds(pid) for name, pid in (pids or {}).items()}
    began = time.monotonic()
    for thread in workers:
        thread.start()
    for thread in workers:
        thread.join()
    wall = time.monotonic() - began
    cpu = {name: cpu_seconds(pid) - cpu_before[name] for name, pid in (pids or {}).items()}
    return {
        "cpuSecondsPerFile": {name: round(used / max(1, len(latencies)), 4) for name, used in cpu.items()},
        "threads": threads,
        "files": len(latencies),
        "errors": errors,
        "wallSeconds": round(wall, 3),
        "filesPerSecond": round(len(latencies) / wall, 2) if wall else 0.0,
        "p50Seconds": round(statistics.median(latencies), 4) if latencies else None,
        "p90Seconds": round(_percentile(latencies, 0.9), 4) if latencies else None,
        "latencies": [round(value, 4) for value in latencies],
    }


def measure(
    clients: list[int], files_per_client: int, size: int, poll: float, workdir: Path, repeats: int = 1
) -> dict[str, Any]:
    from chalicelib.clamav.client import ClamdClient
    from manabi_cli.api import ApiClient, resolve_target

    state_dir = workdir / "stack"
    process = launch(state_dir)
    info = json.loads((state_dir / "stack.json").read_text())
    os.environ["MANABI_STATE_DIR"] = str(state_dir)
    try:
        target = resolve_target(None, None, None, None)
        cognito = target.cognito()
        cognito.sign_up("bench", "bench@example.jp", "Manabi+2026")
        cognito.confirm_locally("bench")
        token = cognito.login("bench", "Manabi+2026")["IdToken"]
        apis = [ApiClient(target.api_url, token) for _ in range(max(clients))]
        samples = workdir / "samples"
        samples.mkdir()

        def upload(index: int) -> float:
            api = apis[index]
            sample = samples / f"{index}.bin"
            sample.write_bytes(os.urandom(size))
            began = time.monotonic()
            created = api.post("/files", {"name": "sample.bin", "size": size})
            api.upload(created["upload"], sample, lambda done: None)
            path = f"/files/{created['file']['id']}"
            while api.get(path)["scanStatus"] not in FINAL:
                time.sleep(poll)
            return time.monotonic() - began

        def engine(index: int) -> float:
            content = os.urandom(size)
            began = time.monotonic()
            ClamdClient(info["clamd"]).instream([content])
            return time.monotonic() - began

        upload(0)  # warm-up: first API call, first execution; not counted
        pids = {"stack": info.get("pid"), "api": info.get("apiPid"), "clients": os.getpid()}
        rounds = []
        # Repeats alternate the client counts (1, 8, 1, 8, …) so a noisy machine weighs on both.
        for repeat in range(1, repeats + 1):
            for threads in clients:
                for path, row in (
                    ("local stack", _round(threads, files_per_client, upload, pids)),
                    ("clamd alone", _round(threads, files_per_client * 10, engine)),
                ):
                    rounds.append({"path": path, "repeat": repeat, **row})
        return {"bytes": size, "pollSeconds": poll, "filesPerClient": files_per_client, "rounds": rounds}
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(60)


def report(result: dict[str, Any]) -> str:
    lines = [
        f"== Local stack upload throughput, {result['bytes'] // 1024} KiB files, poll {result['pollSeconds']} s ==",
        "| path | repeat | clients | files | files/s | p50 ms | p90 ms | errors "
        "| CPU s per file (stack / API / clients) |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    # path -> repeat -> clients -> files/s
    by_path: dict[str, dict[int, dict[int, float]]] = {}
    for row in result["rounds"]:
        repeat = row["repeat"]
        by_path.setdefault(row["path"], {}).setdefault(repeat, {})[row["threads"]] = row["filesPerSecond"]
        lines.append(
            f"| {row['path']} | {repeat} | {row['threads']} | {row['files']} | {row['filesPerSecond']:.2f} | "
            f"{(row['p50Seconds'] or 0) * 1000:.0f} | {(row['p90Seconds'] or 0) * 1000:.0f} | {len(row['errors'])} | "
            + (" / ".join(f"{value:.3f}" for value in row["cpuSecondsPerFile"].values()) or "—")
            + " |"
        )
    for path, repeats in by_path.items():
        low, high = min(min(rates) for rates in repeats.values()), max(max(rates) for rates in repeats.values())
        ratios = [rates[high] / rates[low] for rates in repeats.values() if rates.get(low) and high in rates]
        if ratios:
            each = ", ".join(f"{ratio:.2f}x" for ratio in ratios)
            lines.append(f"{path}: {high} clients / {low} client = {statistics.median(ratios):.2f}x (median of {each})")
    stack, engine = by_path.get("local stack", {}), by_path.get("clamd alone", {})
    for repeat in sorted(stack):
        for threads in sorted(stack[repeat]):
            if engine.get(repeat, {}).get(threads):
                share = stack[repeat][threads] / engine[repeat][threads]
                lines.append(f"repeat {repeat}, {threads} client(s): local stack / clamd alone = {share:.4f}")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, nargs="+", default=[1, 8])
    parser.add_argument("--files-per-client", type=int, default=12)
    parser.add_argument("--size", type=int, default=64 * 1024)
    parser.add_argument("--poll", type=float, default=0.02, help="seconds between GET /files/{id} polls")
    parser.add_argument("--repeats", type=int, default=1, help="rounds of every client count, alternating")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="manabi-throughput-") as tmp:
        result = measure(args.clients, args.files_per_client, args.size, args.poll, Path(tmp), args.repeats)
    print(report(result))
    results = ROOT / "bench" / "results"
    results.mkdir(parents=True, exist_ok=True)
    out = results / time.strftime("local-throughput-%Y%m%dT%H%M%SZ.json", time.gmtime())
    out.write_text(json.dumps(result, indent=2))
    print(f"raw results: {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
