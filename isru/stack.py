"""The SIL stack as a library: broker, simulator and ``isru flight`` started together, watched,
and stopped in the reverse order (``isru sil``, the ``sil`` pytest fixture, the tests)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path

import aiomqtt

from interface.broker import NODELAY, parse_broker
from interface.custody import generate_signing_key_file
from isru.broker import Mosquitto, mosquitto_available
from isru.children import ChildProcess
from isru.embedded_broker import EmbeddedBroker
from isru.sim_child import SimChild

ONLINE_TIMEOUT_S = 30.0
#: Real seconds the flight has to stop after SIGTERM (it safes the payload) before SIGKILL.
FLIGHT_STOP_S = 15.0
#: How often the stack's processes are checked for having exited on their own.
WATCH_PERIOD_S = 0.5


#: The SIL's dig site (a point near the lunar south pole: lat, lon, height, 1-sigma) and the
#: simulated load cell's 1-sigma, signed into the custody ledger of every SIL run.
SIL_SITE = (-85.5, 31.2, -1200.0, 30.0)
SIL_MASS_SIGMA_G = 0.2


class SilError(Exception):
    """The stack could not be started; the message says which part and why."""


@contextlib.asynccontextmanager
async def _broker(
    url: str | None, workdir: Path, *, embedded: bool
) -> AsyncIterator[tuple[str, str, Mosquitto | None]]:
    """(url, what, our mosquitto if it is one) of the broker to use: the one named, our
    mosquitto, or an embedded one."""
    if url is not None:
        parse_broker(url)
        yield url, "given", None
    elif mosquitto_available() and not embedded:
        async with Mosquitto(workdir / "broker") as mosquitto:
            yield mosquitto.url, "mosquitto", mosquitto
    else:
        async with EmbeddedBroker() as own:
            yield own.url, "embedded amqtt", None


def _flight_config(
    path: Path,
    *,
    urls: dict[str, str],
    broker: str,
    vehicle: str,
    key: Path | None,
    time_scale: float,
    state: Path,
    camera: str | None = None,
) -> None:
    mqtt = f'key_file = "{key.resolve()}"' if key else "allow_unsigned = true"
    custody_key = path.parent / "custody.key"  # the vehicle's signing key, for this run
    if not custody_key.exists():
        generate_signing_key_file(custody_key)
    camera_url = f'url = "{camera}"' if camera else ""
    path.write_text(
        f"""# Written by isru sil for this run.
