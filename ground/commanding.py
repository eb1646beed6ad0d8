"""Commanding one vehicle: arguments checked against its dictionary, commands signed and
published, and their acks awaited stage by stage (part of :class:`ground.GroundClient`)."""

from __future__ import annotations

import itertools
import json
import os
import time
from collections.abc import Iterator, Mapping
from functools import cached_property
from typing import Any

import aiomqtt

from ground.messages import Ack, GroundError
from ground.session import Session
from interface.dictionary import ArgumentError
from interface.signing import MAX_COUNTER, sign

STAGES = ("ACCEPTED", "STARTED", "COMPLETED")


class CommandRefused(GroundError):
    """The vehicle answered FAILED; ``ack`` has the reason and detail."""

    def __init__(self, ack: Ack) -> None:
        super().__init__(f"{ack.name} ({ack.id}) FAILED: {ack.reason}: {ack.detail}")
        self.ack = ack


class Commanding(Session):
    """A :class:`Session` that sends commands: ``check``, ``send``, ``publish_command``,
    ``wait_ack``."""

    #: The last command counter signed (see :meth:`publish_command`).
    _counter = 0

    @cached_property
    def _ids(self) -> Iterator[int]:
        """The numbers of this client's commands: ids are ``<session>-<number>``."""
        return itertools.count(1)

    @cached_property
    def _session(self) -> str:
        return f"{os.getpid():x}-{int(time.time()):x}"

    def check(self, name: str, args: Mapping[str, Any]) -> dict[str, Any]:
        """The arguments validated against the vehicle's dictionary (GroundError if not)."""
        dictionary = self.dictionary or self.expected
        definition = dictionary.command_index.get(name)
        if definition is None:
            raise GroundError(f"{name!r} is not a command of vehicle {self.vehicle}")
        try:
            definition.validate_args(dict(args))
        except ArgumentError as exc:
            raise GroundError(str(exc)) from None
        return dict(args)

    async def send(
        self,
        name: str,
        /,
        args: Mapping[str, Any] | None = None,
        *,
        wait: str = "COMPLETED",
        timeout_s: float | None = None,
        topic: str | None = None,
    ) -> list[Ack]:
        """Send a command and wait for stage ``wait`` (ACCEPTED, STARTED or COMPLETED).

        Returns the acks so far; raises :class:`CommandRefused` on FAILED and TimeoutError
        when the stage does not come within ``timeout_s``.
        """
        if wait not in STAGES:
            raise ValueError(f"wait: must be one of {', '.join(STAGES)}, got {wait!r}")
        checked = self.check(name, args or {})
        command_id = await self.publish_command(name, checked, topic=topic)
        return await self.wait_ack(command_id, wait=wait, timeout_s=timeout_s)

    async def publish_command(
        self, name: str, args: Mapping[str, Any], *, topic: str | None = None
    ) -> str:
        """Publish a command without waiting; returns its id."""
        client = self._require()
        command_id = f"{self._session}-{next(self._ids)}"
        message: dict[str, Any] = {"id": command_id, "name": name, "args": dict(args)}
        if self.key is not None:
            # Milliseconds since the epoch, never repeating: no state to keep between runs;
            # and above the highest counter the vehicle reports having accepted (another
            # console's, or one from a clock that ran ahead), so a restarted client goes on.
            self._counter = max(
                self._counter + 1, time.time_ns() // 1_000_000, self.vehicle_counter() + 1
            )
            if self._counter > MAX_COUNTER:
                raise GroundError(
                    f"vehicle {self.vehicle} has accepted command counter "
                    f"{self.vehicle_counter()}: no higher counter can be signed (the largest "
                    f"is {MAX_COUNTER}); install a new command key on the vehicle and here "
                    "(a new key starts the counter again, see docs/mqtt.md)"
                )
            message["counter"] = self._counter
            message["mac"] = sign(
                self.key, vehicle=self.vehicle, counter=self._counter, name=name, args=args
            )
        self.acks.setdefault(command_id, [])
        payload = json.dumps(message)
        try:
            await client.publish(topic or self.topics.cmd, payload, qos=1)
        except aiomqtt.MqttError as exc:
            raise GroundError(f"{name} not delivered to {self.broker}: {exc}") from None
        return command_id

    def vehicle_counter(self) -> int:
        """The highest command counter the vehicle reports having accepted (its retained
        status, ``highest_counter``); 0 when it reports none."""
        value = self.status.get("highest_counter")
        return value if isinstance(value, int) and not isinstance(value, bool) else 0

    async def wait_ack(
        self, command_id: str, *, wait: str = "COMPLETED", timeout_s: float | None = None
    ) -> list[Ack]:
        """The acks of ``command_id`` once it reached ``wait`` (CommandRefused on FAILED)."""
        wanted = STAGES.index(wait)

        def reached() -> bool:
            stages = [a.stage for a in self.acks.get(command_id, [])]
            return "FAILED" in stages or any(
                s in STAGES and STAGES.index(s) >= wanted for s in stages
            )

        await self._until(reached, timeout_s or self.timeout_s)
        acks = list(self.acks[command_id])
        failed = next((a for a in acks if a.stage == "FAILED"), None)
        if failed is not None:
            raise CommandRefused(failed)
        return acks

    def _require(self) -> aiomqtt.Client:
        if self._client is None:
            raise GroundError(f"not connected to {self.broker} (reconnecting; try again)")
        return self._client
