"""The local throughput benchmark's summary (bench/local_throughput.py): one ratio per repeat of
the client counts, and their median, for the stack and for clamd alone."""

from __future__ import annotations

from typing import Any

from bench.local_throughput import report


def _row(path: str, repeat: int, threads: int, rate: float) -> dict[str, Any]:
    return {
        "path": path,
        "repeat": repeat,
        "threads": threads,
        "files": 10,
        "filesPerSecond": rate,
        "p50Seconds": 0.1,
        "p90Seconds": 0.2,
        "errors": [],
        "cpuSecondsPerFile": {},
    }


def test_each_repeat_has_its_ratio_and_the_summary_is_their_median() -> None:
    rates = {1: (8.0, 26.0), 2: (8.0, 20.0), 3: (7.0, 21.7)}  # ratios 3.25, 2.5, 3.1
    rows = [
        _row(path, repeat, threads, rate if path == "local stack" else 100 * threads)
        for repeat, pair in rates.items()
        for threads, rate in zip((1, 8), pair, strict=True)
        for path in ("local stack", "clamd alone")
    ]
    text = report({"bytes": 65536, "pollSeconds": 0.1, "rounds": rows})
    assert "local stack: 8 clients / 1 client = 3.10x (median of 3.25x, 2.50x, 3.10x)" in text
    assert "clamd alone: 8 clients / 1 client = 8.00x" in text
    assert "repeat 2, 8 client(s): local stack / clamd alone = 0.0250" in text
