"""The command line's language: ``NAME arg=value ...`` checked against the dictionary, local
``:verbs``, and completion of command names, argument names and choices. No widgets here."""

from __future__ import annotations

import difflib
import shlex
from dataclasses import dataclass, field
from typing import Any

from interface.dictionary import ArgDef, ArgumentError, CommandDef, Dictionary

#: Local verbs (typed after ``:``) and what they take, for completion and help.
LOCAL_VERBS = {
    "plot": "CHANNEL  add a sparkline of a channel",
    "unplot": "CHANNEL  remove a sparkline",
    "seq": "upload FILE [NAME] | start NAME | abort",
    "help": "show the keys and the command syntax",
    "quit": "leave the console",
}
_TRUE = {"true", "1", "yes", "on"}
_FALSE = {"false", "0", "no", "off"}


class CommandLineError(ValueError):
    """A command line the console will not send; the message is shown inline."""


@dataclass(frozen=True, slots=True)
class Parsed:
    """A command ready to send: its definition and its arguments, typed and checked."""

    definition: CommandDef
    args: dict[str, Any] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.definition.name

    @property
    def hazardous(self) -> bool:
        return self.definition.is_hazardous(self.args)

    def text(self) -> str:
        """The command as an operator would type it."""
        args = " ".join(f"{k}={_show(v)}" for k, v in self.args.items())
        return f"{self.name} {args}".strip()


def parse_command(line: str, dictionary: Dictionary) -> Parsed:
    """``SCOOP.DIG depth_mm=30`` as a checked :class:`Parsed`; CommandLineError if not sendable."""
    words = split(line)
    if not words:
        raise CommandLineError("type a command, e.g. CORE.NOOP (F1 for help)")
    name = words[0].upper()
    definition = dictionary.command_index.get(name)
    if definition is None:
        close = difflib.get_close_matches(name, list(dictionary.command_index), n=1)
        hint = f" (did you mean {close[0]}?)" if close else ""
        raise CommandLineError(f"{words[0]}: not a command{hint}")
    specs = {a.name: a for a in definition.args}
    args: dict[str, Any] = {}
    for word in words[1:]:
        key, equals, raw = word.partition("=")
        if not equals or not key:
            raise CommandLineError(f"{word!r}: arguments are name=value")
        if key in args:
            raise CommandLineError(f"{key}: given twice")
        spec = specs.get(key)
        if spec is None:
            takes = ", ".join(specs) or "none"
            raise CommandLineError(f"{key}: not an argument of {name} (arguments: {takes})")
        args[key] = _convert(spec, raw)
    try:
        definition.validate_args(args)
    except ArgumentError as exc:
        raise CommandLineError(str(exc)) from None
    return Parsed(definition, args)


def split(line: str) -> list[str]:
    """Shell-like words (quotes allowed); CommandLineError for an unclosed quote."""
    try:
        return shlex.split(line)
    except ValueError as exc:
        raise CommandLineError(f"cannot read the line: {exc}") from None


def complete(line: str, dictionary: Dictionary) -> str | None:
    """The whole line with its last word completed, or None when nothing fits."""
    if line.startswith(":"):
        return _complete_local(line, dictionary)
    head, _, last = line.rpartition(" ")
    if not head.strip():
        if line != line.lstrip():
            return None
        return _complete_name(line, dictionary)
    definition = dictionary.command_index.get(head.split()[0].upper())
    if definition is None:
        return None
    prefix = f"{head} "
    key, equals, raw = last.partition("=")
    if equals:
        spec = next((a for a in definition.args if a.name == key), None)
        choices = _choices(spec) if spec is not None else ()
        found = _first(choices, raw)
        return None if found is None else f"{prefix}{key}={found}"
    used = {w.partition("=")[0] for w in head.split()[1:]}
    free = [a.name for a in definition.args if a.name not in used]
    found = _first(free, last)
    return None if found is None else f"{prefix}{found}="


def _complete_name(word: str, dictionary: Dictionary) -> str | None:
    upper = word.upper()
    definition = dictionary.command_index.get(upper)
    if definition is not None:
        # A complete name: offer its first argument.
        return f"{word} {definition.args[0].name}=" if definition.args else None
    return _first(sorted(dictionary.command_index), upper)


def _complete_local(line: str, dictionary: Dictionary) -> str | None:
    words = line[1:].split(" ")
    if len(words) == 1:
        found = _first(list(LOCAL_VERBS), words[0])
        return None if found is None else f":{found} "
    if words[0] in ("plot", "unplot") and len(words) == 2:
        channels = [c.name for c in dictionary.channels]
        found = _first(channels, words[1])
        return None if found is None else f":{words[0]} {found}"
    if words[0] == "seq" and len(words) == 2:
        found = _first(["upload", "start", "abort"], words[1])
        return None if found is None else f":seq {found}"
    return None


def _first(options: list[str] | tuple[str, ...], prefix: str) -> str | None:
    """The first option that starts with ``prefix`` (any case) and is longer than it."""
    folded = prefix.casefold()
    return next(
        (o for o in options if o.casefold().startswith(folded) and len(o) > len(prefix)), None
    )


def _choices(spec: ArgDef) -> tuple[str, ...]:
    if spec.type == "bool":
        return ("true", "false")
    return spec.choices


def _convert(spec: ArgDef, raw: str) -> Any:
    """A typed value for ``spec``; the raw text when it cannot be read, for the dictionary's
    own check to name the problem."""
    if spec.type == "int":
        try:
            return int(raw)
        except ValueError:
            raise CommandLineError(f"{spec.name}: {raw!r} is not a whole number") from None
    if spec.type == "float":
        try:
            return float(raw)
        except ValueError:
            raise CommandLineError(f"{spec.name}: {raw!r} is not a number") from None
    if spec.type == "bool":
        if raw.casefold() in _TRUE:
            return True
        if raw.casefold() in _FALSE:
            return False
        raise CommandLineError(f"{spec.name}: {raw!r} is not true or false")
    if spec.type == "enum":
        match = next((c for c in spec.choices if c.casefold() == raw.casefold()), None)
        if match is None:
            raise CommandLineError(f"{spec.name}: {raw!r} is not one of {', '.join(spec.choices)}")
        return match
    return raw


def _show(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    text = str(value)
    return shlex.quote(text) if text != shlex.quote(text) else text