vehicle = "{vehicle}"
time_scale = {time_scale}
[devices.scoop]
url = "{urls["scoop"]}"
[devices.elec]
url = "{urls["elec"]}"
[devices.oven]
url = "{urls["oven"]}"
[state]
dir = "{state}"
[mqtt]
broker = "{broker}"
{mqtt}
[samples]
key_file = "{custody_key}"
mass_sigma_g = {SIL_MASS_SIGMA_G}
calibration = "sim load cell (0.2 g noise)"
[samples.site]
frame = "MOON_ME"
lat_deg = {SIL_SITE[0]}
lon_deg = {SIL_SITE[1]}
height_m = {SIL_SITE[2]}
sigma_m = {SIL_SITE[3]}
[camera]
{camera_url}
"""
    )


class Stack:
    """The running stack: where the broker is, the simulator and the flight process."""

    def __init__(
        self,
        *,
        broker: str,
        vehicle: str,
        workdir: Path,
        sim: SimChild,
        mosquitto: Mosquitto | None = None,
    ) -> None:
        self.broker = broker
        #: Our own mosquitto, when the stack started one: tests stop and start it.
        self.mosquitto = mosquitto
        self.vehicle = vehicle
        self.workdir = workdir
        self.sim = sim
        self.flight: ChildProcess | None = None

    @property
    def flight_log(self) -> Path:
        return self.workdir / "flight.log"

    @property
    def flight_config(self) -> Path:
        return self.workdir / "flight.toml"

    async def start_flight(self) -> None:
        """Start ``isru flight`` (see :meth:`spawn_flight`); return once its status says
        online."""
        await self.spawn_flight()
        await _wait_status(self, "online")

    async def spawn_flight(self) -> None:
        """Start ``isru flight`` on :attr:`flight_config`, its stderr appended to
        :attr:`flight_log`, without waiting for it."""
        self.flight = ChildProcess(
            [sys.executable, "-m", "isru.cli", "flight", "--config", str(self.flight_config)],
            name="flight",
            stdout="inherit",
            stderr=self.flight_log,
            # SIGTERM: it safes the actuators and flushes its state; SIGKILL after this long.
            stop_timeout_s=FLIGHT_STOP_S,
        )  # its own session (the default): stopped by us, in order, not by the terminal
        await self.flight.start()

    async def stop_flight(self, *, kill: bool = False) -> int | None:
        """SIGTERM (it safes the payload and says offline), or with ``kill`` SIGKILL (a crash:
        the broker publishes its last will); returns once its status says offline."""
        if self.flight is None or self.flight.returncode is not None:
            return None if self.flight is None else self.flight.returncode
        code = await (self.flight.kill() if kill else self.flight.stop())
        await _wait_status(self, "offline")
        return code

    async def restart_flight(self, *, kill: bool = False) -> None:
        """Stop the flight (see :meth:`stop_flight`) and start it again on the same config and
        state directory, as systemd would after a crash or a restart."""
        await self.stop_flight(kill=kill)
        await self.start_flight()

    def exited(self) -> str | None:
        """Which process of the stack has exited on its own, if one has."""
        if self.flight is not None and self.flight.returncode is not None:
            return f"flight exited (code {self.flight.returncode})"
        if self.sim.returncode is not None:
            return f"simulator exited (code {self.sim.returncode})"
        if self.mosquitto is not None and not self.mosquitto.running:
            return "broker exited"
        return None

    async def watch(self) -> str:
        """Return, saying which, once a process of the stack has exited on its own."""
        waits = [asyncio.ensure_future(self.sim.wait())]
        if self.flight is not None:
            waits.append(asyncio.ensure_future(self.flight.wait()))
        try:
            # The broker is checked each period (it is ours to watch only when it is mosquitto).
            while (gone := self.exited()) is None:
                await asyncio.wait(waits, timeout=WATCH_PERIOD_S)
            return gone
        finally:
            for wait in waits:
                wait.cancel()


@contextlib.asynccontextmanager
async def sil_stack(
    *,
    broker: str | None = None,
    vehicle: str = "sil",
    key: Path | None = None,
    time_scale: float = 1.0,
    embedded_broker: bool = False,
    announce: bool = False,
    ice_wt_pct: float | None = None,
    cell_params: str | None = None,
) -> AsyncIterator[Stack]:
    """Broker, simulator (with its fault control port) and flight, started in that order
    and stopped in the reverse; the flight process is stopped with SIGTERM so it safes.
    ``ice_wt_pct``: water ice in the regolith the simulated scoop digs (None: its default).
    ``cell_params``: the simulated cell's PEM parameter set, a file or a shipped set's name
    (None: the simulator's default), as ``isru sim --cell-params`` takes it."""
    if time_scale <= 0:
        raise ValueError(f"time_scale: must be positive, got {time_scale}")
    with tempfile.TemporaryDirectory(prefix="isru-sil-") as tmp:
        workdir = Path(tmp)
        sim_args = ["--link-dir", str(workdir), "--time-scale", str(time_scale)]
        sim_args += ["--camera-port", "0", "--vehicle", vehicle]
        if ice_wt_pct is not None:
            sim_args += ["--ice-wt-pct", str(ice_wt_pct)]
        if cell_params is not None:
            sim_args += ["--cell-params", cell_params]
        async with (
            _broker(broker, workdir, embedded=embedded_broker) as (url, what, mosquitto),
            SimChild(args=[*sim_args, "--control-port", "0"]) as sim,
        ):
            stack = Stack(
                broker=url, vehicle=vehicle, workdir=workdir, sim=sim, mosquitto=mosquitto
            )
            _flight_config(
                stack.flight_config,
                urls=sim.urls,
                broker=url,
                vehicle=vehicle,
                key=key,
                time_scale=time_scale,
                state=workdir / "state",
                camera=sim.camera,
            )
            if announce:
                print(f"broker  {url} ({what})", flush=True)
                print(f"vehicle {vehicle}", flush=True)
            try:
                await stack.start_flight()
                yield stack
            finally:
                if stack.flight is not None:
                    await stack.flight.stop()


async def _wait_status(stack: Stack, state: str) -> None:
    """Until the vehicle's retained status says ``state`` (online, offline)."""
    host, port = parse_broker(stack.broker)
    topic = f"isru/{stack.vehicle}/status"
    async with aiomqtt.Client(host, port, socket_options=NODELAY) as client:
        await client.subscribe(topic, qos=1)
        try:
            async with asyncio.timeout(ONLINE_TIMEOUT_S):
                async for message in client.messages:
                    status = json.loads(message.payload)  # type: ignore[arg-type]
                    if status.get("state") == state:
                        return
        except TimeoutError:
            log = stack.flight_log.read_text(errors="replace")[-2000:]
            raise SilError(
                f"flight did not say {state} within {ONLINE_TIMEOUT_S:g} s:\n{log}"
            ) from None
