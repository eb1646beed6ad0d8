"""The command palette (ctrl+p): every command of the dictionary, searched by name, with its
arguments and hazard class; choosing one puts it on the command line to complete.

The palette does not know the console's app: it needs only an app that is a
:class:`CommandTyper` (its dictionary, and a way to put a command on the command line).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol, runtime_checkable

from textual.command import DiscoveryHit, Hit, Hits, Provider

from ground.console.help import argument_text, hazard_text
from interface.dictionary import CommandDef, Dictionary


@runtime_checkable
class CommandTyper(Protocol):
    """What the palette needs of the app it runs in."""

    dictionary: Dictionary

    def type_command(self, command: CommandDef) -> None:
        """Put ``command`` on the command line for the operator to complete."""


def command_help(command: CommandDef) -> str:
    """``depth_mm=<float 5..100 mm>  hazard: -  (dig to a depth)``."""
    args = " ".join(argument_text(a) for a in command.args) or "no arguments"
    return f"{args}   hazard: {hazard_text(command)}   {command.description}"


class DictionaryCommands(Provider):
    """The dictionary's commands, for Textual's command palette."""

    def _console(self) -> CommandTyper:
        app = self.app
        if not isinstance(app, CommandTyper):
            raise TypeError(f"the command palette needs a CommandTyper app, not {app!r}")
        return app

    def _commands(self) -> list[tuple[CommandDef, Callable[[], None]]]:
        app = self._console()
        return [(c, _typer(app, c)) for c in app.dictionary.commands]

    async def discover(self) -> Hits:
        for command, choose in self._commands():
            yield DiscoveryHit(command.name, choose, help=command_help(command))

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for command, choose in self._commands():
            score = matcher.match(command.name)
            if score > 0:
                yield Hit(
                    score, matcher.highlight(command.name), choose, help=command_help(command)
                )


def _typer(app: CommandTyper, command: CommandDef) -> Callable[[], None]:
    def choose() -> None:
        app.type_command(command)

    return choose
