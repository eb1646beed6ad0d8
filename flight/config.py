"""The flight application's configuration: the TOML file, its checks, and the limits it overrides.

``load_config`` reads the file, applies ``ISRU_...`` environment variables and then the
caller's overrides (CLI flags), and validates the result. Every problem is reported at once as
``<dotted.key>: <what is wrong>`` in a :class:`ConfigError`; nothing here raises anything else.

Environment: ``ISRU_VEHICLE``, ``ISRU_MQTT__BROKER``, ``ISRU_DEVICES__SCOOP__URL``,
``ISRU_LIMITS__ELEC__H2_PRESSURE_KPA__RED_HIGH``... (sections joined by ``__``). Variables
whose first part is not a section of the file are ignored: they belong to someone else.
Relative paths (``state.dir``, ``outbox.path``, ``mqtt.key_file``) are relative to the config
file's directory; an empty ``outbox.path`` means ``<state.dir>/outbox.db``.
"""

from __future__ import annotations

import difflib
import itertools
import os
import tomllib
from collections.abc import Iterator, Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Annotated, Any, Literal, get_args, get_origin
from urllib.parse import urlsplit

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from interface.catalog import DICTIONARY
from interface.dictionary import Limits, SafingResponse
from interface.signing import access_problem

ENV_PREFIX = "ISRU_"
DEFAULT_STATE_DIR = Path("/var/lib/isru-payload")
OUTBOX_FILE_NAME = "outbox.db"
SERIAL_SCHEMES = ("socket", "rfc2217", "loop", "spy", "alt", "hwgrep", "cp2110")
LIMIT_ORDER = ("red_low", "yellow_low", "yellow_high", "red_high")
_NO_OVERRIDES: Mapping[str, object] = MappingProxyType({})


class ConfigError(Exception):
    """A configuration that cannot be used; ``problems`` are ``<dotted.key>: <what>`` lines."""

    def __init__(self, path: Path, problems: list[str]) -> None:
        if not problems:
            raise ValueError("problems: must name at least one problem")
        self.path = path
        self.problems = list(problems)
        listing = "\n".join(f"  - {problem}" for problem in self.problems)
        super().__init__(f"configuration {path} is not valid:\n{listing}")


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


class DevicesConfig(_Section):
    scoop: DeviceConfig
    elec: DeviceConfig


Rate = Annotated[float, Field(gt=0, le=100)]


