"""The command line's local verbs (``:plot``, ``:unplot``, ``:help``, ``:quit``, ``:seq``):
what the console does itself instead of sending a command."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from ground.console.parse import CommandLineError
from ground.console.predict import PredictionFailed, run_prediction, summary

if TYPE_CHECKING:
    from ground.console.app import ConsoleApp


def run_local_verb(app: ConsoleApp, verb: str, rest: list[str]) -> None:
    """Do ``:verb rest...``; CommandLineError (shown on the command bar) when it is wrong."""
    if verb in ("plot", "unplot"):
        if len(rest) != 1 or rest[0] not in app.dictionary.channel_index:
            raise CommandLineError(f"usage: :{verb} CHANNEL (a channel of the dictionary)")
        if verb == "plot":
            app.plot_panel.add(rest[0])
            app.command_bar.show(f"plotting {rest[0]}")
        elif app.plot_panel.remove_plot(rest[0]):
            app.command_bar.show(f"{rest[0]} no longer plotted")
    elif verb == "help":
        app.action_help()
    elif verb == "quit":
        app.run_worker(app.action_quit(), group="quit", exit_on_error=False)
    elif verb == "seq" and rest[:1] == ["predict"]:
        if len(rest) != 2:
            raise CommandLineError("usage: :seq predict FILE")
        app.run_worker(_predict(app, Path(rest[1])), group="predict", exit_on_error=False)
    elif verb == "seq":
        request = app.commander.sequence(rest)
        app.run_worker(app.commander.send_sequence(request), group="commands", exit_on_error=False)
    else:
        raise CommandLineError(f":{verb}: not a local verb (F1 lists them)")


async def _predict(app: ConsoleApp, path: Path) -> None:
    """``:seq predict FILE``: a dry run in its own process, shown beside the sequence."""
    app.command_bar.show(f"predicting {path}...")
    try:
        line = summary(await run_prediction(path))
    except PredictionFailed as exc:
        app.command_bar.show(f"no prediction: {exc}", error=True)
        return
    app.sequence_panel.prediction = line
    app.command_bar.show(line)
