"""Benchmark of issue #2: scanner vs clamdscan, clamscan per file, and memory at 1 GiB.

Run with ``make bench`` (``python -m bench.scan_benchmark``). Starts a moto S3 server and
private clamd processes on loopback, prints tables as it goes, and writes every raw sample to
``bench/results/<timestamp>.json``. Results and caveats: docs/PERFORMANCE.md.
"""

from __future__ import annotations

import argparse
import json
import shutil
import signal
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import report
from bench.machine import load_average, machine_facts
from bench.memory import run_memory
from bench.per_file import run_per_file
from bench.plan import FULL, NO_CLEAN_CACHE, QUICK, Plan, Workspace
from bench.services import MotoServer, create_versioned_bucket, s3_client
from bench.stats import human_size
from bench.throughput import run_throughput
from chalicelib.scanning.scanner import CHUNK_BYTES
from devstack.clamd import write_offline_database

RESULTS_DIR = Path(__file__).resolve().parent / "results"


def configuration(plan: Plan) -> dict[str, Any]:
    return {
        "plan": plan.name,
        "throughput sizes (reps)": ", ".join(f"{human_size(size)} ({reps})" for size, reps in plan.sizes),
        "throughput clamd limits": plan.throughput_limits,
        "small files": f"{plan.small_files} x {human_size(plan.small_file_bytes)}",
        "synthetic signatures": f"{plan.synthetic_signatures:,}",
        "memory object": human_size(plan.memory_object_bytes),
        "memory clamd limits": plan.memory_limits,
        "clamd extra config": NO_CLEAN_CACHE,
        "scanner chunk bytes": CHUNK_BYTES,
        "S3": "moto_server on 127.0.0.1, boto3 client, versioned bucket",
    }


def run_steps(workdir: Path, plan: Plan) -> dict[str, Any]:
    offline_db = workdir / "db-offline"
    write_offline_database(offline_db)
    with MotoServer(workdir / "moto.log") as moto:
        s3 = s3_client(moto.endpoint)
        create_versioned_bucket(s3)
        workspace = Workspace(workdir, s3, moto.endpoint)
        throughput = run_throughput(workspace, plan, offline_db)
        report.print_throughput(throughput)
        per_file = run_per_file(workspace, plan)
        report.print_per_file(per_file)
        memory = run_memory(workspace, plan, offline_db)
        report.print_memory(memory)
    report.print_targets(throughput, per_file, memory)
    return {"throughput": throughput.to_json(), "per_file": per_file.to_json(), "memory": memory.to_json()}


def write_results(results: dict[str, Any], started: datetime) -> Path:
    RESULTS_DIR.mkdir(exist_ok=True)
    path = RESULTS_DIR / f"{started.strftime('%Y%m%dT%H%M%SZ')}.json"
    path.write_text(json.dumps(results, indent=2, default=str) + "\n", encoding="utf-8")
    return path


def _stop_on_sigterm(signum: int, frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")  # unwinds every try/finally that stops a process


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "--quick", action="store_true", help="tiny sizes: checks the benchmark code, numbers mean nothing"
    )
    plan = QUICK if parser.parse_args(argv).quick else FULL
    signal.signal(signal.SIGTERM, _stop_on_sigterm)
    started = datetime.now(UTC)
    clock = time.perf_counter()
    facts = machine_facts()
    config = configuration(plan)
    report.print_facts("Machine", facts)
    report.print_facts("Configuration", config)
    workdir = Path(tempfile.mkdtemp(prefix="manabi-bench-"))
    try:
        steps = run_steps(workdir, plan)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    duration = time.perf_counter() - clock
    results = {
        "started_at": started.isoformat(),
        "duration_seconds": duration,
        "load_average_at_end": load_average(),
        "machine": facts,
        "plan": plan.to_json(),
        "configuration": config,
        **steps,
    }
    path = write_results(results, started)
    print(f"\nbenchmark took {duration:.0f} s (load average at end: {results['load_average_at_end']})")
    print(f"raw results: {path}")


if __name__ == "__main__":
    main()