class TelemetryConfig(_Section):
    """Board stream rates and the core packet's rate, in Hz."""

    scoop_hz: Rate = 10.0
    elec_hz: Rate = 10.0
    core_hz: Rate = 1.0


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
    """The durable outbox of :mod:`flight.outbox`: where it lives and how big and old it may get.

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
        split = urlsplit(value)
        if split.scheme not in ("mqtt", "mqtts") or not split.hostname:
            raise _bad("broker", "must be mqtt://host:port or mqtts://host:port")
        if split.username or split.password:
            raise _bad("broker", "credentials in the URL are not supported")
        if split.path not in ("", "/") or split.query or split.fragment:
            raise _bad("broker", "must not have a path, query or fragment")
        try:
            split.port  # noqa: B018 - parsing it is the check
        except ValueError as exc:
            raise _bad("broker", f"bad port: {exc}") from None
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
        # The same refusal as the command key's (interface.signing.load_key), checked on the file
        # actually opened: the service must be able to read it, and nobody else.
        if value is None:
            return None
        try:
            fd = os.open(value, os.O_RDONLY | os.O_NONBLOCK)
        except OSError as exc:
            why = "permission denied" if isinstance(exc, PermissionError) else exc.strerror
            raise _bad("password_file", f"password file {value}: not readable: {why}") from None
        try:
            problem = access_problem(value, os.fstat(fd).st_mode)
        finally:
            os.close(fd)
        if problem is not None:
            raise _bad("password_file", f"password file {value}: {problem}")
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
        lines = self.password_file.read_text().splitlines()
        return lines[0] if lines else ""

    @property
    def host(self) -> str:
        return urlsplit(self.broker).hostname or ""

    @property
    def tls(self) -> bool:
        return self.broker.startswith("mqtts://")

    @property
    def port(self) -> int:
        return urlsplit(self.broker).port or (8883 if self.tls else 1883)


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


def load_config(
    path: Path,
    *,
    overrides: Mapping[str, object] = _NO_OVERRIDES,
    environ: Mapping[str, str] | None = None,
) -> FlightConfig:
    """The configuration in ``path``, then ``ISRU_...`` variables, then ``overrides``.

    ``overrides`` maps dotted keys (``"vehicle"``, ``"mqtt.broker"``,
    ``"limits.elec.h2_pressure_kpa.red_high"``) to values; ``None`` values are skipped so a
    CLI can pass its unset flags. ``environ`` defaults to ``os.environ``.
    """
    path = Path(path)
    data = _read_toml(path)
    sources: dict[str, str] = {}
    problems: list[str] = []
    env = os.environ if environ is None else environ
    for key, value, source in [*_env_items(env), *_override_items(overrides)]:
        problem = _set(data, key, value)
        if problem:
            problems.append(f"{problem} (from {source})")
        sources[key] = source
    if problems:
        raise ConfigError(path, problems)
    try:
        return FlightConfig.model_validate(data, context={"base_dir": path.absolute().parent})
    except ValidationError as exc:
        raise ConfigError(path, _describe(exc, sources)) from None


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        text = path.read_bytes().decode("utf-8")
        return tomllib.loads(text)
    except FileNotFoundError:
        problem = "file not found"
    except IsADirectoryError:
        problem = "is a directory, not a file"
    except PermissionError:
        problem = "not readable: permission denied"
    except OSError as exc:
        problem = f"not readable: {exc.strerror or exc}"
    except UnicodeDecodeError as exc:
        problem = f"not valid UTF-8 (byte {exc.start})"
    except tomllib.TOMLDecodeError as exc:
        problem = f"not valid TOML: {exc}"
    raise ConfigError(path, [problem])


def _env_items(environ: Mapping[str, str]) -> Iterator[tuple[str, object, str]]:
    for name, value in sorted(environ.items()):
        parts = name.removeprefix(ENV_PREFIX).lower().split("__")
        if name.startswith(ENV_PREFIX) and parts[0] in FlightConfig.model_fields:
            yield ".".join(parts), value, name


def _override_items(overrides: Mapping[str, object]) -> Iterator[tuple[str, object, str]]:
    for key, value in overrides.items():
        if value is not None:
            yield str(key), value, "override"


def _split(key: str) -> list[str]:
    parts = key.split(".")
    if parts[0] == "limits" and len(parts) == 4:  # the channel name has a dot of its own
        parts = ["limits", f"{parts[1]}.{parts[2]}", parts[3]]
    return parts


def _set(data: dict[str, Any], key: str, value: object) -> str | None:
    parts = _split(key)
    if not all(parts):
        return f"{key}: not a dotted key"
    node = data
    for depth, part in enumerate(parts[:-1]):
        child = node.setdefault(part, {})
        if not isinstance(child, dict):
            return f"{'.'.join(parts[: depth + 1])}: is a value, not a table"
        node = child
    node[parts[-1]] = value
    return None


def _describe(exc: ValidationError, sources: Mapping[str, str]) -> list[str]:
    problems = []
    for error in exc.errors():
        loc = [str(part) for part in error["loc"] if part != "[key]"]
        where = ".".join(loc) or "(top level)"
        kind = error["type"]
        if kind == "limits_unordered":
            problems.extend(error["msg"].split("; "))
            continue
        if kind == "missing":
            what = "missing"
        elif kind == "extra_forbidden":
            close = difflib.get_close_matches(loc[-1], _keys_at(loc[:-1]), n=1)
            what = "unknown key" + (f" (did you mean {close[0]}?)" if close else "")
        else:
            what = error["msg"]
            custom = "detail" in error.get("ctx", {})
            if not custom and isinstance(error["input"], str | int | float | bool):
                what += f" (got {error['input']!r})"
        source = next((s for k, s in sources.items() if f"{where}.".startswith(f"{k}.")), None)
        problems.append(f"{where}: {what}" + (f" (from {source})" if source else ""))
    return problems


def _keys_at(loc: list[str]) -> list[str]:
    node: Any = FlightConfig
    for part in loc:
        if get_origin(node) is dict:
            node = get_args(node)[1]
        elif isinstance(node, type) and issubclass(node, BaseModel) and part in node.model_fields:
            node = node.model_fields[part].annotation
        else:
            return []
    return list(node.model_fields) if isinstance(node, type) and issubclass(node, BaseModel) else []
