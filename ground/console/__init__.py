"""The operators' console (``isru ground``): a Textual app over one :class:`ground.GroundClient`.

``ConsoleApp(client=...)`` works on a connected client it does not own (tests);
``run_console(broker=..., vehicle=...)`` owns the connection (real use).
"""

from ground.console.app import ConsoleApp
from ground.console.run import run_console

__all__ = ["ConsoleApp", "run_console"]
