"""How long the local stack takes to become ready, and upload-to-verdict latency of a small file.

Run: ``.venv/bin/python -m bench.local_stack`` (part of ``make bench``). Starts the stack as
``make run`` does (on free ports, in a temporary state directory), signs up one learner, then
uploads small files through the API and the presigned POST and polls until the verdict is
visible. Baseline in the same run: clamd's own INSTREAM time for the same bytes, so the ratio
shows what the pipeline (event, workflow, tags, record, API) adds to the engine.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from devstack.local import launch

ROOT = Path(__file__).resolve().parent.parent


def _start(state_dir: Path) -> tuple[subprocess.Popen[bytes], dict[str, Any], float]:
    began = time.monotonic()
    process = launch(state_dir)
    wall = time.monotonic() - began
    return process, json.loads((state_dir / "stack.json").read_text()), wall


def _stop(process: subprocess.Popen[bytes]) -> None:
    process.send_signal(signal.SIGINT)
    process.wait(60)


def measure_ready(runs: int, workdir: Path) -> list[dict[str, Any]]:
    results = []
    for run in range(runs):
        process, info, wall = _start(workdir / f"ready-{run}")
        try:
            results.append({"wallSeconds": round(wall, 3), "phaseSeconds": info["phaseSeconds"]})
        finally:
            _stop(process)
    return results


def measure_latency(samples: int, size: int, workdir: Path) -> dict[str, Any]:
    from chalicelib.clamav.client import ClamdClient
    from manabi_cli.api import resolve_target
    from manabi_cli.session import Session

    state_dir = workdir / "latency"
    process, info, _ = _start(state_dir)
    os.environ["MANABI_STATE_DIR"] = str(state_dir)
    os.environ["MANABI_HOME"] = str(workdir / "home")
    try:
        target = resolve_target(None, None, None, None)
        cognito = target.cognito()
        cognito.sign_up("bench", "bench@example.jp", "Manabi+2026")
        cognito.confirm_locally("bench")
        session = Session.default()
        tokens = cognito.login("bench", "Manabi+2026")
        session.save(target.api_url, {"username": "bench", **tokens, **target.session_fields()})
        api = target.api(session)
        clamd = ClamdClient(info["clamd"])
        end_to_end, engine = [], []
        for _ in range(samples):
            content = os.urandom(size)
            sample = workdir / "sample.bin"
            sample.write_bytes(content)
            began = time.monotonic()
            created = api.post("/files", {"name": "sample.bin", "size": size})
            api.upload(created["upload"], sample, lambda done: None)
            while api.get(f"/files/{created['file']['id']}")["scanStatus"] not in {"CLEAN", "INFECTED", "ERROR"}:
                time.sleep(0.01)
            end_to_end.append(time.monotonic() - began)
            began = time.monotonic()
            clamd.instream([os.urandom(size)])
            engine.append(time.monotonic() - began)
        return {"samples": samples, "bytes": size, "endToEndSeconds": end_to_end, "clamdInstreamSeconds": engine}
    finally:
        _stop(process)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--ready-runs", type=int, default=3)
    parser.add_argument("--samples", type=int, default=20)
    parser.add_argument("--size", type=int, default=4096)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="manabi-bench-") as tmp:
        workdir = Path(tmp)
        ready = measure_ready(args.ready_runs, workdir)
        latency = measure_latency(args.samples, args.size, workdir)
    walls = [run["wallSeconds"] for run in ready]
    e2e = sorted(latency["endToEndSeconds"])
    engine = sorted(latency["clamdInstreamSeconds"])
    print("== Local stack: time to ready (make run) ==")
    print(f"runs {len(walls)}: min {min(walls):.2f} s, median {statistics.median(walls):.2f} s, max {max(walls):.2f} s")
    print(
        "phases (median s):",
        {
            name: round(statistics.median(run["phaseSeconds"][name] for run in ready), 3)
            for name in ready[0]["phaseSeconds"]
        },
    )
    print(f"== Upload-to-verdict, {args.size} B, {args.samples} samples ==")
    print(
        f"end to end: min {e2e[0] * 1000:.0f} ms, median {statistics.median(e2e) * 1000:.0f} ms, "
        f"p90 {e2e[int(len(e2e) * 0.9) - 1] * 1000:.0f} ms"
    )
    print(f"clamd INSTREAM alone (baseline): median {statistics.median(engine) * 1000:.1f} ms")
    print(f"ratio end-to-end / engine (median): {statistics.median(e2e) / statistics.median(engine):.0f}x")
    results = ROOT / "bench" / "results"
    results.mkdir(parents=True, exist_ok=True)
    out = results / time.strftime("local-stack-%Y%m%dT%H%M%SZ.json", time.gmtime())
    out.write_text(json.dumps({"ready": ready, "latency": latency}, indent=2))
    print(f"raw results: {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
