"""Custody ledger figures on a temp file beside the working directory; prints one JSON.

append_per_s: entries appended per second by CustodyStore (each written and fsync'd).
open_entries_per_s: entries per second read and verified when the ledger is opened (every
signature and link checked, as on boot).
verify_package_s: seconds to verify the package of a sample of --per-sample entries.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from flight.custody_store import CustodyStore
from interface.custody import Kind, Measured, package_files, verify_package, write_files
from tests.custody_cases import collected

T0 = datetime(2026, 5, 1, tzinfo=UTC)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=2000)
    parser.add_argument("--per-sample", type=int, default=200)
    args = parser.parse_args()
    key = Ed25519PrivateKey.generate()
    with tempfile.TemporaryDirectory(dir=Path.cwd()) as tmp:
        path = Path(tmp) / "custody.jsonl"
        with CustodyStore.open(path, key=key, vehicle="bench") as store:
            started = time.perf_counter()
            for n in range(args.entries):
                when = T0 + timedelta(seconds=n)
                if n % args.per_sample == 0:
                    store.collect(collected(), mission=when, utc=when)
                else:
                    mass = Measured(mass_g=n, sigma_g=0.1, calibration="LC")
                    store.append(store.samples[-1], Kind.MEASURED, mass, mission=when, utc=when)
            append_s = time.perf_counter() - started
            first = [s for s in store.entries if s.entry.sample == store.samples[0]]
        started = time.perf_counter()
        with CustodyStore.open(path, key=key, vehicle="bench") as store:
            opened = store.report.entries
        open_s = time.perf_counter() - started
        size = path.stat().st_size
        write_files(Path(tmp) / "pkg", package_files(first, key.public_key(), {}))
        started = time.perf_counter()
        assert verify_package(Path(tmp) / "pkg").ok
        package_s = time.perf_counter() - started
    print(
        json.dumps(
            {
                "entries": opened,
                "ledger_bytes_per_entry": round(size / opened),
                "append_per_s": round(args.entries / append_s),
                "open_entries_per_s": round(opened / open_s),
                "verify_package_s": round(package_s, 4),
                "package_entries": len(first),
            }
        )
    )


if __name__ == "__main__":
    main()
