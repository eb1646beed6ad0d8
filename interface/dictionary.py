"""The dictionary's schema: commands, telemetry channels and events as pydantic models."""

from __future__ import annotations

import enum
import hashlib
import json
from collections.abc import Mapping
from functools import cached_property
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, create_model, model_validator

NAME_PATTERN = r"^[A-Z][A-Z0-9]*\.[A-Z][A-Z0-9_]*$"
CHANNEL_PATTERN = r"^[a-z][a-z0-9]*\.[a-z][a-z0-9_]*$"
ChannelType = Literal["float", "int", "bool", "enum", "str"]


class Severity(enum.StrEnum):
    DIAGNOSTIC = "DIAGNOSTIC"
    INFO = "INFO"
    WARNING = "WARNING"
    ERROR = "ERROR"
    FATAL = "FATAL"


class Mode(enum.StrEnum):
    """The payload's mode. SAFE at boot: every actuator off until commanded.

    OPERATING while any device is busy (arm moving, cell running); each device's own
    operating state is its ``<board>.state`` channel.
    """

    SAFE = "SAFE"
    IDLE = "IDLE"
    OPERATING = "OPERATING"


class SafingResponse(enum.StrEnum):
    """What a red limit does once it has persisted."""

    NONE = "NONE"
    STOP_SCOOP = "STOP_SCOOP"
    STOP_CELL = "STOP_CELL"
    VENT_H2 = "VENT_H2"
    VENT_O2 = "VENT_O2"
    SAFE = "SAFE"


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ArgDef(_Frozen):
    """One typed, ranged command argument."""

    name: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$")]
    type: Literal["int", "float", "bool", "enum", "str"]
    unit: str = ""
    min: float | None = None
    max: float | None = None
    choices: tuple[str, ...] = ()
    max_length: int | None = None
    description: str = ""

    @model_validator(mode="after")
    def _check(self) -> ArgDef:
        if self.type == "enum" and not self.choices:
            raise ValueError(f"{self.name}: an enum argument needs choices")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"{self.name}: min {self.min} is above max {self.max}")
        return self

    def annotation(self) -> Any:
        """The pydantic type of this argument, with its range."""
        if self.type == "enum":
            return Literal[self.choices]
        if self.type == "bool":
            return bool
        if self.type == "str":
            return Annotated[str, Field(max_length=self.max_length, description=self.description)]
        if self.type == "int":
            return Annotated[int, Field(ge=self.min, le=self.max, description=self.description)]
        return Annotated[
            float,
            Field(ge=self.min, le=self.max, allow_inf_nan=False, description=self.description),
        ]


class CommandDef(_Frozen):
    """A command: its arguments, the modes that allow it, and how long completion may take."""

    name: Annotated[str, Field(pattern=NAME_PATTERN)]
    description: str
    args: tuple[ArgDef, ...] = ()
    hazardous: bool = False
    #: Hazardous only when an argument is above a value, e.g. ``{"current_a": 5.0}``.
    hazardous_above: dict[str, float] = Field(default_factory=dict)
    modes: tuple[Mode, ...] = (Mode.IDLE, Mode.OPERATING)
    completion_timeout_s: float = 5.0
    #: False for commands that manage sequences themselves: a sequence may not run them.
    in_sequences: bool = True

    def is_hazardous(self, args: dict[str, Any]) -> bool:
        """Whether these arguments (validated first) make this command need ARM then FIRE."""
        return self.hazardous or any(
            float(args.get(name, 0)) > limit for name, limit in self.hazardous_above.items()
        )

    @cached_property
    def args_model(self) -> type[BaseModel]:
        """A strict pydantic model of the arguments, for validation and JSON Schema."""
        fields: dict[str, Any] = {a.name: (a.annotation(), ...) for a in self.args}
        model: type[BaseModel] = create_model(  # type: ignore[call-overload]
            self.name.replace(".", "_") + "_Args",
            # Strict: JSON true is not 1 A, and "yes" is not an open valve.
            __config__=ConfigDict(extra="forbid", strict=True),
            **fields,
        )
        return model

    def validate_args(self, args: dict[str, Any]) -> dict[str, Any]:
        """The arguments coerced to their types; raise :class:`ArgumentError` naming the problem."""
        try:
            return self.args_model.model_validate(args).model_dump()
        except ValidationError as exc:
            raise ArgumentError(self.name, _first_problem(exc)) from None


class Limits(_Frozen):
    """Yellow and red limits of a channel, with the persistence that makes them count."""

    red_low: float | None = None
    yellow_low: float | None = None
    yellow_high: float | None = None
    red_high: float | None = None
    persistence: Annotated[int, Field(ge=1, le=1000)] = 3
    response: SafingResponse = SafingResponse.NONE


