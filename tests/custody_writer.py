"""A vehicle that writes custody entries until it is killed: for the power-loss tests.

``python -m tests.custody_writer LEDGER`` opens the ledger with the tests' vehicle key, says
``opened N`` (its entries), then collects samples and weighs them for ever, saying
``appended SEQ`` once each entry is fsync'd. With ``--tear-after K`` its (K+1)-th entry is
written only half (what a power loss mid-write leaves on the disk), it says ``torn SEQ
BYTES``, and it waits to be killed. A write that fails (a full disk) ends it with ``failed
MESSAGE`` and exit status 3.
"""

from __future__ import annotations

import argparse
import os
import signal
from datetime import timedelta
from pathlib import Path

import flight.custody_store as custody_store
from flight.custody_store import CustodyStore, CustodyStoreError
from interface.custody import Kind, Measured
from tests.custody_cases import T0, VEHICLE, VEHICLE_KEY, collected


def tear(seq: int) -> None:
    def half(fd: int, data: bytes) -> None:
        os.write(fd, data[: len(data) // 2])
        os.fsync(fd)
        print(f"torn {seq} {len(data) // 2}", flush=True)
        while True:
            signal.pause()

    custody_store._write_all = half  # type: ignore[assignment]


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("ledger", type=Path)
    parser.add_argument("--tear-after", type=int)
    options = parser.parse_args()
    try:
        write(options.ledger, options.tear_after)
    except CustodyStoreError as exc:
        print(f"failed {exc}", flush=True)
        return 3
    return 0


def write(ledger: Path, tear_after: int | None) -> None:
    with CustodyStore.open(ledger, key=VEHICLE_KEY, vehicle=VEHICLE) as store:
        print(f"opened {store.report.entries}", flush=True)
        count = store.report.entries
        while True:
            if count == tear_after:
                tear(count)
            when = T0 + timedelta(seconds=count)
            if count % 2 == 0:
                signed = store.collect(collected(), mission=when, utc=when)
            else:
                mass = Measured(mass_g=count, sigma_g=0.1, calibration="LC-1")
                signed = store.append(
                    store.samples[-1], Kind.MEASURED, mass, mission=when, utc=when
                )
            print(f"appended {signed.entry.seq}", flush=True)
            count += 1


if __name__ == "__main__":
    raise SystemExit(main())
