"""What 1,000 scans cost in ap-northeast-1, next to GuardDuty Malware Protection for S3 (issue #14).

Run: ``.venv/bin/python -m bench.cost`` (a few minutes; ``--quick`` for a smoke run). Every
quantity is measured here, in this run:

- **state transitions per path**, counted from real executions of
  ``statemachines/scan-object.asl.json`` (moto's executor, the real upload handler, the real
  scanner and clamd): CLEAN, INFECTED, UNSCANNABLE, ERROR, and an upload whose record is gone;
- **S3, DynamoDB, SNS (and so KMS) requests per path**, counted from the same executions' task
  states and the scanner's own reads;
- **scanner seconds per size** (100 KB, 1 MiB, 10 MiB, 100 MiB): the real scanner reading
  the object from moto over loopback into clamd, median of ``--repetitions``. With
  ``--database-slowdown FILE`` (a ``bench/results/official-db-*.json``), the scan part is
  multiplied by the slowdown measured with the official-size database.

Baseline in the same run: GuardDuty's price for the same objects. Each price is a constant with
its source and the date it was read; none could be re-read from this machine.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

os.environ.update(AWS_ACCESS_KEY_ID="bench", AWS_SECRET_ACCESS_KEY="bench", AWS_DEFAULT_REGION="ap-northeast-1")  # noqa: S106

ROOT = Path(__file__).resolve().parent.parent
KB, MIB, GB = 1000, 1024 * 1024, 1024**3
SIZES = {"100 KB": 100 * KB, "1 MiB": MIB, "10 MiB": 10 * MIB, "100 MiB": 100 * MIB}


@dataclass(frozen=True)
class Price:
    usd: float
    per: str
    source: str
    read: str


# The AWS pricing pages as known to the author; this machine cannot reach them (not re-read on
# 2026-12-01). Where only the us-east-1 figure was known, it says so: check the Tokyo page.
PRICES = {
    "sfn_transition": Price(
        0.025 / 1000,
        "state transition (Standard)",
        "aws.amazon.com/step-functions/pricing (us-east-1; Tokyo assumed equal)",
        "2025",
    ),
    "lambda_gb_second": Price(
        0.0000166667, "GB-second (x86)", "aws.amazon.com/lambda/pricing (Tokyo, x86, first 6 B GB-s tier)", "2025"
    ),
    "lambda_request": Price(0.20 / 1e6, "request", "aws.amazon.com/lambda/pricing", "2025"),
    "s3_put": Price(
        0.0047 / 1000,
        "PUT/COPY/POST/LIST request (PutObjectTagging included)",
        "aws.amazon.com/s3/pricing (Tokyo, Standard)",
        "2025",
    ),
    "s3_get": Price(0.00037 / 1000, "GET/HEAD request", "aws.amazon.com/s3/pricing (Tokyo, Standard)", "2025"),
    "sns_publish": Price(0.50 / 1e6, "publish", "aws.amazon.com/sns/pricing", "2025"),
    "kms_request": Price(0.03 / 10000, "request", "aws.amazon.com/kms/pricing", "2025"),
    "logs_ingest_gb": Price(0.76, "GB ingested", "aws.amazon.com/cloudwatch/pricing (Tokyo)", "2025"),
    "xray_trace": Price(5.00 / 1e6, "trace recorded", "aws.amazon.com/xray/pricing", "2025"),
    "guardduty_object": Price(
        0.215 / 1000, "object evaluated", "GuardDuty Malware Protection for S3 (2025 price list)", "2025"
    ),
    "guardduty_gb": Price(0.09, "GB scanned", "GuardDuty Malware Protection for S3 (2025 price list)", "2025"),
}
SCANNER_GB = 3072 / 1024  # the scanner's memory (infra/main/scan-workflow.yaml, ScannerMemorySize)
HANDLER_GB = 128 / 1024  # on_object_created (Chalice's default memory)
HANDLER_SECONDS = 0.1  # its billed duration: one StartExecution call (estimate, not measured here)
LOG_BYTES_PER_SCAN = 2000  # handler + scanner JSON lines, about (measured: two to four lines)
XRAY_SAMPLED = 0.05  # default sampling: 1 request/s reservoir + 5 %


SCAN_LIMIT = 256 * MIB  # every measured size is scanned, not refused as over the limit


def settings_for(clamd_address: str, database_dir: str) -> Any:
    from chalicelib.config import ScannerSettings

    return ScannerSettings(
        clamd_address=clamd_address,
        clamd_timeout_seconds=600.0,
        max_scan_bytes=SCAN_LIMIT,
        database_dir=database_dir,
        max_definitions_age_hours=48.0,
    )


def count_paths(clamd_address: str, database_dir: str) -> dict[str, dict[str, Any]]:
    """Run one upload per path through the real state machine; count what each one did."""
    import boto3
    from chalice.test import Client
    from moto import mock_aws

    from app import app
    from chalicelib.functions.scanner import handle_scan
    from chalicelib.wiring import build_scanner
    from devstack.clamd import EICAR
    from devstack.lambda_bridge import MOTO_CONFIG, LambdaBridge
    from devstack.resources import create_main_stack
    from tests.support.pipeline import REGION, Pipeline
    from tests.support.samples import encrypted_zip

    paths: dict[str, dict[str, Any]] = {}
    with mock_aws(config=MOTO_CONFIG):  # type: ignore[arg-type]
        session = boto3.Session(region_name=REGION)
        stack = create_main_stack(session, stage="local", region=REGION)
        scanner = build_scanner(settings_for(clamd_address, database_dir), session.client("s3", region_name=REGION))
        refuse = {"on": False}

        def scan(event: dict[str, Any], context: Any) -> dict[str, Any]:
            if refuse["on"]:  # what the scanner answers with stale definitions
                return {"verdict": "ERROR", "signature": "", "engine": "", "definitions": "", "sha256": "",
                        "bytes": 0, "seconds": 0.0, "reason": "definitions are older than 48 hours"}  # fmt: skip
            return handle_scan(event, scanner)

        with LambdaBridge() as bridge, Client(app, stage_name="local") as chalice:
            bridge.register(stack.scanner_function_arn, scan)
            pipeline = Pipeline(session, stack, chalice)
            cases = {
                "CLEAN": (b"homework\n", True),
                "INFECTED": (EICAR, True),
                "UNSCANNABLE": (encrypted_zip(b"secret"), True),
                "ERROR (scanner refuses)": (b"anything\n", True),
                "CLEAN, record gone": (b"orphan\n", False),
            }
            for index, (name, (body, with_record)) in enumerate(cases.items()):
                refuse["on"] = name.startswith("ERROR")
                key = f"uploads/user-1/cost-{index}"
                if with_record:
                    pipeline.register(key)
                version = pipeline.put(key, body)
                arn = pipeline.deliver(key, version, len(body))
                assert arn, name
                execution = pipeline.wait(arn)
                paths[name] = {"status": execution["status"], **_counts(pipeline.history(arn))}
    return paths


def _counts(history: list[dict[str, Any]]) -> dict[str, Any]:
    entered = [event["stateEnteredEventDetails"]["name"] for event in history if event["type"].endswith("StateEntered")]
    resources: Counter[str] = Counter()
    for event in history:
        details = event.get("taskScheduledEventDetails")
        if details:  # e.g. resourceType "aws-sdk:s3", resource "putObjectTagging"
            resources[f"{details['resourceType'].removeprefix('aws-sdk:')}:{details['resource']}"] += 1
    return {
        "states": entered,
        # Billed: each state executed (retries included), plus the start, as the issue counts it.
        "transitions": len(entered) + 1,
        "s3Tagging": resources["s3:putObjectTagging"],
        "dynamodbWrites": resources["dynamodb:updateItem"],
        "snsPublishes": resources["sns:publish"],
        "scannerInvocations": resources["lambda:invoke"],
    }


def scan_seconds(clamd_address: str, database_dir: str, repetitions: int, sizes: dict[str, int]) -> dict[str, float]:
    """Median seconds of the real scanner per size (object in moto, clamd on a Unix socket)."""
    import boto3
    from moto import mock_aws

    from chalicelib.wiring import build_scanner
    from tests.support.pipeline import REGION

    medians = {}
    with mock_aws():
        s3 = boto3.client("s3", region_name=REGION)
        s3.create_bucket(Bucket="cost", CreateBucketConfiguration={"LocationConstraint": REGION})
        s3.put_bucket_versioning(Bucket="cost", VersioningConfiguration={"Status": "Enabled"})
        scanner = build_scanner(settings_for(clamd_address, database_dir), s3)
        scanner.scan("cost", "warm", s3.put_object(Bucket="cost", Key="warm", Body=b"x")["VersionId"])
        for label, size in sizes.items():
            samples = []
            for _ in range(repetitions):
                version = s3.put_object(Bucket="cost", Key=label, Body=os.urandom(size))["VersionId"]
                began = time.monotonic()
                result = scanner.scan("cost", label, version)
                samples.append(time.monotonic() - began)
                assert result.verdict.value == "CLEAN" and result.bytes == size, result
            medians[label] = statistics.median(samples)
    return medians


def slowdown_of(path: Path | None) -> dict[int, float]:
    """Offline-set MiB/s over official-shaped MiB/s, per measured size (1 = not applied)."""
    if path is None:
        return {}
    report = json.loads(path.read_text())
    return {
        int(size): report["offline"]["scan"][size]["mibPerSecond"]
        / report["officialShape"]["scan"][size]["mibPerSecond"]
        for size in report["officialShape"]["scan"]
    }


def factor_for(size: int, slowdown: dict[int, float]) -> float:
    if not slowdown:
        return 1.0
    nearest = min(slowdown, key=lambda measured: abs(measured - size))
    return slowdown[nearest]


def cost_per_1000(path: dict[str, Any], size: int, seconds: float) -> dict[str, float]:
    p = {name: price.usd for name, price in PRICES.items()}
    n = 1000
    lambda_requests = path["scannerInvocations"] + 1  # the scanner and the upload handler
    items = {
        "Step Functions transitions": n * path["transitions"] * p["sfn_transition"],
        "Lambda (scanner GB-s + handler + requests)": n
        * (
            SCANNER_GB * seconds * path["scannerInvocations"] * p["lambda_gb_second"]
            + HANDLER_GB * HANDLER_SECONDS * p["lambda_gb_second"]
            + lambda_requests * p["lambda_request"]
        ),
        # Tagging PUTs; the scanner's GET (a ranged re-read only for appended zips: not counted).
        "S3 requests": n * (path["s3Tagging"] * p["s3_put"] + path["scannerInvocations"] * p["s3_get"]),
        # SSE-S3 objects need no KMS; each alert to the KMS-encrypted topic at most one data key.
        "SNS + KMS (alerts)": n * path["snsPublishes"] * (p["sns_publish"] + p["kms_request"]),
        "CloudWatch Logs + X-Ray": n * (LOG_BYTES_PER_SCAN / GB * p["logs_ingest_gb"] + XRAY_SAMPLED * p["xray_trace"]),
    }
    items["total"] = sum(items.values())
    items["GuardDuty"] = n * (p["guardduty_object"] + size / GB * p["guardduty_gb"])
    return items


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repetitions", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="small sizes, one repetition: checks the code only")
    parser.add_argument("--database-slowdown", type=Path, help="a bench/results/official-db-*.json to scale scan time")
    args = parser.parse_args()
    from devstack.clamd import ClamdProcess, write_offline_database

    sizes = {label: min(size, 64 * 1024) for label, size in SIZES.items()} if args.quick else SIZES
    with tempfile.TemporaryDirectory(prefix="manabi-cost-") as tmp:
        database = Path(tmp) / "db"
        write_offline_database(database)
        from chalicelib.clamav.process import ClamdLimits

        limits = ClamdLimits.for_scan_limit(SCAN_LIMIT)  # as the scanner's own clamd would run
        clamd = ClamdProcess(workdir=Path(tmp) / "clamd", database_dir=database, limits=limits).start()
        try:
            paths = count_paths(clamd.address, str(database))
            seconds = scan_seconds(clamd.address, str(database), 1 if args.quick else args.repetitions, sizes)
        finally:
            clamd.stop()
    slowdown = slowdown_of(args.database_slowdown)
    print("== State transitions per path (counted from executions of the real state machine) ==")
    for name, path in paths.items():
        print(
            f"{name:<26} {path['status']:<9} transitions {path['transitions']:>2}  states: {' → '.join(path['states'])}"
        )
    print("== Cost of 1,000 scans, CLEAN path, ap-northeast-1 (USD) ==")
    rows = {}
    for label, size in SIZES.items():
        scan = seconds[label] * factor_for(size, slowdown)
        rows[label] = {"scanSeconds": round(scan, 3), **cost_per_1000(paths["CLEAN"], size, scan)}
    items = [key for key in rows["100 KB"] if key != "scanSeconds"]
    print("| | " + " | ".join(SIZES) + " |")
    print("|---|" + "---|" * len(SIZES))
    print("| scanner seconds per scan | " + " | ".join(f"{rows[label]['scanSeconds']:.3f}" for label in SIZES) + " |")
    for item in items:
        bold = "**" if item in {"total", "GuardDuty"} else ""
        print(
            f"| {bold}{item}{bold} | " + " | ".join(f"{bold}${rows[label][item]:.4f}{bold}" for label in SIZES) + " |"
        )
    print(
        "| ratio total / GuardDuty | "
        + " | ".join(f"{rows[label]['total'] / rows[label]['GuardDuty']:.2f}" for label in SIZES)
        + " |"
    )
    infected = {
        label: cost_per_1000(paths["INFECTED"], SIZES[label], rows[label]["scanSeconds"])["total"] for label in SIZES
    }
    print("| total if every object were INFECTED | " + " | ".join(f"${infected[label]:.4f}" for label in SIZES) + " |")
    print("prices:")
    for name, price in PRICES.items():
        print(f"  {name}: ${price.usd:.10f} per {price.per} — {price.source}, read {price.read}")
    out = ROOT / "bench" / "results" / time.strftime("cost-%Y%m%dT%H%M%SZ.json", time.gmtime())
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"paths": paths, "scanSeconds": seconds, "slowdown": slowdown, "rows": rows}, indent=2))
    print(f"raw results: {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
