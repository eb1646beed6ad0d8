"""A plain MQTT client standing in for the ground in tests: it sends commands, collects all."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import aiomqtt

from ground.connection import handing_over
from interface.broker import NODELAY
from interface.signing import sign

#: How long a probe waits for a message: generous, for a loaded machine (it ends at the message).
WAIT_S = 60.0


@dataclass
class Received:
    topic: str
    payload: dict[str, Any]


@dataclass
class Probe:
    client: aiomqtt.Client
    prefix: str
    received: list[Received] = field(default_factory=list)
    _arrived: asyncio.Event = field(default_factory=asyncio.Event)
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    async def publish(self, suffix: str, payload: bytes | str) -> None:
        await self.client.publish(f"{self.prefix}/{suffix}", payload, qos=1)

    async def command(
        self,
        name: str,
        args: dict[str, Any] | None = None,
        *,
        command_id: str | None = None,
        key: bytes | None = None,
        counter: int | None = None,
        topic: str = "cmd",
    ) -> str:
        """Publish a command (signed when ``key`` is given); return its id."""
        command_id = command_id or f"probe-{next(self._ids)}"
        message: dict[str, Any] = {"id": command_id, "name": name, "args": args or {}}
        if key is not None and counter is not None:
            vehicle = self.prefix.split("/")[1]
            message["counter"] = counter
            message["mac"] = sign(key, vehicle=vehicle, counter=counter, name=name, args=args or {})
        await self.publish(topic, json.dumps(message))
        return command_id

    async def wait_for(self, predicate: Callable[[Received], bool]) -> Received:
        """The first message so far, or from now on, that satisfies ``predicate``;
        TimeoutError saying what was heard after :data:`WAIT_S`."""
        try:
            async with asyncio.timeout(WAIT_S):
                checked = 0
                while True:
                    for message in self.received[checked:]:
                        if predicate(message):
                            return message
                    checked = len(self.received)
                    self._arrived.clear()
                    await self._arrived.wait()
        except TimeoutError:
            raise TimeoutError(f"not heard within {WAIT_S:g} s; {self.heard()}") from None

    def heard(self) -> str:
        """What was heard, for a failure: the events, acks and statuses, and the last values."""
        lines = []
        values: dict[str, Any] = {}
        for message in self.received:
            suffix, payload = message.topic.removeprefix(f"{self.prefix}/"), message.payload
            if suffix.startswith("tm/"):
                values.update(payload.get("values") or {})
                continue
            if suffix == "dict":
                continue
            kept = {k: v for k, v in payload.items() if k not in ("schema", "values")}
            lines.append(f"{suffix} {kept}")
        last = {k: v for k, v in values.items() if not k.endswith("link_up")}
        shown = "\n".join(lines[-60:])
        return f"{len(self.received)} messages:\n{shown}\nlast values {last}"

    async def final_ack(self, command_id: str) -> dict[str, Any]:
        """The COMPLETED or FAILED ack of ``command_id``."""
        ack = await self.wait_for(
            lambda m: (
                m.topic.endswith("/cmd/ack")
                and m.payload.get("id") == command_id
                and m.payload.get("stage") in ("COMPLETED", "FAILED")
            )
        )
        return ack.payload

    def acks(self, command_id: str) -> list[str]:
        return [
            m.payload["stage"]
            for m in self.received
            if m.topic.endswith("/cmd/ack") and m.payload.get("id") == command_id
        ]

    def on(self, suffix: str) -> list[dict[str, Any]]:
        return [m.payload for m in self.received if m.topic == f"{self.prefix}/{suffix}"]

    def _take(self, message: aiomqtt.Message) -> None:
        payload = message.payload
        try:
            document = json.loads(payload) if isinstance(payload, bytes | str) else None
        except (ValueError, RecursionError):  # our own fuzzed commands come back too
            document = None
        if isinstance(document, dict):
            self.received.append(Received(str(message.topic), document))
            self._arrived.set()


@contextlib.asynccontextmanager
async def ground_probe(
    host: str,
    port: int,
    vehicle: str,
    *,
    identifier: str | None = None,
    clean_session: bool = True,
    username: str | None = None,
    password: str | None = None,
    topics: Sequence[str] = ("#",),
) -> AsyncIterator[Probe]:
    """A client subscribed (QoS 1) to everything the vehicle publishes, or to ``topics``
    under its prefix: a test that reads a few topics of a sped-up SIL stack does not fall
    seconds behind its telemetry on a loaded machine (what a stack that stops at the end of
    a run has not sent yet when it stops, the probe never gets)."""
    client = aiomqtt.Client(
        host,
        port,
        identifier=identifier,
        clean_session=clean_session,
        socket_options=NODELAY,
        username=username,
        password=password,
        # Each message is kept as it is decoded: cancelling aiomqtt's message iterator can
        # drop one the client has acknowledged (ground.connection.handing_over).
        queue_type=handing_over(lambda message: probe._take(message)),
    )
    probe = Probe(client, f"isru/{vehicle}")
    async with client:
        for topic in topics:
            await client.subscribe(f"isru/{vehicle}/{topic}", qos=1)
        yield probe
