"""The command palette (ctrl+p): every command of the dictionary, searched by name, with its
arguments and hazard class; choosing one puts it on the command line to complete."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from textual.command import DiscoveryHit, Hit, Hits, Provider

from ground.console.help import argument_text, hazard_text
from interface.dictionary import CommandDef

if TYPE_CHECKING:
    from ground.console.app import ConsoleApp


def command_help(command: CommandDef) -> str:
    """``depth_mm=<float 5..100 mm>  hazard: -  (dig to a depth)``."""
    args = " ".join(argument_text(a) for a in command.args) or "no arguments"
    return f"{args}   hazard: {hazard_text(command)}   {command.description}"


class DictionaryCommands(Provider):
    """The dictionary's commands, for Textual's command palette."""

    def _console(self) -> ConsoleApp:
        from ground.console.app import ConsoleApp

        app = self.app
        assert isinstance(app, ConsoleApp)
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


def _typer(app: ConsoleApp, command: CommandDef) -> Callable[[], None]:
    def choose() -> None:
        app.type_command(command)

    return choose