class ChannelDef(_Frozen):
    """A telemetry channel: name, type, unit, the packet it travels in and its limits."""

    name: Annotated[str, Field(pattern=CHANNEL_PATTERN)]
    type: ChannelType
    unit: str = ""
    packet: str
    description: str = ""
    choices: tuple[str, ...] = ()
    limits: Limits | None = None


class EventDef(_Frozen):
    """An event: a stable id, its severity, and a message template with ``{named}`` fields."""

    id: Annotated[str, Field(pattern=r"^[A-Z][A-Z0-9_]*$")]
    severity: Severity
    template: str


class InterlockDef(_Frozen):
    """A rule that refuses commands unless a telemetry condition holds: interlocks are data.

    ``when`` narrows it to some arguments: ``{"target": "OVEN"}`` applies it to a command
    only when its ``target`` is ``OVEN`` (an enum choice, or ``true``/``false`` for a bool).
    """

    name: Annotated[str, Field(pattern=r"^[A-Z][A-Z0-9_]*$")]
    commands: tuple[str, ...]
    require: str
    description: str
    when: dict[str, str] = Field(default_factory=dict)

    def applies(self, args: Mapping[str, Any]) -> bool:
        """Whether these (validated) arguments are the ones this interlock guards."""
        return all(_arg_text(args.get(name)) == value for name, value in self.when.items())


class ArgumentError(ValueError):
    """Command arguments that do not fit the dictionary; ``detail`` names the argument."""

    def __init__(self, command: str, detail: str) -> None:
        super().__init__(f"{command}: {detail}")
        self.command = command
        self.detail = detail


class Dictionary(_Frozen):
    """Every command, channel and event of this build: the single source of truth."""

    version: str
    commands: tuple[CommandDef, ...]
    channels: tuple[ChannelDef, ...]
    events: tuple[EventDef, ...]
    interlocks: tuple[InterlockDef, ...] = ()

    @model_validator(mode="after")
    def _unique(self) -> Dictionary:
        for kind, names in (
            ("command", [c.name for c in self.commands]),
            ("channel", [c.name for c in self.channels]),
            ("event", [e.id for e in self.events]),
            ("interlock", [i.name for i in self.interlocks]),
        ):
            seen: set[str] = set()
            for name in names:
                if name in seen:
                    raise ValueError(f"{kind} {name} is defined twice")
                seen.add(name)
        for interlock in self.interlocks:
            for name in interlock.commands:
                command = self.command_index.get(name)
                if command is None:
                    raise ValueError(f"interlock {interlock.name}: unknown command {name}")
                _check_when(interlock, command)
        return self

    @cached_property
    def command_index(self) -> dict[str, CommandDef]:
        return {c.name: c for c in self.commands}

    @cached_property
    def channel_index(self) -> dict[str, ChannelDef]:
        return {c.name: c for c in self.channels}

    @cached_property
    def event_index(self) -> dict[str, EventDef]:
        return {e.id: e for e in self.events}

    def export(self) -> dict[str, Any]:
        """The JSON document of the dictionary, with a JSON Schema for each command's args.
        Members without a value (a channel without limits, an argument without a range) are
        left out, not written as ``null``, as in every MQTT message (the hash is unaffected)."""
        document = self.model_dump(mode="json", exclude_none=True)
        for command, exported in zip(self.commands, document["commands"], strict=True):
            exported["args_schema"] = command.args_model.model_json_schema()
        document["hash"] = self.hash
        return document

    @cached_property
    def hash(self) -> str:
        """A stable short hash of the dictionary's content: it identifies the build."""
        canonical = json.dumps(self.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()[:16]


def _arg_text(value: object) -> str | None:
    """An argument value as an interlock's ``when`` writes it."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return value if isinstance(value, str) else None


def _check_when(interlock: InterlockDef, command: CommandDef) -> None:
    args = {a.name: a for a in command.args}
    for name, value in interlock.when.items():
        arg = args.get(name)
        if arg is None:
            raise ValueError(f"interlock {interlock.name}: {command.name} has no argument {name}")
        allowed = ("true", "false") if arg.type == "bool" else arg.choices
        if value not in allowed:
            raise ValueError(
                f"interlock {interlock.name}: {command.name} {name}={value} is not one of "
                f"{', '.join(allowed) or 'its values (only enum and bool arguments)'}"
            )


def _first_problem(exc: ValidationError) -> str:
    error = exc.errors()[0]
    where = ".".join(str(part) for part in error["loc"]) or "args"
    if error["type"] == "missing":
        return f"{where}: missing"
    if error["type"] == "extra_forbidden":
        return f"{where}: not an argument of this command"
    return f"{where}: {error['msg']} (got {error.get('input')!r})"
