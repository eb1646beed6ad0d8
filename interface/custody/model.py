"""What a custody ledger entry says: its header and one body model per kind.

An entry is the header of :class:`Entry` (where it stands in the vehicle's chain and in its
sample's chain, who signed it, when) and a ``body`` whose fields depend on ``kind``
(:data:`BODIES`). ``docs/samples.md`` gives every field. Times are text, ISO 8601 in UTC
with a ``Z`` (:func:`utc_text`), so that the signed bytes never depend on a float's format.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictInt, model_validator

__all__ = [
    "BODIES",
    "ENTRY_FORMAT",
    "MAX_SEQ",
    "ZERO_HASH",
    "Collected",
    "CommandRef",
    "Entry",
    "ImageRef",
    "Imaged",
    "Kind",
    "Location",
    "Measured",
    "Moved",
    "Noted",
    "Offset",
    "SequenceRef",
    "Site",
    "Stamp",
    "Transferred",
    "parse_body",
    "utc_text",
]

#: The ``format`` of every entry: the ledger format and its version.
ENTRY_FORMAT: Literal["isru-custody/1"] = "isru-custody/1"
#: The ``prev`` of the first entry, and the ``sample_prev`` of a sample's first entry.
ZERO_HASH = "0" * 64
#: The largest ``seq``: 2^53 - 1, exact in every JSON implementation.
MAX_SEQ = 2**53 - 1

Hash = Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]
Fingerprint = Annotated[str, Field(pattern=r"^[0-9a-f]{8}$")]
Vehicle = Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]{1,32}$")]
SampleId = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")]
ImageName = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")]
UtcText = Annotated[
    str, Field(pattern=r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?Z$", max_length=32)
]
Finite = Annotated[float, Field(allow_inf_nan=False)]
NonNegative = Annotated[float, Field(allow_inf_nan=False, ge=0)]
Text = Annotated[str, Field(max_length=200)]
Name = Annotated[str, Field(min_length=1, max_length=200)]


def utc_text(when: datetime) -> str:
    """``when`` as entries write times: ``2026-05-01T12:00:00.000000Z`` (aware datetimes)."""
    if when.tzinfo is None:
        raise ValueError(f"time {when} has no time zone")
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _parse_utc(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


class Kind(StrEnum):
    """What an entry records about its sample."""

    COLLECTED = "COLLECTED"  # the sample exists: where and when it was dug, and how
    MEASURED = "MEASURED"  # its mass (again: the latest measurement stands)
    IMAGED = "IMAGED"  # images of it, by hash
    MOVED = "MOVED"  # where it now is
    TRANSFERRED = "TRANSFERRED"  # its ownership passed to a buyer
    NOTED = "NOTED"  # anything else, in words (a correction is a new entry, never an edit)


class Location(StrEnum):
    """Where a sample is."""

    SCOOP = "scoop"
    OVEN = "oven"
    STOWED = "stowed"
    TRANSFERRED = "transferred"
    DUMPED = "dumped"
    CONSUMED = "consumed"


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Stamp(_Model):
    """An instant: the flight's mission clock (UTC at time scale 1) and the board's UTC."""

    mission: UtcText
    utc: UtcText


class Offset(_Model):
    """A position relative to a site's point, in its local east/north/up frame, metres."""

    east_m: Finite
    north_m: Finite
    up_m: Finite
    sigma_m: NonNegative
    source: Literal["config", "telemetry"]


class Site(_Model):
    """Where: a point (the lander) in ``frame`` with its 1-sigma horizontal uncertainty,
    and the rover's offset from it when the vehicle is a rover."""

    frame: Annotated[str, Field(min_length=1, max_length=64)]
    lat_deg: Annotated[float, Field(allow_inf_nan=False, ge=-90, le=90)]
    lon_deg: Annotated[float, Field(allow_inf_nan=False, ge=-180, le=180)]
    height_m: Finite
    sigma_m: NonNegative
    source: Literal["config", "telemetry"]
    offset: Offset | None = None


class SequenceRef(_Model):
    """The sequence that dug the sample: its name, the SHA-256 of its text, its run."""

    name: Name
    sha256: Hash
    run: Text | None = None


class CommandRef(_Model):
    """One command that made the sample, as the vehicle ran it."""

    id: Text
    name: Name
    args: dict[str, Any]


class Collected(_Model):
    site: Site
    dig_start: Stamp
    dig_end: Stamp
    depth_mm: NonNegative
    sequence: SequenceRef | None = None
    commands: Annotated[list[CommandRef], Field(max_length=200)] = []

    @model_validator(mode="after")
    def _dig_ends_after_it_starts(self) -> Collected:
        if _parse_utc(self.dig_end.mission) < _parse_utc(self.dig_start.mission):
            raise ValueError("dig_end is before dig_start")
        return self


class Measured(_Model):
    """A mass with its 1-sigma uncertainty, and the calibration it was measured with."""

    mass_g: Finite
    sigma_g: NonNegative
    method: Name = "load cell"
    calibration: Name


class ImageRef(_Model):
    name: ImageName
    sha256: Hash
    bytes: Annotated[StrictInt, Field(ge=0)]
    camera: Text | None = None


class Imaged(_Model):
    images: Annotated[list[ImageRef], Field(min_length=1, max_length=50)]

    @model_validator(mode="after")
    def _names_unique(self) -> Imaged:
        names = [image.name for image in self.images]
        if len(set(names)) != len(names):
            raise ValueError("two images have the same name")
        return self


class Moved(_Model):
    location: Location
    note: Text = ""


class Transferred(_Model):
    """Ownership passed to ``buyer`` under ``contract``, at ``at``, at ``site``."""

    buyer: Name
    mass_g: Finite
    sigma_g: NonNegative
    at: Stamp
    site: Site
    contract: Name


class Noted(_Model):
    text: Annotated[str, Field(min_length=1, max_length=2000)]


#: The body model of each kind.
BODIES: dict[Kind, type[BaseModel]] = {
    Kind.COLLECTED: Collected,
    Kind.MEASURED: Measured,
    Kind.IMAGED: Imaged,
    Kind.MOVED: Moved,
    Kind.TRANSFERRED: Transferred,
    Kind.NOTED: Noted,
}


def parse_body(kind: Kind, body: dict[str, Any]) -> BaseModel:
    """``body`` as the model of ``kind``; raises pydantic's ValidationError."""
    return BODIES[kind].model_validate(body)


class Entry(_Model):
    """The signed part of a ledger entry (everything but the signature)."""

    format: Literal["isru-custody/1"]
    seq: Annotated[StrictInt, Field(ge=0, le=MAX_SEQ)]
    prev: Hash
    vehicle: Vehicle
    sample: SampleId
    sample_seq: Annotated[StrictInt, Field(ge=0, le=MAX_SEQ)]
    sample_prev: Hash
    kind: Kind
    mission: UtcText
    utc: UtcText
    body: dict[str, Any]
    signer: Fingerprint
