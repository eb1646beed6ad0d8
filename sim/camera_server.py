"""The simulated camera on a loopback TCP port: ``isru sim --camera-port PORT``.

Protocol (docs/camera.md, the client is :mod:`hal.camera`): each line a client sends,
``{"capture":"<purpose>"}``, is answered with one header line
``{"media_type":"image/png","width":W,"height":H,"bytes":N}`` and exactly N bytes of a PNG
file (:mod:`sim.camera` draws the simulator's truth at that instant), or with one line
``{"error":"<what is wrong>"}``: not JSON, not an object, a key other than ``capture``, a
purpose that is not 1..32 of ``A-Z a-z 0-9 _ . -`` (a letter or digit first), or a line over
4096 bytes. The connection stays open after an error; several clients may be connected.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import re
from collections.abc import Callable
from functools import partial

from sim.camera import Scene, render_png, scene_of
from sim.launcher import SimBoards
from sim.line_server import LineServer, tcp_port

log = logging.getLogger(__name__)

#: A request line, its newline included, is at most this long.
MAX_LINE = 4096
PURPOSE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,31}")
#: A vehicle name, as the flight configuration takes it.
VEHICLE = re.compile(r"[A-Za-z0-9_-]{1,32}")
DEFAULT_VEHICLE = "sim"

#: The scene to photograph for a purpose, taken at once on the simulator's loop.
Snapshot = Callable[[str], Scene]


class CameraServer(LineServer):
    """Serves :func:`sim.camera.render_png` of ``snapshot(purpose)`` on 127.0.0.1."""

    def __init__(
        self, snapshot: Snapshot, *, port: int = 0, width: int = 640, height: int = 480
    ) -> None:
        super().__init__(port=port, max_line=MAX_LINE)
        self.snapshot = snapshot
        self.width = width
        self.height = height
        self.captures = 0

    @property
    def url(self) -> str:
        return f"socket://127.0.0.1:{self.port}"

    def too_long(self) -> bytes:
        return _error(f"line longer than {MAX_LINE} bytes")

    def purpose_of(self, line: bytes) -> str:
        """The purpose a request line asks for; ValueError naming what is wrong."""
        try:
            request = json.loads(line)
        except (ValueError, UnicodeDecodeError, RecursionError):
            raise ValueError('not JSON: send {"capture":"<purpose>"}') from None
        if not isinstance(request, dict) or "capture" not in request:
            raise ValueError('not a capture request: send {"capture":"<purpose>"}')
        extra = sorted(set(request) - {"capture"})
        if extra:
            raise ValueError(f"{extra[0]}: a capture request takes no other key")
        purpose = request["capture"]
        if not isinstance(purpose, str) or not PURPOSE.fullmatch(purpose):
            raise ValueError(
                "capture: the purpose must be 1..32 of A-Z a-z 0-9 _ . - "
                f"(a letter or digit first), got {purpose!r}"
            )
        return purpose

    async def reply(self, line: bytes) -> bytes:
        """Everything sent back for one request line: header line and image, or error line."""
        try:
            scene = self.snapshot(self.purpose_of(line))
        except ValueError as exc:
            return _error(str(exc))
        try:
            data = await asyncio.to_thread(render_png, scene, self.width, self.height)
        except Exception as exc:  # a bug of ours must not take the simulator down
            log.exception("rendering %r failed", scene)
            return _error(f"internal error: {exc}")
        self.captures += 1
        header = {
            "media_type": "image/png",
            "width": self.width,
            "height": self.height,
            "bytes": len(data),
        }
        return json.dumps(header, separators=(",", ":")).encode() + b"\n" + data


def _error(text: str) -> bytes:
    return json.dumps({"error": text}, separators=(",", ":")).encode() + b"\n"


def _vehicle(text: str) -> str:
    if not VEHICLE.fullmatch(text):
        raise argparse.ArgumentTypeError(f"must be 1..32 of A-Z a-z 0-9 _ -, got {text!r}")
    return text


def add_camera_arguments(p: argparse.ArgumentParser) -> None:
    """``--camera-port`` and ``--vehicle`` of ``isru sim``."""
    p.add_argument(
        "--camera-port", type=tcp_port, metavar="PORT", help="simulated camera (0: free port)"
    )
    p.add_argument(
        "--vehicle",
        type=_vehicle,
        metavar="NAME",
        default=DEFAULT_VEHICLE,
        help=f"vehicle name on the simulated camera's images (default {DEFAULT_VEHICLE})",
    )


async def start_camera(args: argparse.Namespace, sim: SimBoards) -> CameraServer | None:
    """The camera server ``args`` asks for, started; None without ``--camera-port``."""
    if args.camera_port is None:
        return None
    camera = CameraServer(partial(scene_of, sim, vehicle=args.vehicle), port=args.camera_port)
    await camera.start()
    return camera
