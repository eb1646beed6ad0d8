"""The flight configuration's model: its sections, their checks, the limits it overrides.
Relative paths (``state.dir``, ``outbox.path``, ``mqtt.*_file``) are relative to the config
file's directory, the validation context's ``base_dir`` (:mod:`flight.config.loading`)."""

from __future__ import annotations

import difflib
import itertools
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from flight.config.samples import CameraConfig, SamplesConfig
from interface.broker import parse_broker
from interface.catalog import DICTIONARY
from interface.dictionary import Limits, SafingResponse
from interface.signing import PasswordFileError, read_password

DEFAULT_STATE_DIR = Path("/var/lib/isru-payload")
OUTBOX_FILE_NAME = "outbox.db"
SERIAL_SCHEMES = ("socket", "rfc2217", "loop", "spy", "alt", "hwgrep", "cp2110")
LIMIT_ORDER = ("red_low", "yellow_low", "yellow_high", "red_high")


def _bad(kind: str, detail: str) -> PydanticCustomError:
    return PydanticCustomError(kind, "{detail}", {"detail": detail})


def _check_serial_url(url: str) -> str:
    scheme, sep, _ = url.partition("://")
    if not sep:
        if not url.startswith("/"):
            raise _bad("serial_url", f"{url!r}: a device path must be absolute, or socket://h:p")
        return url
    if scheme not in SERIAL_SCHEMES:
        raise _bad("serial_url", f"unknown scheme {scheme!r}, use one of {SERIAL_SCHEMES}")
    if scheme == "socket":
        try:
            port = urlsplit(url).port
        except ValueError:
            port = None
        if not urlsplit(url).hostname or port is None:
            raise _bad("serial_url", "socket:// needs host:port")
    return url


def _check_channel(name: str) -> str:
    channel = DICTIONARY.channel_index.get(name)
    if channel is None:
        close = difflib.get_close_matches(name, DICTIONARY.channel_index, n=1)
        hint = f" (did you mean {close[0]}?)" if close else ""
        raise _bad("not_a_channel", f"not a channel of the dictionary{hint}")
    if channel.type not in ("float", "int", "bool"):
        raise _bad("not_numeric", f"limits need a numeric channel, this is {channel.type}")
    return name


def _resolve(path: Path, info: ValidationInfo) -> Path:
    base = (info.context or {}).get("base_dir")
    return path if path.is_absolute() or base is None else Path(base) / path


class _Section(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)


class DeviceConfig(_Section):
    """One board's serial link: the arguments of ``hal.link.SerialLink``."""

    url: Annotated[str, Field(min_length=1), AfterValidator(_check_serial_url)]
    baudrate: Annotated[int, Field(gt=0, le=4_000_000)] = 115200
    timeout_s: Annotated[float, Field(gt=0, le=60)] = 0.2
    retries: Annotated[int, Field(ge=0, le=20)] = 3
    reconnect_s: Annotated[float, Field(gt=0, le=60)] = 0.25
    read_hold_s: Annotated[float, Field(ge=0, le=0.25)] = 0.1


class DevicesConfig(_Section):
    scoop: DeviceConfig
    elec: DeviceConfig
    oven: DeviceConfig


Rate = Annotated[float, Field(gt=0, le=100)]


class TelemetryConfig(_Section):
    """Board stream rates and the core packet's rate, in Hz, and how long a telemetry message
    may wait to be sent with others (``gather_s``: less CPU, each message up to that much
    later to the broker; its ``time`` is not changed)."""

    scoop_hz: Rate = 10.0
    elec_hz: Rate = 10.0
    oven_hz: Rate = 10.0
    core_hz: Rate = 1.0
    gather_s: Annotated[float, Field(ge=0, le=0.25)] = 0.0


class CommandingConfig(_Section):
    arm_window_s: Annotated[float, Field(gt=0, le=3600)] = 10.0


class LimitOverride(_Section):
    """Any subset of a channel's :class:`~interface.dictionary.Limits`; the rest as defined."""

    red_low: float | None = None
    yellow_low: float | None = None
    yellow_high: float | None = None
    red_high: float | None = None
    persistence: Annotated[int, Field(ge=1, le=1000)] | None = None
    response: SafingResponse | None = None


class StateConfig(_Section):
    dir: Path = DEFAULT_STATE_DIR

    @field_validator("dir")
    @classmethod
    def _dir(cls, value: Path, info: ValidationInfo) -> Path:
        if str(value) in ("", "."):
            raise _bad("empty", "must name a directory")
        return _resolve(value, info)


class OutboxConfig(_Section):
    """The durable outbox (:mod:`flight.mqtt.outbox`): where it lives, how big and old it may get.

    ``path`` empty or absent means ``<state.dir>/outbox.db``; :class:`FlightConfig` fills it in,
    so a loaded configuration's ``outbox.path`` is never None.
    """

    path: Path | None = None
    max_rows: Annotated[int, Field(ge=1)] = 1_000_000
    max_age_s: Annotated[float, Field(gt=0)] = 7 * 86400.0
    sync: Literal["normal", "full"] = "normal"

    @field_validator("path", mode="before")
    @classmethod
    def _no_path(cls, value: object) -> object:
        return None if value == "" else value

    @field_validator("path")
    @classmethod
    def _path(cls, value: Path | None, info: ValidationInfo) -> Path | None:
        if value is None:
            return None
        if value.name in ("", ".", ".."):
            raise _bad("not_a_file", "must name a file")
        return _resolve(value, info)


