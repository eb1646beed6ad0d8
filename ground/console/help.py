"""The help screen: the keys, every command of the dictionary with its arguments and hazard
class, the command syntax and the local verbs."""

from __future__ import annotations

from typing import ClassVar

from rich.markup import escape
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from ground.console.parse import LOCAL_VERBS
from interface.dictionary import ArgDef, CommandDef, Dictionary

KEYS = (
    ("F1  ?", "this help (every command, its arguments and hazard class)"),
    ("F2 F3 F4 F6  1 2 3 4", "telemetry tabs (scoop, elec, oven, core)"),
    ("F7  5", "samples: mass, location, images, custody, signatures checked"),
    ("enter  o", "samples tab: open the sample's newest image (system viewer)"),
    ("F5  p", "plot / unplot the highlighted channel"),
    ("/  :", "go to the command line (':' starts a local verb)"),
    ("escape", "leave the command line for the telemetry table"),
    ("tab  →", "accept the completion in the command line"),
    ("↑ ↓", "recall earlier command lines"),
    ("ctrl+q  q", "quit (q outside the command line); asks first while a sequence runs"),
)
#: Enum choices listed in full up to this many; beyond, the first three and the count.
CHOICES_SHOWN = 5
HAZARDOUS = "ARM+FIRE"


def help_text() -> str:
    lines = ["[b]Keys[/b]"]
    lines += [f"  [b]{key:<16}[/b] {escape(what)}" for key, what in KEYS]
    lines += [
        "",
        "[b]Commands[/b]  NAME arg=value ...   e.g. SCOOP.DIG depth_mm=30",
        "  arguments are checked against the dictionary before sending;",
        f"  {HAZARDOUS} commands ask y/n, then send CORE.ARM command=NAME and the command.",
        "",
        "[b]Local verbs[/b]",
    ]
    lines += [f"  [b]:{verb:<7}[/b] {escape(what)}" for verb, what in LOCAL_VERBS.items()]
    return "\n".join(lines)


def argument_text(arg: ArgDef) -> str:
    """``depth_mm=<5..100 mm>``, ``joint=<BOOM|SCOOP>``, ``open=<true|false>``..."""
    if arg.type == "enum":
        if len(arg.choices) <= CHOICES_SHOWN:
            shown = "|".join(arg.choices)
        else:
            shown = "|".join(arg.choices[:3]) + f"|… ({len(arg.choices)} choices)"
    elif arg.type == "bool":
        shown = "true|false"
    elif arg.type == "str":
        shown = "text" + (f" ≤{arg.max_length}" if arg.max_length else "")
    else:
        low = "" if arg.min is None else f"{arg.min:g}"
        high = "" if arg.max is None else f"{arg.max:g}"
        shown = f"{arg.type} {low}..{high}" if low or high else arg.type
        shown += f" {arg.unit}" if arg.unit else ""
    return f"{arg.name}=<{shown}>"


def hazard_text(command: CommandDef) -> str:
    """The hazard class: ``ARM+FIRE``, ``ARM+FIRE if current_a > 5 A``, or ``-``."""
    if command.hazardous:
        return HAZARDOUS
    if command.hazardous_above:
        units = {a.name: a.unit for a in command.args}
        return ", ".join(
            f"{HAZARDOUS} if {name} > {limit:g}" + (f" {units[name]}" if units.get(name) else "")
            for name, limit in command.hazardous_above.items()
        )
    return "-"


def command_table(dictionary: Dictionary) -> Table:
    """Every command of the dictionary: its name, its arguments and its hazard class."""
    table = Table(box=None, padding=(0, 1), expand=True, header_style="bold")
    table.add_column("command", no_wrap=True)
    table.add_column("arguments", ratio=1, overflow="fold")
    table.add_column("hazard", no_wrap=True)
    for command in dictionary.commands:
        hazard = hazard_text(command)
        table.add_row(
            Text(command.name, style="bold"),
            Text(" ".join(argument_text(a) for a in command.args) or "-"),
            Text(hazard, style="bold black on yellow" if hazard != "-" else "dim"),
        )
    return table


class HelpScreen(ModalScreen[None]):
    """Shown over the console; any of escape, q, F1 or ? closes it."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,q,f1,question_mark", "close", "Close"),
    ]

    DEFAULT_CSS = """
    HelpScreen {
        align: center middle;
    }
    HelpScreen > VerticalScroll {
        width: 100%;
        max-width: 110;
        height: 100%;
        max-height: 50;
        border: thick $primary;
        background: $surface;
        padding: 0 1;
    }
    """

    def __init__(self, dictionary: Dictionary) -> None:
        super().__init__()
        self.dictionary = dictionary
        self.commands = command_table(dictionary)

    def compose(self) -> ComposeResult:
        with VerticalScroll():
            yield Static(help_text(), id="help-keys")
            yield Static(
                f"\n[b]Every command[/b] ({len(self.dictionary.commands)}; "
                f"{HAZARDOUS}: asks y/n, then arms and fires)",
                id="help-commands-title",
            )
            yield Static(self.commands, id="help-commands")

    def action_close(self) -> None:
        self.dismiss(None)
