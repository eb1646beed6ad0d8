"""Sample custody's part of the dictionary: the CAMERA.* and SAMPLE.* commands and the
events of the ledger and the camera (``flight/samples.py``, ``docs/samples.md``).

None of these commands moves an actuator: they are allowed in every mode, and a camera or
ledger failure fails them (``DEVICE_FAULT``) without touching the payload.
"""

from __future__ import annotations

from interface.dictionary import ArgDef, CommandDef, EventDef, Mode, Severity

#: Where SAMPLE.MOVE may say a sample is (``transferred`` only by SAMPLE.TRANSFER).
MOVE_LOCATIONS = ("scoop", "oven", "stowed", "dumped", "consumed")
#: What a command's ``sample`` may name besides an id (``rover1-0001``): the sample now in
#: the scoop, the one now in the oven, the one collected last; CAMERA.CAPTURE also ``none``.
SAMPLE_REFERENCES = ("scoop", "oven", "latest")

#: The largest chunk number CAMERA.SEND takes (an image is at most 8 MiB: 171 chunks).
MAX_CHUNK = 100_000
_ALL_MODES = (Mode.SAFE, Mode.IDLE, Mode.OPERATING)
_SAMPLE = ArgDef(
    name="sample",
    type="str",
    max_length=64,
    description="a sample id (rover1-0001), or scoop, oven, latest: the sample now there",
)


def _text(name: str, length: int, description: str) -> ArgDef:
    return ArgDef(name=name, type="str", max_length=length, description=description)


def _metres(name: str, bound: float, description: str) -> ArgDef:
    return ArgDef(name=name, type="float", unit="m", min=-bound, max=bound, description=description)


SAMPLE_COMMANDS = [
    CommandDef(
        name="CAMERA.CAPTURE",
        description="take a picture, store it with its SHA-256; of a sample: an IMAGED entry",
        args=(
            _text("purpose", 32, "why, in the image's name: [a-z0-9_], e.g. inspect"),
            _text("sample", 64, "a sample id, scoop, oven, latest; or none"),
        ),
        modes=_ALL_MODES,
        completion_timeout_s=30,
    ),
    CommandDef(
        name="CAMERA.SEND",
        description="publish chunks of a stored image again, e.g. those the ground missed",
        args=(
            _text("name", 100, "the image's name, as IMAGE_STORED gave it"),
            ArgDef(
                name="first_chunk",
                type="int",
                min=0,
                max=MAX_CHUNK,
                description="the first chunk to send, from 0 (0: from the start)",
            ),
            ArgDef(
                name="last_chunk",
                type="int",
                min=-1,
                max=MAX_CHUNK,
                description="the last chunk to send, included; -1: to the image's end",
            ),
        ),
        modes=_ALL_MODES,
    ),
    CommandDef(
        name="SAMPLE.MOVE",
        description="record where a sample now is (a MOVED entry)",
        args=(
            _SAMPLE,
            ArgDef(name="location", type="enum", choices=MOVE_LOCATIONS, description="where"),
            _text("note", 200, "why or how, in words (may be empty)"),
        ),
        modes=_ALL_MODES,
    ),
    CommandDef(
        name="SAMPLE.NOTE",
        description="record anything else about a sample, in words (a NOTED entry)",
        args=(_SAMPLE, _text("text", 2000, "the note")),
        modes=_ALL_MODES,
    ),
    CommandDef(
        name="SAMPLE.TRANSFER",
        description="pass a sample's ownership to a buyer (a TRANSFERRED entry, latest mass)",
        args=(
            _SAMPLE,
            _text("buyer", 200, "who owns it from now on"),
            _text("contract", 200, "the contract's reference"),
        ),
        modes=_ALL_MODES,
        completion_timeout_s=30,
    ),
    CommandDef(
        name="SAMPLE.POSITION",
        description="the rover's position from its navigation, for the site of later entries",
        args=(
            _metres("east_m", 100_000, "east of the site's point (rover navigation)"),
            _metres("north_m", 100_000, "north of the site's point"),
            _metres("up_m", 10_000, "above the site's point"),
            ArgDef(
                name="sigma_m",
                type="float",
                unit="m",
                min=0,
                max=10_000,
                description="1-sigma uncertainty of the position",
            ),
        ),
        modes=_ALL_MODES,
    ),
]

_S = Severity
SAMPLE_EVENTS = [
    EventDef(
        id="CUSTODY_OPENED",
        severity=_S.INFO,
        template="custody ledger {path}: {entries} entries, {samples} samples, key {signer}",
    ),
    EventDef(id="CUSTODY_TORN", severity=_S.WARNING, template="custody ledger {path}: {detail}"),
    EventDef(id="CUSTODY_UNAVAILABLE", severity=_S.ERROR, template="custody off: {detail}"),
    EventDef(id="CUSTODY_FAILED", severity=_S.ERROR, template="custody {what}: {detail}"),
    EventDef(
        id="SAMPLE_ENTRY",
        severity=_S.INFO,
        template="{sample} {kind} (seq {seq}): {summary}",
    ),
    EventDef(
        id="IMAGE_STORED",
        severity=_S.INFO,
        template="image {name} ({purpose}, sample {sample}): {bytes} bytes, sha256 {sha256}",
    ),
    EventDef(id="CAMERA_FAILED", severity=_S.WARNING, template="camera ({purpose}): {detail}"),
    EventDef(
        id="POSITION_RECEIVED",
        severity=_S.INFO,
        template="rover position: east {east_m} m, north {north_m} m, up {up_m} m of the "
        "site's point, 1-sigma {sigma_m} m",
    ),
    EventDef(
        id="POSITION_STALE",
        severity=_S.WARNING,
        template="rover position of {at} is {age_s} s old (over {max_age_s} s): {what} has "
        "the site's point without the rover's offset",
    ),
]
