"""Scanner runtime: cold start and reload of the definitions, with clamd's memory (issue #6).

Run: ``.venv/bin/python -m bench.definitions`` (part of ``make bench``). For the offline set and
for a synthetic set of 1,000,000 hash signatures, it measures what a scanner container does:
cold start (download the published set from S3 — moto in-process here — and start clamd until
PING), then a reload after a new set is published (download, swap, RELOAD, PING). Baseline in the
same run: clamd started directly on the same files already on disk.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

os.environ.update(AWS_ACCESS_KEY_ID="bench", AWS_SECRET_ACCESS_KEY="bench", AWS_DEFAULT_REGION="ap-northeast-1")  # noqa: S106

import boto3
from moto import mock_aws

from bench.synthetic_db import write_synthetic_hdb
from chalicelib.clamav.engine import verify_engine
from chalicelib.clamav.process import ClamdLimits, ClamdProcess
from chalicelib.clamav.runtime import ScannerRuntime
from chalicelib.definitions.manifest import DefinitionFile, Manifest
from chalicelib.definitions.sources import count_signatures
from chalicelib.definitions.store import DefinitionsStore
from devstack.clamd import hash_signature, write_offline_database

BUCKET = "bench-manabiplus-app"
RUNS = 3


def memory_mib(pid: int) -> dict[str, float]:
    status = Path(f"/proc/{pid}/status").read_text().splitlines()
    values = {line.split(":")[0]: int(line.split()[1]) / 1024 for line in status if line.startswith(("VmRSS", "VmHWM"))}
    return {name: round(value, 1) for name, value in values.items()}


def release(directory: Path, synthetic: int, extra: tuple[str, ...] = ()) -> None:
    shutil.rmtree(directory, ignore_errors=True)
    write_offline_database(directory, extra_hashes=extra, manifest_name="index.json")
    if synthetic:
        synthetic_file = write_synthetic_hdb(directory, synthetic)
        index = json.loads((directory / "index.json").read_text())
        data = synthetic_file.read_bytes()
        index["files"].append(
            {"name": synthetic_file.name, "size": len(data), "sha256": hashlib.sha256(data).hexdigest()}
        )
        index["version"] += f"-synthetic-{synthetic}"
        (directory / "index.json").write_text(json.dumps(index))


def publish(store: DefinitionsStore, directory: Path) -> str:
    index = json.loads((directory / "index.json").read_text())
    files = [DefinitionFile(entry["name"], entry["size"], entry["sha256"]) for entry in index["files"]]
    manifest = count_signatures(Manifest(index["version"], index["built_at"], files, "bench"), directory)
    return store.publish(manifest, directory).version


def measure(synthetic: int, workdir: Path) -> dict[str, Any]:
    s3 = boto3.client("s3", region_name="ap-northeast-1")
    bucket = f"{BUCKET}-{synthetic}"
    s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": "ap-northeast-1"})
    store = DefinitionsStore(s3, bucket)
    source = workdir / "source"
    release(source, synthetic)
    publish(store, source)
    size = sum(path.stat().st_size for path in source.iterdir())
    results: dict[str, Any] = {
        "signatures": synthetic + 2,
        "bytes": size,
        "baseline": [],
        "cold": [],
        "reload": [],
        "engine_check": [],
    }
    for run in range(RUNS):
        began = time.monotonic()
        direct = ClamdProcess(workdir=workdir / f"direct-{run}", database_dir=source, limits=ClamdLimits()).start(600)
        results["baseline"].append(time.monotonic() - began)
        direct.stop()

        runtime = ScannerRuntime(store, workdir / f"runtime-{run}", ClamdLimits(), check_interval=0.0)
        began = time.monotonic()
        runtime.client()
        results["cold"].append(time.monotonic() - began)
        assert runtime._clamd and runtime._clamd.process
        pid = runtime._clamd.process.pid
        results["memory_after_cold"] = memory_mib(pid)
        published = store.current()
        assert published is not None
        began = time.monotonic()
        verify_engine(runtime._clamd.client(), published, runtime._clamd.signatures)  # again, to time it alone
        results["engine_check"].append(time.monotonic() - began)

        release(source, synthetic, extra=(hash_signature(f"release {run}".encode(), f"Bench.Release-{run}"),))
        publish(store, source)
        began = time.monotonic()
        runtime.client()
        results["reload"].append(time.monotonic() - began)
        results["memory_after_reload"] = memory_mib(pid)
        assert runtime._clamd.process.pid == pid, "reload restarted clamd"
        runtime.stop()
    return results


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="manabi-bench-defs-") as tmp, mock_aws():
        rows = [measure(count, Path(tmp) / f"set-{count}") for count in (0, 1_000_000)]
    print("== Scanner runtime: definitions cold start and reload ==")
    print(
        f"{'signatures':>11} {'size MiB':>9} {'clamd direct':>13} {'cold start':>11} {'ratio':>6} {'reload':>8}"
        f" {'engine check':>13} {'clamd RSS/peak after cold':>27} {'after reload':>14}"
    )
    for row in rows:
        base, cold, reload, check = (
            statistics.median(row[name]) for name in ("baseline", "cold", "reload", "engine_check")
        )
        after_cold, after_reload = row["memory_after_cold"], row["memory_after_reload"]
        print(
            f"{row['signatures']:>11,} {row['bytes'] / 2**20:>9.1f} {base:>12.3f}s {cold:>10.3f}s {cold / base:>5.2f}x"
            f" {reload:>7.3f}s {check * 1000:>11.1f}ms {after_cold['VmRSS']:>12.1f} / {after_cold['VmHWM']:<10.1f}"
            f" {after_reload['VmRSS']:>6.1f} / {after_reload['VmHWM']:.1f}"
        )
    print(
        f"(median of {RUNS} runs; memory in MiB; cold start = S3 download, verification, clamd start until PING"
        " and the engine check; reload includes the engine check; engine check = signature count + 4 canaries)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
