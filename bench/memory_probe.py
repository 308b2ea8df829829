"""Child process of the memory step: scans one large object and reports its own RSS as JSON.

Run by ``bench.scan_benchmark`` as ``python -m bench.memory_probe '<request json>'`` so that
moto's memory and the benchmark's buffers are not counted. A small warm-up scan first loads
every module and opens the connection pools, as in a warm Lambda container.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from pathlib import Path
from typing import Any

from bench.scanning import StoredObject, project_scanner, timed_scan
from bench.services import proc_status_kib, s3_client


def reset_peak_rss() -> bool:
    """Reset VmHWM to the current RSS (Linux ``clear_refs`` 5); False where that is not allowed."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


class RssSampler(threading.Thread):
    """Samples VmRSS every few milliseconds: a cross-check of VmHWM that needs no kernel support."""

    def __init__(self, interval_seconds: float = 0.005) -> None:
        super().__init__(daemon=True)
        self.interval_seconds = interval_seconds
        self.peak_kib = 0
        self._done = threading.Event()

    def run(self) -> None:
        while not self._done.is_set():
            self.peak_kib = max(self.peak_kib, proc_status_kib("self")["VmRSS"])
            self._done.wait(self.interval_seconds)

    def stop(self) -> int:
        self._done.set()
        self.join()
        return self.peak_kib


def probe(request: dict[str, Any]) -> dict[str, Any]:
    s3 = s3_client(request["endpoint"])
    scanner = project_scanner(s3, request["clamd_address"], Path(request["database_dir"]), request["max_scan_bytes"])
    cold = proc_status_kib("self")
    timed_scan(scanner, StoredObject(**request["warmup"]))
    sampler = RssSampler()
    sampler.start()
    before = proc_status_kib("self")
    peak_reset = reset_peak_rss()
    started = time.perf_counter()
    try:
        seconds = timed_scan(scanner, StoredObject(**request["target"]))
    finally:
        sampled_peak = sampler.stop()
    wall = time.perf_counter() - started
    after = proc_status_kib("self")
    return {
        "rss_before_warmup_kib": cold["VmRSS"],
        "rss_before_kib": before["VmRSS"],
        "hwm_before_kib": before["VmHWM"],
        "peak_reset": peak_reset,
        "rss_after_kib": after["VmRSS"],
        "hwm_after_kib": after["VmHWM"],
        "peak_growth_kib": after["VmHWM"] - before["VmRSS"],
        "sampled_peak_rss_kib": sampled_peak,
        "sampled_growth_kib": sampled_peak - before["VmRSS"],
        "scan_seconds": seconds,
        "wall_seconds": wall,
    }


def main() -> None:
    print(json.dumps(probe(json.loads(sys.argv[1]))))


if __name__ == "__main__":
    main()
