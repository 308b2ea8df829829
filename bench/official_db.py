"""clamd with a synthetic database shaped like the official one (issue #14): cold start, RSS,
reload and scan MiB/s, to size the scanner's memory, timeout and ephemeral storage.

Run: ``.venv/bin/python -m bench.official_db`` (``--scale 0.1`` for a tenth of the size). The
official set (main + daily + bytecode) cannot be downloaded here; this one has the same number
of signatures per type (``OFFICIAL_SHAPE``), each random so it matches nothing real:

- file hashes (``.hdb`` MD5, ``.hsb`` SHA-256), PE section hashes (``.mdb``),
- body signatures (``.ndb``: 12 to 40 random bytes at any offset, some with a ``*`` wildcard),
  the kind that feeds the Aho-Corasick matcher and slows scanning; each has a target file type
  (``TARGETS``: most official body signatures apply to one type, PE above all, and are not
  matched against other content),
- logical signatures (``.ldb``: two random subsignatures joined by ``&``, same targets).

``--any-target`` makes every body and logical signature apply to every file: the worst case.

Bytecode signatures (``.cbc``, about a hundred) cannot be synthesised and are left out.
Baseline in the same run: the same clamd and limits with the project's offline set (2
signatures), so every figure is also a ratio to "no database".
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from chalicelib.clamav.process import ClamdLimits, ClamdProcess
from devstack.clamd import write_offline_database

ROOT = Path(__file__).resolve().parent.parent
SEED = 20261201
MIB = 1024 * 1024

# Signatures per type, approximating ClamAV's published totals (about 8.7 M in main + daily): the
# split by type is an estimate from the official files' relative sizes as reported by
# `sigtool --info` over the years, not a reading of today's files (unverified, no mirror access).
OFFICIAL_SHAPE = {
    "hdb": 4_400_000,  # MD5 of whole files
    "hsb": 600_000,  # SHA-256 of whole files
    "mdb": 3_300_000,  # PE section hashes
    "ndb": 300_000,  # extended body signatures
    "ldb": 100_000,  # logical signatures
}


# ClamAV target types: 0 any file, 1 PE, 3 HTML, 4 mail, 6 ELF, 7 ASCII text, 9 Mach-O. The split is
# an assumption (most official body signatures are PE-specific), not a count of today's files.
TARGETS = ((1, 0.60), (0, 0.15), (3, 0.08), (7, 0.07), (4, 0.04), (6, 0.04), (9, 0.02))


def _hex(rng: random.Random, count: int) -> str:
    return rng.randbytes(count).hex()


def write_shaped_database(
    directory: Path, scale: float = 1.0, seed: int = SEED, any_target: bool = False
) -> dict[str, int]:
    """The offline set plus ``OFFICIAL_SHAPE × scale`` random signatures; returns the counts."""
    rng = random.Random(seed)  # noqa: S311 - reproducible filler, not a secret
    kinds, weights = zip(*TARGETS, strict=True)

    def target() -> int:
        return 0 if any_target else int(rng.choices(kinds, weights)[0])

    directory.mkdir(parents=True, exist_ok=True)
    write_offline_database(directory)
    counts = {kind: int(count * scale) for kind, count in OFFICIAL_SHAPE.items()}
    writers = {
        "hdb": lambda n: f"{_hex(rng, 16)}:{rng.randrange(64, 1 << 24)}:Synth.Hdb-{n}\n",
        "hsb": lambda n: f"{_hex(rng, 32)}:{rng.randrange(64, 1 << 24)}:Synth.Hsb-{n}\n",
        "mdb": lambda n: f"{rng.randrange(512, 1 << 20)}:{_hex(rng, 16)}:Synth.Mdb-{n}\n",
        "ndb": lambda n: (
            f"Synth.Ndb-{n}:{target()}:*:{_hex(rng, rng.randrange(12, 24))}"
            + (f"*{_hex(rng, rng.randrange(6, 16))}" if n % 4 == 0 else "")
            + "\n"
        ),
        "ldb": lambda n: (
            f"Synth.Ldb-{n};Engine:51-255,Target:{target()};0&1;"
            f"{_hex(rng, rng.randrange(8, 16))};{_hex(rng, rng.randrange(8, 16))}\n"
        ),
    }
    for kind, count in counts.items():
        with (directory / f"synthetic.{kind}").open("w", encoding="ascii") as out:
            for start in range(0, count, 20_000):
                out.write("".join(writers[kind](n) for n in range(start, min(count, start + 20_000))))
    return counts


def _memory(pid: int) -> dict[str, float]:
    lines = Path(f"/proc/{pid}/status").read_text().splitlines()
    return {
        line.split(":")[0]: round(int(line.split()[1]) / 1024, 1)
        for line in lines
        if line.startswith(("VmRSS", "VmHWM"))
    }


class PeakSampler:
    """VmRSS sampled every 20 ms (a reload's peak is transient; VmHWM covers the whole life)."""

    def __init__(self, pid: int) -> None:
        self.pid, self.peak = pid, 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> PeakSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.peak = max(self.peak, _memory(self.pid).get("VmRSS", 0.0))
            except OSError:
                return
            self._stop.wait(0.02)


def _reload(clamd: ClamdProcess, timeout: float) -> int:
    """RELOAD, then PING until clamd logs the new database. Unlike ``ClamdProcess.reload`` (PING
    with the client's 60 s timeout), each PING may wait as long as the reload does: a
    non-concurrent reload of this database blocks clamd for longer than a minute."""
    since = clamd.log_size()
    clamd.client().reload()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        clamd.client(timeout).ping()
        count = clamd.loaded_signatures(since)
        if count is not None:
            return count
        time.sleep(0.05)
    raise RuntimeError(f"clamd did not reload within {timeout}s")


def measure(
    database: Path, workdir: Path, sizes: list[int], repetitions: int, concurrent_reload: bool = False
) -> dict[str, Any]:
    limits = ClamdLimits.for_scan_limit(max(sizes) * 2)
    # As the scanner runtime runs it (chalicelib/clamav/runtime.py), unless asked otherwise.
    extra = {"IdleTimeout": "2"} | ({} if concurrent_reload else {"ConcurrentDatabaseReload": "no"})
    began = time.monotonic()
    clamd = ClamdProcess(workdir=workdir, database_dir=database, limits=limits, extra_config=extra).start(1800)
    ready = time.monotonic() - began
    print(f"{database.name}: clamd ready in {ready:.1f}s", file=sys.stderr, flush=True)
    try:
        assert clamd.process is not None
        pid = clamd.process.pid
        result: dict[str, Any] = {
            "readySeconds": round(ready, 2),
            "signatures": clamd.loaded_signatures(),
            "memoryAtReady": _memory(pid),
            "scan": {},
        }
        client = clamd.client(600)
        for size in sizes:
            samples, replies = [], []
            for _ in range(repetitions):
                content = os.urandom(size)
                chunks = [content[offset : offset + MIB] for offset in range(0, size, MIB)]
                start = time.monotonic()
                reply = client.instream(chunks)
                samples.append(time.monotonic() - start)
                replies.append(reply)
                print(f"  {size // MIB} MiB: {samples[-1]:.2f}s {reply}", file=sys.stderr, flush=True)
            median = statistics.median(samples)
            result["scan"][str(size)] = {
                "replies": sorted(set(replies)),
                "seconds": [round(s, 4) for s in samples],
                "mibPerSecond": round(size / MIB / median, 1),
            }
        result["memoryAfterScans"] = _memory(pid)
        with PeakSampler(pid) as sampler:
            began = time.monotonic()
            result["reloadSignatures"] = _reload(clamd, 1800)
            result["reloadSeconds"] = round(time.monotonic() - began, 2)
        result["reloadPeakRssMiB"] = sampler.peak
        result["memoryAfterReload"] = _memory(pid)
        result["databaseBytes"] = sum(path.stat().st_size for path in database.iterdir())
        result["clamdTmpBytesPeak"] = "spooled INSTREAM data only (see docs)"
        return result
    finally:
        clamd.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--sizes", type=int, nargs="+", default=[MIB, 16 * MIB, 100 * MIB])
    parser.add_argument("--repetitions", type=int, default=3)
    parser.add_argument("--concurrent-reload", action="store_true", help="clamd's default (the runtime turns it off)")
    parser.add_argument("--any-target", action="store_true", help="every body signature applies to every file")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="manabi-officialdb-") as tmp:
        work = Path(tmp)
        began = time.monotonic()
        counts = write_shaped_database(work / "official", args.scale, any_target=args.any_target)
        print(f"generated {sum(counts.values())} signatures in {time.monotonic() - began:.0f}s", file=sys.stderr)
        generated = time.monotonic() - began
        offline = work / "offline"
        write_offline_database(offline)
        baseline = measure(offline, work / "clamd-offline", args.sizes, args.repetitions, args.concurrent_reload)
        shaped = measure(
            work / "official", work / "clamd-official", args.sizes, args.repetitions, args.concurrent_reload
        )
        shutil.rmtree(work / "official", ignore_errors=True)
    report = {
        "scale": args.scale,
        "counts": counts,
        "generateSeconds": round(generated, 1),
        "offline": baseline,
        "officialShape": shaped,
    }
    print(json.dumps(report, indent=2))
    for size in map(str, args.sizes):
        ratio = baseline["scan"][size]["mibPerSecond"] / shaped["scan"][size]["mibPerSecond"]
        print(
            f"{int(size) // MIB} MiB: offline {baseline['scan'][size]['mibPerSecond']} MiB/s, "
            f"official-shaped {shaped['scan'][size]['mibPerSecond']} MiB/s ({ratio:.1f}x slower)"
        )
    out = ROOT / "bench" / "results" / time.strftime("official-db-%Y%m%dT%H%M%SZ.json", time.gmtime())
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2))
    print(f"raw results: {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
