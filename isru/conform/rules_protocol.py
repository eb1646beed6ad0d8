"""The ICD's rules on the protocol (GET_INFO, §2 to §4): frames, replies, duplicates,
refusals and ranges."""

from __future__ import annotations

from isru.conform.rule import ALL, OVEN, SCOOP, Rule

#: In report order; :data:`isru.conform.rules.RULES` lists them first.
PROTOCOL_RULES: tuple[Rule, ...] = (
    Rule("INFO-BOARD", "§5.1", ALL, "GET_INFO names this board and protocol version 1"),
    Rule("FRAME-CRC", "§2.3", ALL, "a frame with a bad CRC is dropped: no reply, not executed"),
    Rule("FRAME-COBS", "§2.3", ALL, "a frame that is not valid COBS is dropped: no reply"),
    Rule("FRAME-SHORT", "§2.3", ALL, "a payload of 0, 1 or 2 bytes is ignored: no reply"),
    Rule(
        "FRAME-IDLE",
        "§2.3",
        ALL,
        "0x00 fill, a flushed partial frame and a frame split across writes are fine",
    ),
    Rule(
        "FRAME-OVERSIZE",
        "§2.3",
        ALL,
        "over 255 bytes without 0x00 are discarded; the next frame is answered",
    ),
    Rule(
        "FRAME-MAX",
        "§2.2",
        ALL,
        "a 254-byte frame (one 0xFF COBS block) is decoded: its 249-byte body gets BAD_LENGTH",
    ),
    Rule(
        "FRAME-TRAILING",
        "§2.2",
        ALL,
        "the same frame with a trailing empty COBS block (256 bytes) is dropped",
    ),
    Rule("OTHER-TYPES", "§3", ALL, "ACK, NACK, TELEMETRY or unknown-type frames get no reply"),
    Rule(
        "REPLY-FORMAT",
        "§3",
        ALL,
        "replies are version 1 ACK/NACK; NACK body 2 bytes; ACK bodies as catalogued",
    ),
    Rule(
        "REPLY-ONE",
        "§4.2",
        ALL,
        "every intact request gets exactly one reply with its seq and id, nothing else",
    ),
    Rule("REPLY-TIME", "§4.2", ALL, "every reply within the host's 200 ms (20 ms recommended)"),
    Rule(
        "VERSION-FIRST",
        "§4.1",
        ALL,
        "the version check precedes the duplicate check; BAD_VERSION is never cached",
    ),
    Rule(
        "DUP-ONCE",
        "§4.3",
        ALL,
        "a retried RESET (same seq, id, body) gets the identical ACK; one reboot",
    ),
    Rule("DUP-BODY", "§4.3", ALL, "same seq and id with another body is a new request"),
    Rule(
        "DUP-NACK",
        "§4.3",
        ALL,
        "a NACK is cached too: a retry gets the identical NACK (scoop, oven: after BUSY ends)",
    ),
    Rule(
        "DUP-STALE",
        "§4.3",
        ALL,
        "a retry is answered from the cache whatever the state: old reply, even in FAULT",
    ),
    Rule(
        "VERSION-NACK",
        "§4.4",
        ALL,
        "version != 1 gets NACK BAD_VERSION (v1 header, same seq, id) and is not executed",
    ),
    Rule(
        "UNKNOWN",
        "§4.4",
        ALL,
        "unknown ids and the other boards' commands get UNKNOWN_COMMAND, arg 0xFF",
    ),
    Rule("LENGTH", "§4.4", ALL, "a body shorter or longer than the arguments gets BAD_LENGTH"),
    Rule(
        "NACK-ORDER",
        "§4.4",
        ALL,
        "checks in table order: unknown, length, range, FAULT, then the board's state",
    ),
    Rule("NOT-HOMED", "§4.4", SCOOP, "DIG before a HOME since boot gets NOT_HOMED"),
    Rule(
        "BUSY",
        "§4.4",
        SCOOP,
        "HOME, MOVE_JOINT, DIG, DUMP, TARE, WEIGH during a motion get BUSY (before NOT_HOMED)",
    ),
    Rule(
        "OVEN-BUSY",
        "§4.4",
        OVEN,
        "SET_LID while the lid moves, EJECT while ejecting, TRANSFER while pumping get BUSY",
    ),
    Rule(
        "OVEN-INTERLOCK",
        "§4.4",
        OVEN,
        "HEAT/HOLD unsealed or empty, EJECT while heating, TRANSFER at trap <= 0 degC: INTERLOCK",
    ),
    Rule(
        "RANGE-EDGES",
        "§4.5",
        ALL,
        "both ends of every range accepted; next f32 outside, NaN, inf, non-members refused",
    ),
    Rule(
        "JOINT-LIMITS",
        "§4.5",
        SCOOP,
        "MOVE_JOINT within JOINT_LIMITS_DEG inclusive; beyond: OUT_OF_RANGE on argument 1",
    ),
)
