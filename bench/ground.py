"""Ground figures in one JSON object: archive ingest, console memory and console lag.

Runs bench/ground_archive.py and bench/ground_console.py, each in its own process so that
neither's memory or CPU colours the other's figures, and merges what they print. They run
as ``python -m bench.<name>`` from the repository root: this file's own name would shadow
the ``ground`` package for a script started from inside bench/.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PARTS = ("bench.ground_archive", "bench.ground_console")


def run(script: str) -> dict[str, object]:
    result = subprocess.run(
        [sys.executable, "-m", script], cwd=ROOT, capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        raise SystemExit(f"{script} failed:\n{result.stderr}")
    figures: dict[str, object] = json.loads(result.stdout.strip().splitlines()[-1])
    return figures


def main() -> None:
    merged: dict[str, object] = {}
    for script in PARTS:
        merged.update(run(script))
    print(json.dumps(merged))


if __name__ == "__main__":
    main()
