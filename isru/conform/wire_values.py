"""Values as the wire carries them: binary32 floats, and board milliseconds that wrap at 2^32."""

from __future__ import annotations

import struct

UPTIME_WRAP = 1 << 32


def f32(value: float) -> float:
    """``value`` rounded to the nearest binary32, as it travels."""
    rounded: float = struct.unpack("<f", struct.pack("<f", value))[0]
    return rounded


def f32_step(value: float, direction: int) -> float:
    """The binary32 next to ``value`` toward +inf (``direction`` 1) or -inf (-1)."""
    x = f32(value)
    if x == 0:
        bits = 1  # the smallest subnormal, with the sign of the direction
        tiny: float = struct.unpack("<f", struct.pack("<I", bits))[0]
        return tiny if direction > 0 else -tiny
    bits = struct.unpack("<I", struct.pack("<f", x))[0]
    bits += 1 if (x > 0) == (direction > 0) else -1  # away from zero, or toward it
    stepped: float = struct.unpack("<f", struct.pack("<I", bits))[0]
    return stepped


def since_ms(later: int, earlier: int) -> int:
    """Board milliseconds from ``earlier`` to ``later``, across the 2^32 ms wrap."""
    return (later - earlier) % UPTIME_WRAP
