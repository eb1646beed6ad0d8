"""The configuration of sample custody and the camera: ``[samples]``, ``[samples.site]``,
``[camera]`` (``docs/samples.md``, ``deploy/flight.example.toml``).

Relative paths are relative to the config file's directory; ``ledger`` and ``images_dir``
default to the state directory (:meth:`SamplesConfig.in_state_dir`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator
from pydantic_core import PydanticCustomError

from hal.camera import CameraError, parse_url
from interface.custody import Offset, Site

LEDGER_FILE_NAME = "custody.jsonl"
IMAGES_DIR_NAME = "images"


class _Section(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)


def _bad(kind: str, detail: str) -> PydanticCustomError:
    return PydanticCustomError(kind, "{detail}", {"detail": detail})


def _resolve(path: Path, info: ValidationInfo) -> Path:
    base = (info.context or {}).get("base_dir")
    return path if path.is_absolute() or base is None else Path(base) / path


class SiteConfig(_Section):
    """Where the vehicle digs: the lander's point in ``frame``, with its 1-sigma horizontal
    uncertainty in metres, as signed into every COLLECTED and TRANSFERRED entry."""

    frame: Annotated[str, Field(min_length=1, max_length=64)] = "MOON_ME"
    lat_deg: Annotated[float, Field(ge=-90, le=90)]
    lon_deg: Annotated[float, Field(ge=-180, le=180)]
    height_m: float = 0.0
    sigma_m: Annotated[float, Field(ge=0)]

    def site(self, offset: Offset | None = None) -> Site:
        """The site as an entry records it: the configured point (``source`` config) and the
        rover's offset from it, when there is one (``flight/rover_position.py``)."""
        return Site(source="config", offset=offset, **self.model_dump())


class SamplesConfig(_Section):
    """Sample custody: the ledger file, the vehicle's signing key, the images, the site and
    the load cell's uncertainty. Without ``key_file`` (or ``site``) custody is off: the
    flight says so (``CUSTODY_UNAVAILABLE``) and SAMPLE.* commands fail; the scoop works."""

    ledger: Path | None = None
    key_file: Path | None = None
    images_dir: Path | None = None
    #: The load cell's 1-sigma uncertainty of a weighed mass, grams.
    mass_sigma_g: Annotated[float, Field(ge=0, le=1000)] = 0.5
    #: Which calibration of the load cell the masses come from (signed into each MEASURED).
    calibration: Annotated[str, Field(min_length=1, max_length=200)] = "uncalibrated"
    site: SiteConfig | None = None
    #: How old (mission seconds) a rover position (SAMPLE.POSITION) may be when an entry
    #: uses it; an older one is not used (the site without an offset, POSITION_STALE).
    position_max_age_s: Annotated[float, Field(gt=0, le=86400 * 366)] = 600.0

    @field_validator("ledger", "key_file", "images_dir", mode="before")
    @classmethod
    def _no_path(cls, value: object) -> object:
        return None if value == "" else value

    @field_validator("ledger", "key_file", "images_dir")
    @classmethod
    def _path(cls, value: Path | None, info: ValidationInfo) -> Path | None:
        if value is None:
            return None
        if value.name in ("", ".", ".."):
            raise _bad("not_a_path", "must name a file or directory")
        return _resolve(value, info)

    def in_state_dir(self, state_dir: Path) -> SamplesConfig:
        """This section with ``ledger`` and ``images_dir`` defaulted into ``state_dir``."""
        return self.model_copy(
            update={
                "ledger": self.ledger or state_dir / LEDGER_FILE_NAME,
                "images_dir": self.images_dir or state_dir / IMAGES_DIR_NAME,
            }
        )


class CameraConfig(_Section):
    """The camera: ``/dev/video0`` (V4L2) or ``socket://HOST:PORT`` (the SIL's); none when
    ``url`` is absent (captures are then skipped, CAMERA.CAPTURE fails)."""

    url: str | None = None
    width: Annotated[int, Field(ge=16, le=8192)] = 640
    height: Annotated[int, Field(ge=16, le=8192)] = 480
    #: How long one capture may take before it counts as failed, seconds (real time).
    timeout_s: Annotated[float, Field(gt=0, le=60)] = 5.0
    #: Free space (MiB) a new image must leave on its file system, for the ledger and the
    #: outbox: a picture that would leave less is not stored (a flood of CAMERA.CAPTURE
    #: cannot fill the board's disk).
    min_free_mb: Annotated[int, Field(ge=0, le=1_000_000)] = 64

    @field_validator("url", mode="before")
    @classmethod
    def _no_url(cls, value: object) -> object:
        return None if value == "" else value

    @field_validator("url")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        if value is None:
            return value
        try:
            parse_url(value)  # the HAL's own rule, so a bad URL is found at boot, not at a dig
        except CameraError as exc:
            raise _bad("camera_url", f"{value!r}: {exc.reason}") from None
        return value
