"""The firmware core every board shares: request dispatch, the reply cache, boot, telemetry.

Requests are checked in the order :mod:`sim.requests` gives.

**Host watchdog**: once the host has sent a request, a board that then hears no request for
``host_timeout_s`` (3 s by default) switches every actuator off (motors; cell current,
heater, all valves closed; oven heater, trap, pump, lid motor), latches HOST_TIMEOUT in its
fault flags and goes FAULT until a STOP. A host keeps it fed with any request (the flight
software sends GET_INFO every second); a board nobody has talked to since boot has nothing
on to protect. The timeout holds in virtual time and in real time alike (``host_timeout_s``
x the clock's scale, when that is more): the host is a real process whose scheduling does
not speed up with the simulation, so at a time scale of 40 a plain 3 virtual seconds would
be 75 ms of real time, and any hiccup of a busy machine would safe the board. A hardware
board gives its host 3 s of real time; so does the simulated one, whatever the scale.

An ACK means "accepted and started": motions progress afterwards, visible in telemetry.

Telemetry goes out unsolicited at the SET_TM_RATE rate (10 Hz after boot, 0 = off, up to
1000 Hz), seq = packet counter mod 256. A packet the line cannot take (its output queue full
when pacing at a baud rate) is not made: at high rates the board streams back to back.
"""

from __future__ import annotations

import abc
import math
import random
from collections.abc import Callable
from typing import Any, NotRequired, TypedDict

from hal.commands import BoardInfo, BoardKind, CommandSpec, TelemetryRate
from hal.layout import layout_of
from hal.message import PROTOCOL_VERSION, Message, MsgType, NackCode, nack_body
from hal.telemetry import PacketId
from sim.boot_store import BootStore
from sim.clock import Clock, TimerHandle, physics_tick_s
from sim.requests import ALLOWED_IN_FAULT, BoardThermal, Refused, bad_version_reply, parse_request

__all__ = [
    "ALLOWED_IN_FAULT",
    "DEFAULT_HOST_TIMEOUT_S",
    "DEFAULT_TM_RATE_HZ",
    "BoardThermal",
    "Emit",
    "Firmware",
    "FirmwareArgs",
    "Refused",
]

FW_MAJOR, FW_MINOR = 1, 0
DEFAULT_TM_RATE_HZ = 10.0
DEFAULT_HOST_TIMEOUT_S = 3.0

#: Called with each telemetry message; returns False when the line cannot take it now.
Emit = Callable[[Message], bool]


class FirmwareArgs(TypedDict):
    """What every board takes to be built (see :class:`Firmware`); a board adds its own."""

    clock: Clock
    boot_store: BootStore
    rng: random.Random
    emit: NotRequired[Emit | None]
    host_timeout_s: NotRequired[float | None]


