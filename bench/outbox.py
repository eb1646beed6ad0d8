"""Outbox figures on a temp file (WAL, synchronous=NORMAL unless --sync full); prints one JSON.

put_per_s: single puts, each its own transaction, as telemetry arrives while the broker is away.
put_many_per_s: rows per second stored by put_many in batches of --batch.
peek_remove_per_s: rows per second replayed from a box of --rows rows as the replayer does when
the broker comes back: peek(REPLAY_READ, after_id=...) pages, each removed in one remove() call.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from flight.mqtt import Outbox, Priority
from flight.mqtt.replay import REPLAY_READ

PAYLOAD = b'{"time": "2025-01-02T03:04:05.678Z", "seq": 123456, "values": {"x": 1.25}}' * 3


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--puts", type=int, default=20_000)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--sync", choices=("normal", "full"), default="normal")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        with Outbox(Path(tmp) / "single.db", sync=args.sync) as box:
            started = time.perf_counter()
            for _ in range(args.puts):
                box.put("isru/testbed-1/tm/scoop", PAYLOAD, priority=Priority.LOW)
            put_per_s = args.puts / (time.perf_counter() - started)
        with Outbox(Path(tmp) / "batch.db", sync=args.sync) as box:
            batch = [("isru/testbed-1/tm/scoop", PAYLOAD, Priority.LOW)] * args.batch
            started = time.perf_counter()
            for _ in range(args.rows // args.batch):
                box.put_many(batch)
            put_many_per_s = len(box) / (time.perf_counter() - started)
            started = time.perf_counter()
            replayed = after = 0
            while rows := box.peek(REPLAY_READ, after_id=after):
                after = rows[-1].id
                box.remove(row.id for row in rows)
                replayed += len(rows)
            peek_remove_per_s = replayed / (time.perf_counter() - started)
            assert len(box) == 0 and replayed == args.rows // args.batch * args.batch
    print(
        json.dumps(
            {
                "sync": args.sync,
                "payload_bytes": len(PAYLOAD),
                "put_per_s": round(put_per_s),
                "put_many_per_s": round(put_many_per_s),
                "peek_remove_per_s": round(peek_remove_per_s),
            }
        )
    )


if __name__ == "__main__":
    main()
