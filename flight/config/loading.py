"""Loading the flight configuration: defaults, the TOML file, ``ISRU_...`` environment
variables and the caller's overrides (CLI flags), layered by pydantic-settings in that order
of precedence, then validated as one :class:`~flight.config.model.FlightConfig`.

Every problem is reported at once as ``<dotted.key>: <what is wrong>`` in a
:class:`ConfigError`, naming the variable or override it came from; nothing here raises
anything else.

Environment: ``ISRU_VEHICLE``, ``ISRU_MQTT__BROKER``, ``ISRU_DEVICES__SCOOP__URL``,
``ISRU_LIMITS__ELEC__H2_PRESSURE_KPA__RED_HIGH``... (sections joined by ``__``). Variables
whose first part is not a section of the file are ignored: they belong to someone else.
"""

from __future__ import annotations

import difflib
import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Any, get_args, get_origin

from pydantic import BaseModel, ValidationError, create_model
from pydantic.fields import FieldInfo
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    InitSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from flight.config.model import FlightConfig

ENV_PREFIX = "ISRU_"
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
    document = _read_toml(path)
    problems: list[str] = []
    given: dict[str, Any] = {}
    sources: dict[str, str] = {}
    for key, value in overrides.items():
        if value is not None:
            problem = _set(given, str(key), value, beneath=document)
            if problem:
                problems.append(f"{problem} (from override)")
            sources[str(key)] = "override"
    if problems:
        raise ConfigError(path, problems)
    layers = _Layers(document, os.environ if environ is None else environ)
    for key in _dotted(layers.environment()):
        sources.setdefault(key, ENV_PREFIX + key.replace(".", "__").upper())
    merged = layers(**given).model_dump(exclude_unset=True)
    try:
        return FlightConfig.model_validate(merged, context={"base_dir": path.absolute().parent})
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


# --- the layers --------------------------------------------------------------------------


class _Layered(BaseSettings):
    """The sections of the configuration as raw tables, merged by pydantic-settings;
    :class:`FlightConfig` then checks the merged document, so its errors name its keys."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_nested_delimiter="__",
        case_sensitive=False,
        enable_decoding=False,  # a value stays text: FlightConfig says what is wrong with it
        extra="allow",  # unknown keys go on to FlightConfig, which names them
    )


def _raw(field: FieldInfo) -> tuple[Any, Any]:
    """A section's raw type: a table for a model or a mapping (so that ``__`` variables are
    gathered into it), else any value; FlightConfig checks what it is."""
    annotation = field.annotation
    table = get_origin(annotation) is dict or (
        isinstance(annotation, type) and issubclass(annotation, BaseModel)
    )
    return (dict[str, Any] | Any, None) if table else (Any, None)


_Sections: type[_Layered] = create_model(  # type: ignore[call-overload]
    "_Sections",
    __base__=_Layered,
    **{name: _raw(field) for name, field in FlightConfig.model_fields.items()},
)


class _Environment(EnvSettingsSource):
    """``ISRU_...`` variables from a given mapping; a limit's channel name (``ELEC__H2...``)
    is one key with a dot, as in the file (``[limits."elec.h2_pressure_kpa"]``)."""

    def __init__(self, settings_cls: type[BaseSettings], environ: Mapping[str, str]) -> None:
        super().__init__(settings_cls)
        self.env_vars = {name.lower(): value for name, value in environ.items()}

    def explode_env_vars(
        self, field_name: str, field: FieldInfo, env_vars: Mapping[str, str | None]
    ) -> dict[str, Any]:
        exploded = super().explode_env_vars(field_name, field, env_vars)
        if field_name != "limits":
            return exploded
        joined: dict[str, Any] = {}
        for board, channels in exploded.items():
            if isinstance(channels, dict):
                joined |= {f"{board}.{channel}": v for channel, v in channels.items()}
            else:
                joined[board] = channels
        return joined


class _Layers:
    """Makes the settings class whose sources are this file's document and this environment."""

    def __init__(self, document: dict[str, Any], environ: Mapping[str, str]) -> None:
        self._document, self._environ = document, environ

    def environment(self) -> dict[str, Any]:
        return _Environment(_Sections, self._environ)()

    def __call__(self, **given: Any) -> BaseSettings:
        document, environ = self._document, self._environ

        class _Loaded(_Sections):  # type: ignore[misc, valid-type]
            @classmethod
            def settings_customise_sources(
                cls, settings_cls: type[BaseSettings], init_settings: Any, **_: Any
            ) -> tuple[PydanticBaseSettingsSource, ...]:
                file = InitSettingsSource(settings_cls, init_kwargs=document)
                return init_settings, _Environment(settings_cls, environ), file

        return _Loaded(**given)


# --- naming the problems -----------------------------------------------------------------


def _split(key: str) -> list[str]:
    parts = key.split(".")
    if parts[0] == "limits" and len(parts) == 4:  # the channel name has a dot of its own
        parts = ["limits", f"{parts[1]}.{parts[2]}", parts[3]]
    return parts


def _set(data: dict[str, Any], key: str, value: object, *, beneath: Any) -> str | None:
    """Put one dotted override into ``data`` as nested tables; the problem, if any (a key
    that goes into what is a value in ``data`` or in the file's document, ``beneath``)."""
    parts = _split(key)
    if not all(parts):
        return f"{key}: not a dotted key"
    node = data
    for depth, part in enumerate(parts[:-1]):
        child = node.setdefault(part, {})
        beneath = beneath.get(part, {}) if isinstance(beneath, dict) else beneath
        if not isinstance(child, dict) or not isinstance(beneath, dict):
            return f"{'.'.join(parts[: depth + 1])}: is a value, not a table"
        node = child
    node[parts[-1]] = value
    return None


def _dotted(tables: Mapping[str, Any], prefix: str = "") -> list[str]:
    keys = []
    for key, value in tables.items():
        if isinstance(value, Mapping):
            keys += _dotted(value, f"{prefix}{key}.")
        else:
            keys.append(f"{prefix}{key}")
    return keys


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
