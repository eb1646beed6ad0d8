"""What every check uses: the board's wire, its clock, typed requests and rule verdicts.

Times that rules judge are **board** times, read from ``uptime_ms`` in telemetry and in GET_INFO,
so the kit is right against a simulator whose clock runs faster than the wall (``isru sim
--time-scale``). The kit measures that rate once at the start and uses it only to size its waits.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Callable
from typing import Any

from hal.commands import BoardInfo
from isru.conform.board_requests import Requests
from isru.conform.report import Outcome
from isru.conform.rules import BY_ID, Rule
from isru.conform.wire import BoardWire, Packet
from isru.conform.wire_values import UPTIME_WRAP, since_ms

#: The flight software's heartbeat period: the kit feeds the watchdog as often.
HEARTBEAT_S = 1.0
#: The telemetry rate the kit streams at (board Hz): fine enough to time motions and trips.
KIT_RATE_HZ = 20.0


class Context(Requests):
    """One run against one board: its requests, rule verdicts, board time and telemetry."""

    def __init__(self, wire: BoardWire, board: str) -> None:
        super().__init__(wire)
        self.board = board
        #: Board seconds per wall second (1.0 for real hardware).
        self.scale = 1.0
        self.info: BoardInfo | None = None
        self._verdicts: dict[str, Outcome] = {}
        self.notes: list[str] = []
        #: The oven: open the lid and wait for an operator to load a sample (``--load``).
        self.load_sample = False
        #: Tells the operator something while the run goes on (the CLI: a line on stderr).
        self.say: Callable[[str], None] = lambda _text: None

    # --- verdicts --------------------------------------------------------------------

    def check(self, rule_id: str, ok: bool, detail: str) -> bool:
        """Record one check of a rule: the first failure sticks, later passes add detail."""
        rule = BY_ID[rule_id]
        if self.board not in rule.boards:
            raise ValueError(f"rule {rule_id} does not apply to the {self.board} board")
        previous = self._verdicts.get(rule_id)
        if previous is not None and not previous.passed:
            return ok
        if previous is not None and ok:
            seen = previous.detail.split("; ")
            detail = previous.detail if detail in seen else f"{previous.detail}; {detail}"
        self._verdicts[rule_id] = Outcome(rule, ok, detail)
        return ok

    def fail(self, rule_id: str, detail: str) -> None:
        self.check(rule_id, False, detail)

    def verdict(self, rule: Rule) -> Outcome | None:
        return self._verdicts.get(rule.id)

    # --- time ------------------------------------------------------------------------

    def wall(self, board_s: float) -> float:
        """Wall seconds to allow for ``board_s`` of board time (with a margin)."""
        return board_s / self.scale * 1.5 + 0.5

    async def sleep_board(self, board_s: float) -> None:
        await asyncio.sleep(board_s / self.scale)

    # --- telemetry -------------------------------------------------------------------

    @property
    def packets(self) -> list[Packet]:
        return self.wire.log.telemetry

    async def wait_tm(
        self,
        predicate: Callable[[Any], bool],
        board_s: float,
        *,
        after_ms: int | None = None,
        feed: bool = True,
        start: int | None = None,
    ) -> Packet | None:
        """The first streamed packet (from index ``start``, default: from now) newer than
        ``after_ms`` for which ``predicate`` holds, within ``board_s`` of board time after
        ``after_ms``. With ``feed`` a GET_INFO goes out every second, as the flight
        software's heartbeat, so the host watchdog stays fed."""
        loop = asyncio.get_running_loop()
        index = len(self.packets) if start is None else start
        deadline = loop.time() + self.wall(board_s)
        feed_every = min(HEARTBEAT_S, HEARTBEAT_S / self.scale)
        next_feed = loop.time() + feed_every
        while True:
            while index < len(self.packets):
                packet = self.packets[index]
                index += 1
                if after_ms is not None:
                    age = since_ms(packet.tm.uptime_ms, after_ms)
                    if age >= UPTIME_WRAP // 2:
                        continue  # older than the reference
                    if age > board_s * 1000:
                        return None  # the board's own time ran out
                if predicate(packet.tm):
                    return packet
            now = loop.time()
            if now >= deadline or self.wire.lost:
                return None
            wake = min(deadline, next_feed) if feed else deadline
            await self.wire.wait_until(_more_than(self.packets, index), wake - now)
            if feed and loop.time() >= next_feed:
                await self.send("GET_INFO")
                next_feed = loop.time() + feed_every

    async def settle(
        self, predicate: Callable[[Any], bool], board_s: float
    ) -> tuple[Any, float] | None:
        """As the host verifies a command: a GET_STATUS right after the ACK marks the board
        time; the first snapshot from then on (that status included) for which
        ``predicate`` holds, and the board seconds it took; None after ``board_s``."""
        start = len(self.packets)
        now = await self.status()
        if predicate(now.tm):
            return now.tm, 0.0
        packet = await self.wait_tm(predicate, board_s, after_ms=now.uptime_ms, start=start)
        if packet is None:
            return None
        return packet.tm, since_ms(packet.tm.uptime_ms, now.uptime_ms) / 1000

    async def latest(self, board_s: float = 1.0) -> Any:
        """The next streamed packet (or a GET_STATUS when the stream is quiet)."""
        packet = await self.wait_tm(lambda _tm: True, board_s)
        return packet.tm if packet is not None else (await self.status()).tm

    # --- clock -----------------------------------------------------------------------

    async def measure_clock(self, wall_s: float = 0.4) -> float:
        """Board seconds per wall second, from two GET_INFOs ``wall_s`` apart."""
        t0 = time.monotonic()
        first = await self.get_info()
        t1 = time.monotonic()
        await asyncio.sleep(wall_s)
        t2 = time.monotonic()
        second = await self.get_info()
        t3 = time.monotonic()
        board = since_ms(second.uptime_ms, first.uptime_ms) / 1000
        wall = (t2 + t3) / 2 - (t0 + t1) / 2
        scale = board / wall if wall > 0 else 1.0
        if not math.isfinite(scale) or not 0.05 <= scale <= 1000:
            scale = 1.0  # a reboot in between, or a clock we cannot use: plan in wall time
        self.scale = scale
        return scale


def _more_than(packets: list[Packet], count: int) -> Callable[[], bool | None]:
    return lambda: True if len(packets) > count else None
