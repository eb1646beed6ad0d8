"""What the steps share, and the rules of both boards on the telemetry rate and RESET. Each
step names the rules it decides (:class:`Step`); what differs per board (what to switch on,
what "off" looks like, which commands FAULT refuses) is a :class:`Board`. The host watchdog
and FAULT are in :mod:`isru.conform.watchdog`, the rules judged on the whole run in
:mod:`isru.conform.whole_run`, the frame and header rules in :mod:`isru.conform.protocol`."""

from __future__ import annotations

import itertools
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, ClassVar

from cobs import cobs

from hal.commands import BY_NAME, COMMANDS, CommandSpec, TelemetryRate
from hal.framing import crc16, encode_frame
from hal.layout import layout_of
from interface.catalog import DICTIONARY
from isru.conform.board_requests import StepFailed, describe_nack
from isru.conform.context import KIT_RATE_HZ, Context
from isru.conform.wire_values import since_ms

NO_ARG = 0xFF
#: Readings with an actuator off stay below this (A, V, W).
OFF_BELOW = 0.05
#: The host watchdog: trips after 3 s of silence, by 3.5 s at the latest.
WATCHDOG_S = 3.0
WATCHDOG_LATEST_S = 3.5
DEFAULT_RATE_HZ = 10.0


def completion_s(command: str) -> float:
    """The flight software's completion window for ``command`` (mission seconds)."""
    return DICTIONARY.command_index[command].completion_timeout_s


@dataclass(frozen=True, slots=True)
class Step:
    """One scenario; a :class:`StepFailed` in it fails the rules it had yet to decide."""

    name: str
    covers: tuple[str, ...]
    run: Callable[[Context, Board], Awaitable[None]]
    #: Steps that must have run before this one (when rules are selected).
    needs: tuple[str, ...] = ()


class Board:
    """What the common rules need to know of one board; subclassed per board."""

    name: str
    telemetry_class: type[Any]
    packet_id: int
    #: Flag bits that latch a FAULT, and the watchdog's own bit among them.
    fault_mask: int
    host_timeout_flag: int
    #: A valid argument instance for each of the board's commands with arguments.
    valid_args: ClassVar[dict[str, object]]
    #: Board commands a board in FAULT must refuse (sent with ``valid_args``).
    refused_in_fault: tuple[str, ...]
    #: The other board's commands, each refused UNKNOWN_COMMAND here.
    foreign: tuple[str, ...]
    #: A request refused OUT_OF_RANGE (command, body, argument index), even in FAULT.
    out_of_range: tuple[str, bytes, int]

    async def clean(self, ctx: Context) -> None:
        """Every actuator off and no FAULT: the start of a step."""
        await ctx.ack("STOP")

    async def actuate(self, ctx: Context) -> None:
        """Switch on what the watchdog or a RESET must switch off."""
        raise NotImplementedError

    async def undo(self, ctx: Context, command: str) -> None:
        """Switch off what an accepted range-edge ``command`` switched on."""
        if command == "SET_TM_RATE":
            await ctx.ack("SET_TM_RATE", TelemetryRate(KIT_RATE_HZ))

    def on(self, tm: Any) -> str | None:
        """What is still on in ``tm`` (None when every actuator is off)."""
        raise NotImplementedError

    def homed(self, tm: Any) -> bool | None:
        """Whether the board is homed (None for a board without homing)."""
        return None

    def boot_problems(self, tm: Any) -> list[str]:
        """What the first packet of a fresh boot shows that it should not."""
        problem = self.on(tm)
        return [] if problem is None else [f"on after boot: {problem}"]

    async def after_reset(self, ctx: Context) -> None:
        """Board rules checked right after a RESET."""

    async def allowed_in_fault(self, ctx: Context) -> None:
        """Board commands a board in FAULT must still carry out."""

    async def joint_limits(self, ctx: Context) -> None:
        """Board-specific argument limits beyond the declared ranges."""

    def off_problem(self, tm: Any) -> str | None:
        """A reading of ``tm`` that is not near 0 although its actuator is off."""
        return None

    def flag_problem(self, tm: Any) -> str | None:
        """A flag of ``tm`` that contradicts its state or readings."""
        return None

    def whole_run(self, ctx: Context) -> None:
        """Board rules judged on every packet of the run."""


def frame_of(msg_id: int, body: bytes, seq: int, version: int = 1, kind: int = 1) -> bytes:
    """A wire frame with any header: ``kind`` is the type nibble, ``version`` the version."""
    payload = bytes(((version << 4) | kind, seq, msg_id)) + body
    return encode_frame(payload)


def bad_crc_frame(msg_id: int, seq: int) -> bytes:
    payload = bytes((0x11, seq, msg_id))
    crc = crc16(payload) ^ 0x5A5A
    return bytes(cobs.encode(payload + crc.to_bytes(2, "little"))) + b"\x00"


def commands_of(board: Board) -> list[CommandSpec]:
    """The commands ``board`` answers: the common ones and its own."""
    kind = board.name.upper()
    return [c for c in COMMANDS if c.board is None or c.board.name == kind]


# --- telemetry ------------------------------------------------------------------------


