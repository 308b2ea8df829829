"""Facts about the machine and software a benchmark ran on."""

from __future__ import annotations

import os
import platform
import subprocess
from importlib import metadata
from pathlib import Path

from devstack.clamd import CLAMD_BINARY


def _cpuinfo_field(name: str) -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        key, _, value = line.partition(":")
        if key.strip() == name:
            return value.strip()
    return "unknown"


def _mem_total_gib() -> float:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            return round(int(line.split()[1]) / 1024 / 1024, 1)
    return 0.0


def _command_output(*command: str) -> str:
    try:
        return subprocess.run(command, capture_output=True, text=True, timeout=30, check=False).stdout.strip()
    except OSError as error:
        return f"unavailable: {error}"


def _os_release() -> str:
    for line in Path("/etc/os-release").read_text().splitlines():
        if line.startswith("PRETTY_NAME="):
            return line.partition("=")[2].strip('"')
    return platform.platform()


def load_average() -> str:
    """1, 5 and 15 minute load averages: other work on the machine shows up here as noise."""
    return " ".join(f"{load:.2f}" for load in os.getloadavg())


def machine_facts() -> dict[str, str | int | float]:
    return {
        "load_average_at_start": load_average(),
        "cpu_model": _cpuinfo_field("model name"),
        "logical_cpus": os.cpu_count() or 0,
        "usable_cpus": len(os.sched_getaffinity(0)),
        "memory_gib": _mem_total_gib(),
        "os": _os_release(),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "clamd": _command_output(CLAMD_BINARY, "--version"),
        "clamdscan": _command_output("clamdscan", "--version").split("ERROR")[0].strip(),
        "clamscan": _command_output("clamscan", "--version"),
        "boto3": metadata.version("boto3"),
        "moto": metadata.version("moto"),
    }
