"""Ground archive ingest from a live MQTT stream; prints one JSON object.

archive_ingest_per_s: telemetry samples stored per second by the recorder
(ground.recorder.record, in this process) from its first commit to its last (the first
commit's rows not counted), while a stand-in vehicle in another process publishes ``--count``
tm/elec messages (15 channels each) at QoS 1 through a real mosquitto as fast as the recorder
takes them. The broker (mosquitto from isru.broker) runs under a third process, which drains
its log, so that the recorder's process does only the recorder's work.
archive_ingest_wall_per_s: the same count over first publish to last commit.
recorder_cpu_us_per_sample: CPU time of the recorder's process per sample stored, over the
same span as archive_ingest_per_s: what the rate would be bound by on an idle machine.

The vehicle keeps at most ``--window`` messages ahead of what is stored (this process tells
it on its stdin): a broker queues only so many messages per subscriber (mosquitto drops
beyond ``max_queued_messages``, 1000 by default), so an unpaced publisher would measure
losses, not the archive. The run fails unless every message is stored exactly once.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import socket
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import cast

from bench.broker_child import broker_process
from ground.archive import Archive, format_time
from ground.recorder import record
from interface.broker import NODELAY
from isru.children import ChildProcess, ChildStartError

VEHICLE = "bench"
TOPIC = f"isru/{VEHICLE}/tm/elec"
TIMEOUT_S = 300.0


def payloads(count: int) -> list[bytes]:
    """``count`` realistic tm/elec messages, made before the clock starts."""
    t0 = datetime(2026, 11, 21, tzinfo=UTC)
    result = []
    for seq in range(1, count + 1):
        values = {
            "elec.cell_voltage_v": 1.8 + seq % 100 / 1000,
            "elec.cell_current_a": 2.0,
            "elec.current_setpoint_a": 2.0,
            "elec.cell_temp_c": 60.0 + seq % 7 / 10,
            "elec.heater_setpoint_c": 60.0,
            "elec.heater_power_w": 12.5,
            "elec.h2_pressure_kpa": 101.3 + seq / 1000,
            "elec.o2_pressure_kpa": 101.3 + seq / 2000,
            "elec.water_mass_g": 500.0 - seq / 10000,
            "elec.board_temp_c": 35.0,
            "elec.current_on": True,
            "elec.heater_on": True,
            "elec.water_valve_open": False,
            "elec.state": "RUNNING",
            "elec.uptime_ms": seq * 20,
        }
        time_text = format_time(t0 + timedelta(milliseconds=20 * seq))
        document = {"schema": 1, "time": time_text, "seq": seq, "values": values}
        result.append(json.dumps(document).encode())
    return result


def vehicle(host: str, port: int, count: int, window: int) -> None:
    """The stand-in vehicle (a child process): a plain paho client publishing at QoS 1,
    reading how many messages are stored from stdin, writing ``go`` when it starts."""
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    messages = payloads(count)
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="isru-bench-vehicle")
    client.max_inflight_messages_set(window)
    client.max_queued_messages_set(0)
    connected = threading.Event()
    client.on_connect = lambda *_: connected.set()
    client.on_socket_open = lambda _c, _u, sock: cast(socket.socket, sock).setsockopt(*NODELAY[0])
    client.connect(host, port)
    client.loop_start()
    if not connected.wait(10):
        raise SystemExit("vehicle: no CONNACK from the broker")
    print("go", flush=True)
    sent = stored = 0
    while sent < count:
        while sent - stored >= window:
            line = sys.stdin.readline()
            if not line:
                raise SystemExit("vehicle: the recorder went away")
            stored = int(line)
        for payload in messages[sent : min(count, stored + window)]:
            client.publish(TOPIC, payload, qos=1)
        sent = min(count, stored + window)
    sys.stdin.read()  # until the recorder is done
    client.loop_stop()
    client.disconnect()


async def run(count: int, window: int) -> dict[str, object]:
    with tempfile.TemporaryDirectory(prefix="isru-bench-") as tmp:
        work = Path(tmp)
        async with broker_process(work / "broker") as port:
            host, url = "127.0.0.1", f"mqtt://127.0.0.1:{port}"
            stop = asyncio.Event()
            subscribed = asyncio.Event()
            done = asyncio.Event()
            marks: dict[str, float] = {}
            argv = [sys.executable, "-m", "bench.ground_archive", "--vehicle", host, str(port)]
            argv += ["--count", str(count), "--window", str(window)]
            child = ChildProcess(
                argv,
                name="vehicle",
                stdin="pipe",
                stderr="inherit",
                ready=lambda line: line == "go",
                start_timeout_s=TIMEOUT_S,
            )

            def committed(archive: Archive) -> None:
                now, cpu = time.perf_counter(), time.process_time()
                if "first_stored" not in marks:
                    marks["first_stored"], marks["first_rows"] = now, archive.stored
                    marks["first_cpu"] = cpu
                marks["last_stored"], marks["last_cpu"] = now, cpu
                if child.stdin is not None:
                    child.stdin.write(f"{archive.stored}\n".encode())
                if archive.stored >= count:
                    done.set()

            def log(line: str) -> None:
                if line.startswith("recording "):
                    subscribed.set()

            recorder = asyncio.create_task(
                record(
                    broker=url,
                    vehicle=VEHICLE,
                    archive_path=work / "archive.db",
                    stop=stop,
                    on_commit=committed,
                    log=log,
                )
            )
            async with asyncio.timeout(TIMEOUT_S):
                await subscribed.wait()
                try:
                    await child.start()
                except ChildStartError:
                    raise SystemExit("the stand-in vehicle did not start") from None
                try:
                    marks["first_published"] = time.perf_counter()
                    await done.wait()
                    assert child.stdin is not None
                    child.stdin.close()  # the recorder is done: the vehicle ends
                    await child.wait()
                finally:
                    await child.stop()
                stop.set()
                counts = await recorder
    if counts["telemetry"] != count or child.returncode != 0:
        raise SystemExit(f"stored {counts}, vehicle exit status {child.returncode}")
    first, last = marks["first_stored"], marks["last_stored"]
    counted = count - marks["first_rows"]
    return {
        "archive_ingest_per_s": round(counted / (last - first)),
        "recorder_cpu_us_per_sample": round(
            (marks["last_cpu"] - marks["first_cpu"]) * 1e6 / counted, 1
        ),
        "archive_ingest_wall_per_s": round(count / (last - marks["first_published"])),
        "archive_samples": count,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=50_000)
    parser.add_argument("--window", type=int, default=800)
    parser.add_argument("--vehicle", nargs=2, metavar=("HOST", "PORT"), help=argparse.SUPPRESS)
    options = parser.parse_args()
    if options.vehicle:
        host, port = options.vehicle
        vehicle(host, int(port), options.count, options.window)
        return
    print(json.dumps(asyncio.run(run(options.count, options.window))))


if __name__ == "__main__":
    main()