class MqttConfig(_Section):
    """The broker (``mqtt://host[:port]``, ``mqtts://``) and command authentication.

    With a ``key_file`` every command is authenticated. Without one, ``isru flight`` starts
    only if ``allow_unsigned`` says unsigned commands are acceptable (bench and SIL setups).
    """

    broker: str = "mqtt://127.0.0.1:1883"
    key_file: Path | None = None
    allow_unsigned: bool = False
    #: Broker login (mosquitto password_file); the password is the first line of a file that
    #: only its owner may access (refused otherwise, like the command key).
    username: str = ""
    password_file: Path | None = None
    #: CA certificate that signed the broker's certificate, for ``mqtts://``.
    ca_file: Path | None = None

    @field_validator("broker")
    @classmethod
    def _broker(cls, value: str) -> str:
        try:
            parse_broker(value)  # the one broker URL check of every client of ours
        except ValueError as exc:
            raise _bad("broker", str(exc).removeprefix("broker: ")) from None
        return value

    @field_validator("key_file", "password_file", "ca_file", mode="before")
    @classmethod
    def _no_file(cls, value: object) -> object:
        return None if value == "" else value

    @field_validator("key_file", "password_file", "ca_file")
    @classmethod
    def _existing_file(cls, value: Path | None, info: ValidationInfo) -> Path | None:
        if value is None:
            return None
        value = _resolve(value, info)
        if not value.is_file():
            raise _bad(str(info.field_name), f"{value} is not a file")
        return value

    @field_validator("password_file")
    @classmethod
    def _private(cls, value: Path | None) -> Path | None:
        # The same rule as the command key's and the ground's (interface.signing), checked on
        # the file actually opened: the service must be able to read it, and nobody else.
        if value is not None:
            try:
                read_password(value)
            except PasswordFileError as exc:
                raise _bad("password_file", str(exc)) from None
        return value

    @model_validator(mode="after")
    def _login_complete(self) -> MqttConfig:
        if bool(self.username) != (self.password_file is not None):
            raise _bad("login", "username and password_file go together")
        return self

    def password(self) -> str | None:
        """The broker password (first line of ``password_file``), or None without a login."""
        if self.password_file is None:
            return None
        return read_password(self.password_file)

    @property
    def host(self) -> str:
        return parse_broker(self.broker)[0]

    @property
    def tls(self) -> bool:
        return self.broker.startswith("mqtts://")

    @property
    def port(self) -> int:
        return parse_broker(self.broker)[1]


class FlightConfig(_Section):
    """The whole flight configuration (see ``deploy/flight.example.toml``)."""

    vehicle: Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]{1,32}$")]
    devices: DevicesConfig
    #: Mission time per real second. 1 on real hardware; SIL sets it to the simulator's
    #: speed-up so that verification windows and sequence time tags keep their meaning.
    time_scale: Annotated[float, Field(gt=0, le=1000)] = 1.0
    telemetry: TelemetryConfig = Field(default_factory=TelemetryConfig)
    commanding: CommandingConfig = Field(default_factory=CommandingConfig)
    limits: dict[Annotated[str, AfterValidator(_check_channel)], LimitOverride] = Field(
        default_factory=dict
    )
    state: StateConfig = Field(default_factory=StateConfig)
    outbox: OutboxConfig = Field(default_factory=OutboxConfig)
    mqtt: MqttConfig = Field(default_factory=MqttConfig)
    samples: SamplesConfig = Field(default_factory=SamplesConfig)
    camera: CameraConfig = Field(default_factory=CameraConfig)

    @field_validator("outbox")
    @classmethod
    def _outbox_in_state_dir(cls, outbox: OutboxConfig, info: ValidationInfo) -> OutboxConfig:
        state = info.data.get("state")  # absent when state itself was invalid
        if outbox.path is None and isinstance(state, StateConfig):
            return outbox.model_copy(update={"path": state.dir / OUTBOX_FILE_NAME})
        return outbox

    @field_validator("limits")
    @classmethod
    def _limits_ordered(cls, limits: dict[str, LimitOverride]) -> dict[str, LimitOverride]:
        lines = []
        for name, override in limits.items():
            merged = _merge(DICTIONARY.channel_index[name].limits, override)
            set_ = [(k, getattr(merged, k)) for k in LIMIT_ORDER if getattr(merged, k) is not None]
            for (low, low_v), (high, high_v) in itertools.pairwise(set_):
                if low_v > high_v:
                    lines.append(f"limits.{name}: {low} {low_v} is above {high} {high_v}")
        if lines:
            raise PydanticCustomError("limits_unordered", "{detail}", {"detail": "; ".join(lines)})
        return limits

    @property
    def topic_prefix(self) -> str:
        """``isru/<vehicle>/``: the MQTT namespace of this vehicle."""
        return f"isru/{self.vehicle}/"


def _merge(base: Limits | None, override: LimitOverride) -> Limits:
    changes = override.model_dump(exclude_unset=True)
    return (base or Limits()).model_copy(update=changes)


def effective_limits(config: FlightConfig) -> dict[str, Limits]:
    """Every limited channel's limits: the dictionary's, with the config's overrides merged in."""
    limits = {c.name: c.limits for c in DICTIONARY.channels if c.limits is not None}
    for name, override in config.limits.items():
        limits[name] = _merge(limits.get(name), override)
    return limits
