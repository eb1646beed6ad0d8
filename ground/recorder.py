"""The recorder (``isru ground record``): everything a vehicle sends, into the archive.

:func:`record` is a plain MQTT client (it does not need the vehicle's
dictionary, so it records any build) with a persistent session, so that what the broker
received while the recorder was away is delivered when it comes back (up to the broker's
per-client queue; ``archive gaps`` shows anything that was lost anyway).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
from collections.abc import Callable
from pathlib import Path

import aiomqtt

from ground.archive import DEFAULT_BATCH, Archive
from ground.connection import (
    connect,
    disconnect,
    handing_over,
    login_options,
    reconnecting,
    run_until,
    until_disconnected,
)
from interface.broker import parse_broker
from interface.messages import MAX_PAYLOAD_BYTES, VEHICLE_PATTERN

FLUSH_INTERVAL_S = 0.2
#: Topics kept byte for byte in the custody tables (besides ``images/<name>``).
CUSTODY_TOPICS = ("samples/entry", "samples/head")


def _quiet(_: str) -> None:
    pass


async def record(
    *,
    broker: str,
    vehicle: str,
    archive_path: Path,
    stop: asyncio.Event,
    identifier: str | None = None,
    flush_interval_s: float = FLUSH_INTERVAL_S,
    batch: int = DEFAULT_BATCH,
    on_commit: Callable[[Archive], None] | None = None,
    log: Callable[[str], None] = _quiet,
    username: str | None = None,
    password: str | None = None,
    ca_file: Path | None = None,
) -> dict[str, int]:
    """Store everything under ``isru/<vehicle>/#`` in the archive until ``stop`` is set.

    Connects as ``isru-ground-recorder-<vehicle>`` (or ``identifier``) with
    ``clean_session=False`` and QoS 1, and reconnects with backoff whenever the broker goes
    away. Commits every ``batch`` rows and every ``flush_interval_s``; ``on_commit(archive)``
    runs after each commit that stored rows. Returns :meth:`Archive.counts` at the end, plus
    ``rejected``: the malformed messages of this run, ignored, and ``custody_<count>``
    (:attr:`ground.archive.custody.CustodyArchive.counts`). Ledger entries, the ledger's head
    and image chunks go to :attr:`Archive.custody`; a fork or a bad image is logged.
    ``username``, ``password`` and ``ca_file`` are the login, as for GroundClient; a refused
    login raises LoginRefused (it is not retried: a wrong password does not come right by
    waiting).
    """
    parse_broker(broker)
    login = login_options(broker, username=username, password=password, ca_file=ca_file)
    if not isinstance(vehicle, str) or not re.match(VEHICLE_PATTERN, vehicle):
        raise ValueError(f"vehicle: {vehicle!r} is not a vehicle name ({VEHICLE_PATTERN})")
    if not flush_interval_s > 0:
        raise ValueError(f"flush_interval_s: must be above 0, got {flush_interval_s!r}")
    prefix = f"isru/{vehicle}/"
    with Archive(archive_path, vehicle=vehicle, batch=batch) as archive:
        if on_commit is not None:
            archive.on_commit(lambda: on_commit(archive))
        intake = _Intake(archive, prefix, vehicle, log)
        flusher = asyncio.create_task(_flush_every(intake, flush_interval_s))

        def retrying(error: BaseException, delay: float) -> None:
            log(f"broker {broker}: {error}; retrying in {delay:g} s")

        async def wait(delay: float) -> None:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(delay):  # not wait_for: it can drop a cancel
                    await stop.wait()

        client: aiomqtt.Client | None = None
        try:
            while not stop.is_set():  # a session, then connecting until it works
                async for attempt in reconnecting(aiomqtt.MqttError, on_retry=retrying, sleep=wait):
                    with attempt:
                        if stop.is_set():
                            break
                        if client is None:
                            client = await connect(
                                broker,
                                f"{prefix}#",
                                username=username,
                                login=login,
                                identifier=identifier or f"isru-ground-recorder-{vehicle}",
                                clean_session=False,
                                queue_type=handing_over(intake.take),
                            )
                            log(f"recording {prefix}# from {broker} into {archive.path}")
                        else:
                            try:
                                await run_until(until_disconnected(client), stop, intake.failed)
                            except aiomqtt.MqttError:
                                await disconnect(client)
                                client = None
                                raise
                            if intake.error is not None:
                                raise intake.error
        finally:
            await disconnect(client)
            flusher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await flusher
            archive.flush()
        custody = {f"custody_{name}": n for name, n in archive.custody.counts.items()}
        return {**archive.counts(vehicle), "rejected": archive.rejected, **custody}


async def _flush_every(intake: _Intake, interval_s: float) -> None:
    while True:
        await asyncio.sleep(interval_s)
        try:
            intake.archive.flush()
        except Exception as exc:
            intake.error = exc
            intake.failed.set()
            return


class _Intake:
    """Hands every message to the archive as paho decodes it.

    ``take`` is given to aiomqtt through :func:`ground.connection.handing_over`: the usual
    ``client.messages`` iteration costs a task and an ``asyncio.wait`` per message, a third of
    the recorder's time at high rates, and can drop an acknowledged message when it is
    cancelled. An error while archiving (a full disk) is kept in ``error`` and sets
    ``failed``, never raised into paho's read loop.
    """

    def __init__(
        self, archive: Archive, prefix: str, vehicle: str, log: Callable[[str], None]
    ) -> None:
        self.archive = archive
        self.prefix = prefix
        self.vehicle = vehicle
        self.log = log
        self.error: Exception | None = None
        self.failed = asyncio.Event()

    def take(self, message: aiomqtt.Message) -> None:
        archive, prefix = self.archive, self.prefix
        topic, payload = message.topic.value, message.payload
        if not topic.startswith(prefix) or not isinstance(payload, bytes | bytearray):
            return
        if len(payload) > MAX_PAYLOAD_BYTES:
            archive.rejected += 1
            return
        suffix = topic[len(prefix) :]
        if suffix in CUSTODY_TOPICS or suffix.startswith("images/"):
            self._custody(suffix, bytes(payload))
            return
        try:
            document = json.loads(payload)
        except (ValueError, RecursionError):  # RecursionError: nested too deeply
            archive.rejected += 1
            return
        if not isinstance(document, dict):
            return
        try:
            archive.add(suffix, document)
        except Exception as exc:
            self.error = exc
            self.failed.set()

    def _custody(self, suffix: str, payload: bytes) -> None:
        """A ledger entry, the ledger's head or an image chunk: kept byte for byte; a problem
        (a fork, a bad image, a malformed message) is logged on one line."""
        custody = self.archive.custody
        try:
            if suffix == "samples/entry":
                problem = custody.add_entry(self.vehicle, payload)
            elif suffix == "samples/head":
                problem = custody.add_head(self.vehicle, payload)
            else:
                problem = custody.add_chunk(self.vehicle, suffix.removeprefix("images/"), payload)
        except Exception as exc:
            self.error = exc
            self.failed.set()
            return
        if problem is not None:
            self.log(problem)