async def telemetry(ctx: Context, board: Board) -> None:
    for rate in (5.0, KIT_RATE_HZ):
        await _rate(ctx, rate, window_s=max(1.0, 10 / rate))

    before = (await ctx.get_info()).uptime_ms
    await ctx.ack("SET_TM_RATE", TelemetryRate(0.0))
    quiet_from = (await ctx.status()).uptime_ms
    mark = len(ctx.packets)
    await ctx.sleep_board(1.0)
    await ctx.send("GET_INFO")
    await ctx.sleep_board(0.5)
    late = [p for p in ctx.packets[mark:] if 0 < since_ms(p.tm.uptime_ms, quiet_from) < 1 << 31]
    status = await ctx.send("GET_STATUS")
    ok = not late and status.acked and len(status.body) == telemetry_size(board)
    ctx.check(
        "TM-OFF",
        ok,
        f"{len(late)} packet(s) made after rate 0 (requested at {before} ms); "
        f"GET_STATUS {describe_nack(status)} with {len(status.body)} bytes",
    )
    await ctx.ack("SET_TM_RATE", TelemetryRate(KIT_RATE_HZ))
    resumed = await ctx.wait_tm(lambda _tm: True, 1.0)
    ctx.check("TM-OFF", resumed is not None, "the stream resumes at a new rate")


async def _rate(ctx: Context, rate: float, *, window_s: float) -> None:
    before = (await ctx.get_info()).uptime_ms
    ack = await ctx.ack("SET_TM_RATE", TelemetryRate(rate))
    assert ack.reply is not None
    start = len(ctx.packets)
    statuses = 0
    for _ in range(4):
        await ctx.sleep_board(window_s / 4)
        await ctx.status()
        statuses += 1
    packets = [p for p in ctx.packets[start:] if p.frame.at >= ack.reply.at]
    packets = [p for p in packets if since_ms(p.tm.uptime_ms, before) < 1 << 31]
    period_ms = 1000 / rate
    if len(packets) < 3:
        ctx.fail("TM-RATE", f"{rate:g} Hz: {len(packets)} packet(s) in {window_s:g} s")
        return
    first = since_ms(packets[0].tm.uptime_ms, before)
    times = [p.tm.uptime_ms for p in packets]
    mean = since_ms(times[-1], times[0]) / (len(times) - 1)
    gaps = sum(1 for a, b in itertools.pairwise(packets) if (b.seq - a.seq) & 0xFF != 1)
    ok = first <= period_ms + 100 and abs(mean - period_ms) <= 0.1 * period_ms and not gaps
    ctx.check(
        "TM-RATE",
        ok,
        f"{rate:g} Hz: first packet {first} ms after the request, mean period "
        f"{mean:.1f} ms over {len(packets)}, {gaps} seq gap(s)",
    )
    ctx.check(
        "TM-STATUS",
        not gaps,
        f"{statuses} GET_STATUS during the {rate:g} Hz stream: "
        + (f"{gaps} gap(s) in the stream's seq" if gaps else "no seq taken"),
    )


def telemetry_size(board: Board) -> int:
    """Bytes of ``board``'s telemetry packet."""
    return layout_of(board.telemetry_class).size


# --- RESET and duplicates ---------------------------------------------------------------


async def reset(ctx: Context, board: Board) -> None:
    await board.actuate(ctx)
    boot = (await ctx.get_info()).boot_count
    seq = ctx.next_seq()
    first = await ctx.wire.request(BY_NAME["RESET"].id, seq=seq, attempts=1)
    if first.reply is None or not first.acked:
        ctx.fail("RESET-BOOT", f"RESET answered {describe_nack(first)}")
        raise StepFailed("RESET not ACKed")
    acked_at = first.reply.at
    mark = len(ctx.packets)
    retry = await ctx.wire.request(BY_NAME["RESET"].id, seq=seq, frame=first.frame)
    deaf_ms = None if retry.reply is None else (retry.reply.at - acked_at) * 1000
    ctx.check(
        "RESET-DEAF",
        retry.reply is not None,
        f"answered {deaf_ms:.0f} ms (wall) after the RESET ACK, attempt {retry.attempts}"
        if deaf_ms is not None
        else "no answer within 4 x 200 ms of the RESET ACK",
    )
    identical = retry.reply is not None and retry.reply.payload == first.reply.payload
    after = (await ctx.get_info()).boot_count
    ctx.check(
        "DUP-ONCE",
        identical and after == (boot + 1) & 0xFFFF,
        f"retry {'identical' if identical else 'differs'}; boot_count {boot} -> {after}",
    )
    new = await ctx.wait_tm(lambda tm: tm.boot_count == after, 2.0, start=mark)
    if new is None:
        ctx.fail("RESET-BOOT", "no telemetry from the new boot within 2 s")
        return
    await ctx.sleep_board(1.2)
    booted = [p for p in ctx.packets[mark:] if p.tm.boot_count == after]
    seqs = [p.seq for p in booted]
    times = [p.tm.uptime_ms for p in booted]
    mean = since_ms(times[-1], times[0]) / max(1, len(times) - 1)
    problems = board.boot_problems(booted[0].tm)
    if seqs[:3] != list(range(min(3, len(seqs)))):
        problems.append(f"telemetry seq {seqs[:3]} (expected 0, 1, 2)")
    if times[0] > 1000:
        problems.append(f"first packet at uptime {times[0]} ms")
    if len(times) < 5 or abs(mean - 100) > 10:
        problems.append(f"mean period {mean:.1f} ms over {len(times)} packets (10 Hz: 100)")
    ctx.check(
        "RESET-BOOT",
        not problems,
        "; ".join(problems)
        or f"boot_count {after}, first packet seq 0 at {times[0]} ms, 10 Hz, actuators off",
    )
    await board.after_reset(ctx)
    await ctx.ack("SET_TM_RATE", TelemetryRate(KIT_RATE_HZ))
