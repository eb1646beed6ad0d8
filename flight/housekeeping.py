"""Housekeeping: the core telemetry packet (the vehicle's own heartbeat) and the lifetime
counters kept in the persistent state (cell charge)."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

from flight.arming import Arming
from flight.channels import ChannelStore
from flight.clock import Clock
from flight.dispatcher import Dispatcher
from flight.modes import ModeKeeper
from flight.sequencer import SeqState, Sequencer
from flight.state import StateStore


class Housekeeping:
    """Publishes the ``core`` packet at ``core_hz`` and counts the cell's charge."""

    def __init__(
        self,
        *,
        channels: ChannelStore,
        clock: Clock,
        modes: ModeKeeper,
        arming: Arming,
        state: StateStore,
        dispatcher: Dispatcher,
        sequencer: Sequencer,
        core_hz: float,
    ) -> None:
        self._channels = channels
        self._clock = clock
        self._modes = modes
        self._arming = arming
        self._state = state
        self._dispatcher = dispatcher
        self._sequencer = sequencer
        self._period_s = 1.0 / core_hz
        self._started_at = 0.0
        self._last_elec_at: float | None = None

    def boot(self) -> None:
        """The flight software starts now: ``core.uptime_s`` counts from here."""
        self._started_at = self._clock.monotonic()

    def loop(self) -> asyncio.Task[None]:
        """Start the core packet's loop (the caller owns the task)."""
        return asyncio.create_task(self._core_telemetry(), name="core telemetry")

    def count_charge(self, values: Mapping[str, Any]) -> None:
        """An elec packet: add the charge since the last one to the lifetime total."""
        now = self._clock.monotonic()
        if self._last_elec_at is not None:
            current = float(values.get("elec.cell_current_a", 0.0))
            self._state.add_cell_ah(max(0.0, current) * (now - self._last_elec_at) / 3600)
        self._last_elec_at = now

    def core_values(self) -> dict[str, Any]:
        """The core packet now."""
        status = self._sequencer.status
        return {
            "core.mode": self._modes.mode.value,
            "core.armed": self._arming.armed or "",
            "core.uptime_s": round(self._clock.monotonic() - self._started_at, 3),
            "core.boot_count": self._state.boot_count,
            "core.commands_completed": self._dispatcher.completed,
            "core.commands_failed": self._dispatcher.failed,
            "core.seq_state": status.state.value,
            "core.seq_line": status.line if status.state is SeqState.RUNNING else 0,
            "core.cell_ah_total": round(self._state.cell_ah_total, 6),
            "core.scoop_cycles_total": self._state.scoop_cycles_total,
        }

    async def _core_telemetry(self) -> None:
        while True:
            self._channels.update("core", self.core_values())
            await self._clock.sleep(self._period_s)
