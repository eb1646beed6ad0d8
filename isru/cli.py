"""The ``isru`` command: maps each subcommand to the package that implements it."""

from __future__ import annotations

import importlib
import os
import sys
import traceback

# Subcommand -> module with ``main(argv) -> int``. Imported lazily so that
# ``isru sim`` never loads flight code and the reverse.
SUBCOMMANDS = {
    "sil": ("isru.sil", "start the simulator and talk to it: the one-command demo"),
    "sim": ("sim.cli", "run the emulated scoop, electrolysis and oven boards on ptys or TCP"),
    "flight": ("flight.cli", "run the onboard application (as a service on the board)"),
    "dict": ("isru.dict_cli", "export the command/telemetry/event dictionary as JSON"),
    "schemas": ("isru.schemas_cli", "write or check the JSON Schemas of every MQTT message"),
    "seq": ("isru.sequence_cli", "check sequence files against the dictionary"),
    "key": ("isru.key_cli", "make a command or signing key file, or show its fingerprint"),
    "samples": ("isru.samples_cli", "list, export, verify and countersign custody samples"),
    "ground": ("ground.cli", "command and watch a vehicle from a shell; no verb: the console"),
    "conform": ("isru.conform.cli", "check a board's firmware against every ICD rule"),
}


def _usage() -> str:
    lines = ["usage: isru <command> [options]", "", "commands:"]
    lines += [f"  {name:<8} {doc}" for name, (_, doc) in SUBCOMMANDS.items()]
    lines.append("\n'isru <command> --help' describes a command's options.")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if not args or args[0] in ("-h", "--help"):
        print(_usage())
        return 0 if args else 2
    name, rest = args[0], args[1:]
    if name not in SUBCOMMANDS:
        print(f"isru: unknown command {name!r}\n\n{_usage()}", file=sys.stderr)
        return 2
    module = importlib.import_module(SUBCOMMANDS[name][0])
    try:
        code: int = module.main(rest)
    except KeyboardInterrupt:
        return 130
    except Exception as exc:
        # A bug: one line for the operator; the traceback only when asked for.
        if os.environ.get("ISRU_DEBUG"):
            traceback.print_exc()
        print(
            f"isru {name}: internal error: {type(exc).__name__}: {exc} "
            "(ISRU_DEBUG=1 shows the traceback)",
            file=sys.stderr,
        )
        return 70
    return code


if __name__ == "__main__":
    sys.exit(main())
