"""The processes a benchmark run talks to: a moto S3 server on loopback, and /proc readings."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import IO, Any

import boto3
from botocore.config import Config

from chalicelib.clamav.process import terminate

LOOPBACK = "127.0.0.1"
REGION = "ap-northeast-1"
BUCKET = "manabi-bench"
MOTO_SERVER = Path(sys.executable).parent / "moto_server"
# Fake credentials, passed explicitly: the benchmark never looks for real ones.
FAKE_CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}


class BenchmarkError(RuntimeError):
    """A measured operation did not do what it should (wrong verdict, failed command, no server)."""


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((LOOPBACK, 0))
        return int(probe.getsockname()[1])


class MotoServer:
    """``moto_server`` from the venv on a free loopback port, logging to ``log_path``."""

    def __init__(self, log_path: Path) -> None:
        self.log_path = log_path
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    @property
    def endpoint(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    def start(self, ready_timeout: float = 30.0) -> MotoServer:
        env = {**os.environ, "MOTO_PORT": str(self.port)}
        self._log = self.log_path.open("wb")
        self.process = subprocess.Popen(
            [str(MOTO_SERVER), "-H", LOOPBACK, "-p", str(self.port)], stdout=self._log, stderr=self._log, env=env
        )
        deadline = time.monotonic() + ready_timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise BenchmarkError(f"moto_server exited with {self.process.returncode}; see {self.log_path}")
            try:
                socket.create_connection((LOOPBACK, self.port), timeout=0.2).close()
                return self
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise BenchmarkError(f"moto_server did not listen on {self.endpoint} within {ready_timeout}s")

    def stop(self, timeout: float = 10.0) -> None:
        if self.process is not None:
            terminate(self.process, timeout)
        if self._log is not None:
            self._log.close()

    def __enter__(self) -> MotoServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def s3_client(endpoint: str) -> Any:
    """A real boto3 S3 client pointed at the moto server."""
    config = Config(s3={"addressing_style": "path"}, retries={"mode": "standard", "max_attempts": 3})
    return boto3.client("s3", endpoint_url=endpoint, region_name=REGION, config=config, **FAKE_CREDENTIALS)


def create_versioned_bucket(s3: Any, bucket: str = BUCKET) -> None:
    s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": REGION})
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})


def proc_status_kib(pid: int | str, fields: tuple[str, ...] = ("VmRSS", "VmHWM")) -> dict[str, int]:
    """Memory fields of /proc/<pid>/status, in KiB."""
    values: dict[str, int] = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, rest = line.partition(":")
        if name in fields:
            values[name] = int(rest.split()[0])
    return values
