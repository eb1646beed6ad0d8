"""``isru flight`` and ``isru dict`` as a user runs them: a real process, real ptys, signals."""

from __future__ import annotations

import asyncio
import json
import signal
import socket
import sys
from pathlib import Path

import pytest

from flight.state import StateStore
from interface.catalog import DICTIONARY
from isru.broker import Mosquitto
from isru.children import ChildProcess
from isru.dict_cli import main as dict_main
from isru.sim_child import SimChild
from tests.flightstack import flight_stack
from tests.ground_probe import ground_probe

READY_TIMEOUT_S = 20.0


def write_config(
    path: Path,
    urls: dict[str, str],
    state_dir: Path,
    extra: str = "",
    broker: str = "mqtt://127.0.0.1:1",
    mqtt: str = "allow_unsigned = true",
) -> Path:
    path.write_text(
        f"""
vehicle = "cli-test"
[mqtt]
broker = "{broker}"
{mqtt}
[devices.scoop]
url = "{urls["scoop"]}"
reconnect_s = 0.05
[devices.elec]
url = "{urls["elec"]}"
reconnect_s = 0.05
[devices.oven]
url = "{urls["oven"]}"
reconnect_s = 0.05
[state]
dir = "{state_dir}"
{extra}
"""
    )
    return path


async def receive_until(sock: socket.socket, wanted: str) -> list[str]:
    """Notification datagrams until one contains ``wanted``."""
    loop = asyncio.get_running_loop()
    seen: list[str] = []
    async with asyncio.timeout(READY_TIMEOUT_S):
        while not any(wanted in message for message in seen):
            seen.append((await loop.sock_recv(sock, 4096)).decode())
    return seen


def flight_process(config: Path, **env: str) -> ChildProcess:
    """``isru flight --config CONFIG`` with only ``env`` in its environment."""
    argv = [sys.executable, "-m", "isru.cli", "flight", "--config", str(config)]
    return ChildProcess(argv, name="flight", env=env, stop_timeout_s=READY_TIMEOUT_S)


async def test_flight_cli_notifies_ready_and_stops_cleanly_on_sigterm(
    tmp_path: Path, mosquitto: Mosquitto
) -> None:
    notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    notify.bind(str(tmp_path / "notify.sock"))
    notify.setblocking(False)
    state_dir = tmp_path / "state"
    async with SimChild(args=["--link-dir", str(tmp_path)]) as sim:
        config = write_config(tmp_path / "flight.toml", sim.urls, state_dir, broker=mosquitto.url)
        flight = flight_process(
            config, NOTIFY_SOCKET=str(tmp_path / "notify.sock"), WATCHDOG_USEC="2000000"
        )
        async with flight:  # its stderr is read all along: never full
            ready = await receive_until(notify, "READY=1")
            assert "boards up, mode SAFE" in ready[-1]
            await receive_until(notify, "WATCHDOG=1")  # pings come from the event loop
            flight.send_signal(signal.SIGTERM)
            await receive_until(notify, "STOPPING=1")
            async with asyncio.timeout(READY_TIMEOUT_S):
                code = await flight.wait()
            await flight.stop()  # exited: the rest of its output
    notify.close()
    stderr = "\n".join(flight.stderr_lines)
    assert code == 0, stderr
    assert "BOOT" in stderr
    assert "actuators safed, state flushed" in stderr
    assert "Traceback" not in stderr
    store = StateStore.in_dir(state_dir)
    store.load()
    assert store.boot_count == 1


async def test_flight_cli_last_will_says_offline_when_killed(
    tmp_path: Path, mosquitto: Mosquitto
) -> None:
    async with (
        SimChild(args=["--link-dir", str(tmp_path)]) as sim,
        ground_probe(mosquitto.host, mosquitto.port, "cli-test") as ground,
    ):
        config = write_config(tmp_path / "flight.toml", sim.urls, tmp_path, broker=mosquitto.url)
        async with flight_process(config) as flight:
            await ground.wait_for(
                lambda m: m.topic.endswith("/status") and m.payload["state"] == "online"
            )
            await flight.kill()
        offline = await ground.wait_for(
            lambda m: m.topic.endswith("/status") and m.payload["state"] == "offline"
        )
    assert offline.payload["dict_hash"] == DICTIONARY.hash


async def run_flight_to_exit(config: Path) -> tuple[int, str]:
    """Run ``isru flight`` that is expected to stop by itself: its exit code and stderr."""
    async with flight_process(config) as flight:
        async with asyncio.timeout(READY_TIMEOUT_S):
            code = await flight.wait()
        await flight.stop()  # exited: the rest of its output
    return code, "\n".join(flight.stderr_lines)


async def test_flight_cli_refuses_to_run_unsigned_unless_allowed(tmp_path: Path) -> None:
    config = write_config(
        tmp_path / "flight.toml",
        {"scoop": "/dev/ttyUSB0", "elec": "/dev/ttyUSB1", "oven": "/dev/ttyUSB2"},
        tmp_path,
        mqtt="",
    )
    code, stderr = await run_flight_to_exit(config)
    assert code == 78
    assert "mqtt.key_file: a command key is required" in stderr
    assert "Traceback" not in stderr


async def test_flight_cli_bad_config_names_the_key(tmp_path: Path) -> None:
    config = write_config(
        tmp_path / "flight.toml",
        {"scoop": "/dev/ttyUSB0", "elec": "ttyUSB1", "oven": "/dev/ttyUSB2"},
        tmp_path,
        extra="[telemetry]\nscoop_hz = -1\n",
    )
    code, stderr = await run_flight_to_exit(config)
    assert code == 78
    assert "devices.elec.url" in stderr
    assert "telemetry.scoop_hz" in stderr
    assert "Traceback" not in stderr


async def test_flight_cli_shutdown_safes_a_running_cell(tmp_path: Path) -> None:
    async with flight_stack(tmp_path) as stack:
        await stack.ok("MODE.IDLE")
        await stack.ok("ELEC.HEATER", enabled=True, setpoint_c=40.0)
        await stack.ok("ELEC.START", current_a=2.0)
        assert stack.sim.elec.current_on
        await stack.app.shutdown("stopped")
        assert not stack.sim.elec.current_on
        assert not stack.sim.elec.heater_enabled
        assert "SHUTDOWN" in stack.ids()


def test_flight_cli_dict_export_has_schemas_and_the_build_hash(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "dictionary.json"
    assert dict_main(["export", "-o", str(out)]) == 0
    document = json.loads(out.read_text())
    assert document["hash"] == DICTIONARY.hash
    dig = next(c for c in document["commands"] if c["name"] == "SCOOP.DIG")
    assert dig["args_schema"]["properties"]["depth_mm"]["maximum"] == 100
    assert any(c["name"] == "CORE.NOOP" for c in document["commands"])
    assert dict_main(["hash"]) == 0
    assert capsys.readouterr().out.strip() == DICTIONARY.hash


def test_flight_cli_dict_hash_is_stable_and_follows_content() -> None:
    from interface.catalog import build

    assert build().hash == DICTIONARY.hash
    changed = DICTIONARY.model_copy(update={"version": "9.9.9"})
    assert changed.model_dump() != DICTIONARY.model_dump()
    assert type(DICTIONARY).model_validate(changed.model_dump()).hash != DICTIONARY.hash
