"""Readable tables of one benchmark run, printed as each step finishes."""

from __future__ import annotations

from typing import Any

from bench.memory import GROWTH_TARGET_MIB, MemoryResult
from bench.per_file import SPEEDUP_TARGET, PerFileResult
from bench.stats import human_size, mib, ms
from bench.throughput import RATIO_TARGET, ThroughputResult


def _verdict(met: bool) -> str:
    return "met" if met else "NOT MET"


def _table(header: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(row[column]) for row in [header, *rows]) for column in range(len(header))]
    lines = [header, ["-" * width for width in widths], *rows]
    return "\n".join("  ".join(cell.rjust(width) for cell, width in zip(line, widths, strict=True)) for line in lines)


def section(title: str) -> None:
    print(f"\n== {title} ==", flush=True)


def print_facts(title: str, facts: dict[str, Any]) -> None:
    section(title)
    for name, value in facts.items():
        print(f"{name:>24}: {value}")


def print_throughput(result: ThroughputResult) -> None:
    section("1. Per-object scan time: scanner (S3 GET over loopback -> INSTREAM) vs clamdscan --stream")
    header = [
        "size",
        "reps",
        "scanner min/med ms",
        "clamdscan min/med ms",
        "MiB/s scanner",
        "ratio",
        "paired",
        "target",
    ]
    rows = []
    for size in result.sizes:
        target = f"<= {RATIO_TARGET}: {_verdict(size.ratio <= RATIO_TARGET)}" if size.target_applies else "-"
        rows.append(
            [
                size.label,
                str(len(size.scanner.samples)),
                f"{ms(size.scanner.min)} / {ms(size.scanner.median)}",
                f"{ms(size.clamdscan.min)} / {ms(size.clamdscan.median)}",
                f"{mib(size.size) / size.scanner.median:.1f}",
                f"{size.ratio:.2f}",
                f"{size.paired_ratio:.2f}",
                target,
            ]
        )
    print(_table(header, rows))
    print("ratio = scanner median / clamdscan median; paired = median of per-repetition ratios (same bytes)")
    print(f"clamdscan: {result.clamdscan_command}")


def print_per_file(result: PerFileResult) -> None:
    section(f"2. {result.files} files of {human_size(result.file_bytes)}: clamscan per file vs scanner")
    header = ["method", "total s", "per file min/med ms"]
    rows = [
        ["clamscan, one process per file", f"{sum(result.clamscan.samples):.2f}"],
        ["scanner, clamd loaded once", f"{sum(result.scanner.samples):.3f}"],
    ]
    for row, timing in zip(rows, (result.clamscan, result.scanner), strict=True):
        row.append(f"{ms(timing.min)} / {ms(timing.median)}")
    print(_table(header, rows))
    met = result.speedup >= SPEEDUP_TARGET
    print(f"speed-up {result.speedup:.0f}x (target >= {SPEEDUP_TARGET:.0f}x: {_verdict(met)})")
    rss = ", ".join(f"{kib / 1024:.0f}" for kib in result.clamd_ready_rss_kib)
    print(
        f"database: {result.synthetic_signatures:,} synthetic MD5 + offline signatures "
        f"(clamscan reports {', '.join(str(n) for n in sorted(result.loaded_signatures))} known), "
        f"generated in {result.database_seconds:.1f} s"
    )
    print(
        f"clamd ready with it: min {result.clamd_ready.min:.2f} / median {result.clamd_ready.median:.2f} s "
        f"(n={len(result.clamd_ready.samples)}), RSS at ready {rss} MiB"
    )
    print(f"clamscan: {result.clamscan_command}")


def print_memory(result: MemoryResult) -> None:
    section(f"3. Memory: scanner process scanning a {human_size(result.object_bytes)} object")
    child = result.child
    rows = [
        ["scanner VmRSS before the 4 KiB warm-up scan", f"{child['rss_before_warmup_kib'] / 1024:.1f}"],
        ["scanner VmRSS before (after warm-up)", f"{child['rss_before_kib'] / 1024:.1f}"],
        ["scanner VmHWM after", f"{child['hwm_after_kib'] / 1024:.1f}"],
        ["scanner peak growth (VmHWM after - VmRSS before)", f"{result.growth_mib:.1f}"],
        ["cross-check: highest VmRSS sampled every 5 ms - VmRSS before", f"{child['sampled_growth_kib'] / 1024:.1f}"],
        ["clamd VmRSS idle", f"{result.clamd_idle_kib['VmRSS'] / 1024:.1f}"],
        ["clamd VmHWM after scan", f"{result.clamd_after_kib['VmHWM'] / 1024:.1f}"],
    ]
    print(_table(["measure", "MiB"], rows))
    met = result.growth_mib <= GROWTH_TARGET_MIB
    print(f"target: growth <= {GROWTH_TARGET_MIB} MiB: {_verdict(met)}")
    print(
        f"scan took {child['scan_seconds']:.1f} s ({mib(result.object_bytes) / child['scan_seconds']:.0f} MiB/s); "
        f"peak reset before scan: {child['peak_reset']}; upload to moto took {result.upload_seconds:.1f} s"
    )


def print_targets(throughput: ThroughputResult, per_file: PerFileResult, memory: MemoryResult) -> None:
    section("Targets")
    for size in throughput.sizes:
        if size.target_applies:
            print(
                f"scanner/clamdscan at {size.label}: {size.ratio:.2f} <= {RATIO_TARGET}: "
                f"{_verdict(size.ratio <= RATIO_TARGET)}"
            )
    print(
        f"speed-up over clamscan per file: {per_file.speedup:.0f}x >= {SPEEDUP_TARGET:.0f}x: "
        f"{_verdict(per_file.speedup >= SPEEDUP_TARGET)}"
    )
    growth = memory.growth_mib
    print(
        f"peak RSS growth at {human_size(memory.object_bytes)}: {growth:.1f} MiB <= {GROWTH_TARGET_MIB} MiB: "
        f"{_verdict(growth <= GROWTH_TARGET_MIB)}"
    )
