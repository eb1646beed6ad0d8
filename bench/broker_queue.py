"""What a persistent session's queue costs mosquitto while its client is away; prints one JSON.

A recorder-like client (persistent session, QoS 1) subscribes to ``isru/bench/#`` and leaves;
``--messages`` telemetry-sized messages are published at QoS 1; the broker's resident memory
is read before and after, then it is stopped (SIGTERM: it saves its database) and started
again, and the client comes back and counts what it gets. The broker runs with
``max_queued_messages`` as in ``deploy/mosquitto/mosquitto.conf``.

rss_per_message_bytes: growth of mosquitto's resident memory per queued message.
db_per_message_bytes: size of mosquitto.db per queued message (written on every autosave).
delivered: messages the client got when it came back (all of them, below the queue limit).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import tempfile
from pathlib import Path

import aiomqtt

from interface.broker import NODELAY
from isru.broker import Mosquitto

DEPLOY_CONF = Path(__file__).resolve().parents[1] / "deploy" / "mosquitto" / "mosquitto.conf"
#: A tm/elec message as the flight software sends it (docs/mqtt.md), about 310 bytes.
PAYLOAD = (
    b'{"schema":1,"time":"2026-11-22T00:01:29.323248Z","seq":10,"values":{'
    b'"elec.h2_pressure_kpa":152.5,"elec.o2_pressure_kpa":101.2,"elec.cell_temp_c":24.1,'
    b'"elec.cell_current_a":3.2,"elec.cell_voltage_v":1.9,"elec.state":"RUNNING",'
    b'"elec.vent_h2":false,"elec.vent_o2":false,"elec.uptime_ms":123456,"elec.link_up":true}}'
)
BATCH = 500
IDLE_S = 5.0


def queue_limit() -> int:
    found = re.search(r"^max_queued_messages (\d+)$", DEPLOY_CONF.read_text(), re.MULTILINE)
    assert found, f"no max_queued_messages in {DEPLOY_CONF}"
    return int(found[1])


def rss_bytes(pid: int | None) -> int:
    assert pid is not None
    status = Path(f"/proc/{pid}/status").read_text()
    found = re.search(r"^VmRSS:\s+(\d+) kB$", status, re.MULTILINE)
    assert found
    return int(found[1]) * 1024


def recorder(broker: Mosquitto) -> aiomqtt.Client:
    return aiomqtt.Client(
        broker.host,
        broker.port,
        identifier="bench-recorder",
        clean_session=False,
        socket_options=NODELAY,
        max_queued_incoming_messages=0,
    )


async def run(messages: int) -> dict[str, float | int]:
    limit = queue_limit()
    with tempfile.TemporaryDirectory() as tmp:
        broker = Mosquitto(
            Path(tmp),
            config=lambda b: b.default_config() + f"max_queued_messages {limit}\n",
        )
        async with broker:
            async with recorder(broker) as client:
                await client.subscribe("isru/bench/#", qos=1)
            before = rss_bytes(broker.pid)
            async with aiomqtt.Client(broker.host, broker.port, socket_options=NODELAY) as pub:
                pub.pending_calls_threshold = BATCH  # no warning per publish of a batch
                for start in range(0, messages, BATCH):
                    count = min(BATCH, messages - start)
                    await asyncio.gather(
                        *(pub.publish("isru/bench/tm/elec", PAYLOAD, qos=1) for _ in range(count))
                    )
            after = rss_bytes(broker.pid)
            await broker.stop()
            db = (Path(tmp) / "mosquitto.db").stat().st_size
            await broker.start()
            delivered = 0
            async with recorder(broker) as client:
                while True:
                    try:
                        async with asyncio.timeout(IDLE_S):
                            await anext(client.messages)
                    except TimeoutError:
                        break
                    delivered += 1
    return {
        "max_queued_messages": limit,
        "messages": messages,
        "payload_bytes": len(PAYLOAD),
        "rss_per_message_bytes": round((after - before) / messages),
        "db_per_message_bytes": round(db / messages),
        "delivered": delivered,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=100_000)
    args = parser.parse_args()
    print(json.dumps(asyncio.run(run(args.messages))))


if __name__ == "__main__":
    main()
