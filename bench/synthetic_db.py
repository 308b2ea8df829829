"""A large synthetic signature database: random MD5 hash signatures that match nothing real."""

from __future__ import annotations

import random
from pathlib import Path

SYNTHETIC_DB_NAME = "synthetic.hdb"
SYNTHETIC_SEED = 20260402
_LINES_PER_WRITE = 50_000


def write_synthetic_hdb(database_dir: Path, signatures: int, seed: int = SYNTHETIC_SEED) -> Path:
    """Write ``signatures`` lines ``md5hex:size:Synth.Hash-N`` (deterministic for a seed)."""
    rng = random.Random(seed)  # noqa: S311 (reproducible filler, not a secret)
    path = database_dir / SYNTHETIC_DB_NAME
    with path.open("w", encoding="ascii") as database:
        for start in range(0, signatures, _LINES_PER_WRITE):
            stop = min(start + _LINES_PER_WRITE, signatures)
            database.write(
                "".join(
                    f"{rng.randbytes(16).hex()}:{rng.randrange(1, 1 << 24)}:Synth.Hash-{number}\n"
                    for number in range(start, stop)
                )
            )
    return path
