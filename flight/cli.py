"""``isru flight``: run the onboard application as a service until SIGTERM.

This module only reads the command line and the config; :func:`flight.service.run` runs it.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from flight import service
from flight.config import ConfigError, load_config

DESCRIPTION = "``isru flight``: run the onboard application as a service until SIGTERM."


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="isru flight", description=DESCRIPTION)
    parser.add_argument("--config", type=Path, required=True, help="flight TOML configuration")
    parser.add_argument("--broker", help="mqtt://host:port, overrides mqtt.broker")
    parser.add_argument("--vehicle", help="vehicle id, overrides vehicle")
    return parser


def main(argv: list[str] | None = None) -> int:
    options = _parser().parse_args(argv)
    overrides = {"vehicle": options.vehicle, "mqtt.broker": options.broker}
    try:
        config = load_config(options.config, overrides=overrides)
    except ConfigError as exc:
        print(f"isru flight: {exc}", file=sys.stderr)
        return service.EXIT_CONFIG
    return service.run(config)