class Firmware(abc.ABC):
    """One board's firmware, on a virtual clock; ``handle()`` answers one request."""

    kind: BoardKind
    packet_id: PacketId

    def __init__(
        self,
        *,
        clock: Clock,
        boot_store: BootStore,
        rng: random.Random,
        emit: Emit | None = None,
        host_timeout_s: float | None = DEFAULT_HOST_TIMEOUT_S,
    ) -> None:
        if host_timeout_s is not None and host_timeout_s <= 0:
            raise ValueError(f"host_timeout_s: must be positive or None, got {host_timeout_s}")
        self.host_timeout_s = host_timeout_s
        self._last_host_request: float | None = None
        self.clock = clock
        self.rng = rng
        self.emit: Emit = emit if emit is not None else (lambda _msg: True)
        self.boot_store = boot_store
        self.boot_count = 0
        self.boot_time = 0.0
        self.tm_rate_hz = DEFAULT_TM_RATE_HZ
        self.tm_counter = 0
        self.duplicates = 0
        self.thermal = BoardThermal()
        self.tick_s = physics_tick_s(clock.scale)
        self._ticks = 0
        self._tick_origin = 0.0
        self._last_request: tuple[int, int, bytes] | None = None
        self._last_reply: Message | None = None
        self._tick_timer: TimerHandle | None = None
        self._tm_timer: TimerHandle | None = None
        self._tm_origin = 0.0
        self._tm_slot = 0
        self._started = False

    # -- life cycle --------------------------------------------------------------------

    def start(self) -> None:
        """Power on: first boot, then physics ticks and telemetry on the clock."""
        if self._started:
            return
        self._started = True
        self._tick_origin = self.clock.now()
        self._boot()
        self._schedule_tick()

    def stop(self) -> None:
        """Power off: cancel the timers."""
        self._started = False
        for timer in (self._tick_timer, self._tm_timer):
            if timer is not None:
                timer.cancel()
        self._tick_timer = self._tm_timer = None

    def _boot(self) -> None:
        self.boot_count = self.boot_store.next_boot()
        self.boot_time = self.clock.now()
        self.tm_counter = 0
        self._power_on_reset()
        self._set_tm_rate(DEFAULT_TM_RATE_HZ)

    @property
    def uptime_ms(self) -> int:
        return int((self.clock.now() - self.boot_time) * 1000) & 0xFFFFFFFF

    # -- physics ---------------------------------------------------------------------

    @property
    def physics_time(self) -> float:
        return self._tick_origin + self._ticks * self.tick_s

    def advance_to(self, t: float) -> None:
        """Step physics in fixed ticks up to virtual time ``t`` (catch-up after a late wake)."""
        while self._tick_origin + (self._ticks + 1) * self.tick_s <= t + 1e-9:
            self._step(self.tick_s)
            self._ticks += 1

    def _schedule_tick(self) -> None:
        now = self.clock.now()
        when = max(self.physics_time + self.tick_s, now + self.clock.min_step_s)
        self._tick_timer = self.clock.call_at(when, self._on_tick)

    def _on_tick(self) -> None:
        if not self._started:
            return
        self.advance_to(self.clock.now())
        self._watch_host()
        self._schedule_tick()

    @property
    def host_timeout_virtual_s(self) -> float | None:
        """Virtual seconds of silence that trip the host watchdog (None: it is disabled).

        ``host_timeout_s`` both in virtual and in real time: on a clock sped up by its
        scale, the host still gets ``host_timeout_s`` real seconds, as from a real board."""
        if self.host_timeout_s is None:
            return None
        return self.host_timeout_s * max(1.0, self.clock.scale)

    def _watch_host(self) -> None:
        last, timeout = self._last_host_request, self.host_timeout_virtual_s
        if last is None or timeout is None or self.clock.now() - last < timeout:
            return
        self._last_host_request = None  # trips once; the next request re-arms it
        self.host_lost()

    # -- telemetry -------------------------------------------------------------------

    def _set_tm_rate(self, rate_hz: float) -> None:
        self.tm_rate_hz = rate_hz
        if self._tm_timer is not None:
            self._tm_timer.cancel()
            self._tm_timer = None
        self._tm_origin, self._tm_slot = self.clock.now(), 0
        if rate_hz > 0 and self._started:
            self._schedule_tm()

    def _schedule_tm(self) -> None:
        now = self.clock.now()
        self._tm_slot = max(
            self._tm_slot + 1, math.floor((now - self._tm_origin) * self.tm_rate_hz) + 1
        )
        when = max(self._tm_origin + self._tm_slot / self.tm_rate_hz, now + self.clock.min_step_s)
        self._tm_timer = self.clock.call_at(when, self._on_tm)

    def _on_tm(self) -> None:
        if not self._started or self.tm_rate_hz <= 0:
            return
        self.advance_to(self.clock.now())
        self.send_telemetry()
        self._schedule_tm()

    def send_telemetry(self) -> bool:
        """Make one telemetry packet and offer it to the line; count it if it was taken."""
        body = self.telemetry_body()
        message = Message(MsgType.TELEMETRY, self.tm_counter % 256, self.packet_id, body)
        if self.emit(message) is False:
            return False
        self.tm_counter += 1
        return True

    def telemetry_body(self) -> bytes:
        packet = self.telemetry()
        return layout_of(type(packet)).pack(packet)

    # -- requests --------------------------------------------------------------------

    def handle_payload(self, payload: bytes) -> bytes | None:
        """Answer one frame payload; the reply payload, or None for no answer."""
        if len(payload) >= 3 and payload[0] >> 4 != PROTOCOL_VERSION:
            return bad_version_reply(payload)
        try:
            message = Message.decode(payload)
        except Exception:
            return None  # not a frame we understand: a real board ignores it too
        reply = self.handle(message)
        return None if reply is None else reply.encode()

    def handle(self, message: Message) -> Message | None:
        """Answer one message: an ACK or NACK for a REQUEST, nothing for anything else."""
        if message.type is not MsgType.REQUEST:
            return None
        self._last_host_request = self.clock.now()
        key = (message.seq, message.msg_id, message.body)
        if key == self._last_request and self._last_reply is not None:
            self.duplicates += 1
            return self._last_reply
        self.advance_to(self.clock.now())
        reboot = False
        try:
            spec, args = parse_request(message, self.kind, self.check_limits)
            if self.in_fault and spec.name not in ALLOWED_IN_FAULT:
                raise Refused(NackCode.FAULT)
            body, reboot = self._execute_common(spec, args)
            reply = Message(MsgType.ACK, message.seq, message.msg_id, body)
        except Refused as refusal:
            body = nack_body(refusal.code, refusal.arg_index)
            reply = Message(MsgType.NACK, message.seq, message.msg_id, body)
        self._last_request, self._last_reply = key, reply
        if reboot:
            self._boot()
        return reply

    def _execute_common(self, spec: CommandSpec, args: Any) -> tuple[bytes, bool]:
        if spec.name == "GET_INFO":
            info = BoardInfo(
                self.kind, PROTOCOL_VERSION, FW_MAJOR, FW_MINOR, self.boot_count, self.uptime_ms
            )
            return layout_of(BoardInfo).pack(info), False
        if spec.name == "GET_STATUS":
            return self.telemetry_body(), False
        if spec.name == "SET_TM_RATE":
            assert isinstance(args, TelemetryRate)
            self._set_tm_rate(args.rate_hz)
            return b"", False
        if spec.name == "RESET":
            return b"", True
        return self.execute(spec.name, args), False

    # -- what each board fills in ----------------------------------------------------------

    @property
    @abc.abstractmethod
    def in_fault(self) -> bool: ...

    @abc.abstractmethod
    def _power_on_reset(self) -> None:
        """Firmware state after a (re)boot: every actuator off."""

    @abc.abstractmethod
    def _step(self, dt: float) -> None:
        """One physics tick, with the board's protections."""

    @abc.abstractmethod
    def telemetry(self) -> Any:
        """The board's telemetry packet now (a ScoopTelemetry or ElecTelemetry)."""

    def check_limits(self, spec: CommandSpec, args: Any) -> None:
        """Board-specific argument limits beyond the declared ranges (raise Refused)."""
        return None  # most commands have no limits beyond their layout

    @abc.abstractmethod
    def host_lost(self) -> None:
        """The host went quiet: every actuator off, HOST_TIMEOUT latched, FAULT until STOP."""

    @abc.abstractmethod
    def execute(self, name: str, args: Any) -> bytes:
        """Run a board command (STOP and the board's own); return the ACK body."""
