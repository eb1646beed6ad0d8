"""The simulated camera's pictures: a schematic of what the simulator knows, drawn with Pillow.

:func:`scene_of` reads the simulator's truth at one instant (the scoop arm's joint angles,
the blade's depth and the regolith in the scoop, the oven's hopper: its sample and lid, the
regolith tipped on the ground, the virtual time) into a :class:`Scene`; :func:`render_png`
draws it as a PNG file, 640 x 480 by default:

* a caption band: ``SIL CAMERA``, the purpose, the vehicle and the simulator's time
  ``T+hh:mm:ss.s`` (virtual seconds since it started), and the figures drawn below;
* side view: the vehicle's deck, the boom at its angle, the scoop at its own, its bowl filled
  in proportion to the load (500 g full), the blade below the ground line by the tool depth;
  the oven with its lid open or closed and its hopper filled in proportion to its sample;
* a yellow frame round what the purpose names (``site``: the ground before the arm,
  ``scoop``: the scoop, ``hopper``: the oven's hopper); any other purpose frames nothing.

The same scene gives the same bytes (no time, no randomness, Pillow's built-in font), so a
test can compare images by hash.
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass

from PIL import Image, ImageDraw, ImageFont

from sim.launcher import SimBoards
from sim.scoop_arm import CAPACITY_G

#: The hopper is drawn full at this sample mass, g.
HOPPER_FULL_G = 500.0
SKY = (18, 20, 28)
GROUND = (120, 110, 95)
REGOLITH = (170, 150, 120)
METAL = (200, 205, 215)
TEXT = (235, 235, 235)
MARK = (250, 210, 40)
OVEN = (150, 70, 50)


@dataclass(frozen=True)
class Scene:
    """What the camera sees: everything a picture is drawn from."""

    purpose: str
    vehicle: str
    t_s: float
    boom_deg: float
    scoop_deg: float
    tool_depth_mm: float
    scoop_load_g: float
    hopper_g: float
    lid_open: bool
    ground_g: float


def scene_of(sim: SimBoards, purpose: str, vehicle: str) -> Scene:
    """The simulator's truth now, as the camera would photograph it for ``purpose``."""
    arm, oven = sim.scoop.arm, sim.oven
    return Scene(
        purpose=purpose,
        vehicle=vehicle,
        t_s=sim.clock.now(),
        boom_deg=arm.boom_angle_deg,
        scoop_deg=arm.scoop_angle_deg,
        tool_depth_mm=arm.tool_depth_mm,
        scoop_load_g=arm.sample_g,
        hopper_g=oven.physics.sample_mass_g,
        lid_open=oven.lid.open,
        ground_g=sim.ground_g,
    )


def stamp(t_s: float) -> str:
    """``T+hh:mm:ss.s`` of ``t_s`` virtual seconds."""
    tenths = max(0, round(t_s * 10))
    seconds, tenth = divmod(tenths, 10)
    minutes, second = divmod(seconds, 60)
    hours, minute = divmod(minutes, 60)
    return f"T+{hours:02d}:{minute:02d}:{second:02d}.{tenth}"


def render_png(scene: Scene, width: int = 640, height: int = 480) -> bytes:
    """``scene`` drawn as a ``width`` x ``height`` PNG file (its bytes)."""
    image = Image.new("RGB", (640, 480), SKY)
    draw = ImageDraw.Draw(image)
    _caption(draw, scene)
    _ground(draw, scene)
    _oven(draw, scene)
    _arm(draw, scene)
    if (width, height) != image.size:
        image = image.resize((width, height), Image.Resampling.BILINEAR)
    out = io.BytesIO()
    image.save(out, format="PNG", optimize=False)
    return out.getvalue()


GROUND_Y = 380
PIVOT = (150.0, 260.0)
BOOM_PX = 170.0
SCOOP_PX = 55.0
#: The boom points this far below the horizontal at 0 deg; a positive angle lowers it.
BOOM_BASE_DEG = 20.0
#: Pixels per millimetre of tool depth below the ground line.
DEPTH_PX_PER_MM = 0.5
#: Where the purpose's frame goes: left, top, right, bottom.
FRAMES: dict[str, tuple[float, float, float, float]] = {
    "site": (230, GROUND_Y - 40, 420, 470),
    "hopper": (470, 230, 630, 320),
}


def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    return ImageFont.load_default(size)


def _caption(draw: ImageDraw.ImageDraw, s: Scene) -> None:
    draw.rectangle((0, 0, 639, 92), fill=(0, 0, 0))
    big, small = _font(18), _font(13)
    draw.text((10, 6), f"SIL CAMERA  {s.purpose}", fill=MARK, font=big)
    draw.text((400, 8), stamp(s.t_s), fill=TEXT, font=big)
    draw.text((10, 32), f"vehicle {s.vehicle}", fill=TEXT, font=small)
    lid = "open" if s.lid_open else "closed"
    lines = (
        f"boom {s.boom_deg:6.1f} deg   scoop {s.scoop_deg:6.1f} deg   "
        f"depth {s.tool_depth_mm:5.1f} mm   load {s.scoop_load_g:6.1f} g",
        f"oven hopper {s.hopper_g:6.1f} g, lid {lid}   on the ground {s.ground_g:6.1f} g",
    )
    for row, line in enumerate(lines):
        draw.text((10, 52 + 18 * row), line, fill=TEXT, font=small)


def _ground(draw: ImageDraw.ImageDraw, s: Scene) -> None:
    draw.rectangle((0, GROUND_Y, 639, 479), fill=GROUND)
    for x in range(0, 640, 16):  # texture: the same every time
        draw.line((x, GROUND_Y + 8 + (x * 7) % 30, x + 6, GROUND_Y + 8 + (x * 7) % 30), REGOLITH)
    if s.ground_g > 0:  # the heap of what was tipped beside the vehicle
        r = min(40.0, 6.0 + math.sqrt(s.ground_g))
        draw.pieslice((40 - r, GROUND_Y - r, 40 + r, GROUND_Y + r), 180, 360, fill=REGOLITH)
    # The vehicle's deck and the boom's mast.
    draw.rectangle((20, 250, 130, 330), fill=(90, 95, 110), outline=METAL)
    draw.rectangle((130, 250, 160, 270), fill=METAL)
    for x in (35, 115):
        draw.ellipse((x - 22, GROUND_Y - 44, x + 22, GROUND_Y), outline=METAL, width=4)


def _oven(draw: ImageDraw.ImageDraw, s: Scene) -> None:
    draw.rectangle((490, 280, 610, GROUND_Y - 1), fill=OVEN, outline=METAL, width=2)
    draw.polygon(((480, 240), (620, 240), (575, 280), (525, 280)), outline=METAL, fill=(60, 60, 70))
    level = min(1.0, s.hopper_g / HOPPER_FULL_G)
    if level > 0:
        top = 280 - 38 * level
        half = 25 + 45 * (280 - top) / 40
        draw.polygon(((550 - half, top), (550 + half, top), (575, 280), (525, 280)), fill=REGOLITH)
    if s.lid_open:
        draw.line((480, 240, 470, 190), fill=METAL, width=5)
    else:
        draw.line((478, 236, 622, 236), fill=METAL, width=5)
    draw.text((500, 330), f"{s.hopper_g:.1f} g", fill=TEXT, font=_font(14))


def _arm(draw: ImageDraw.ImageDraw, s: Scene) -> None:
    boom = math.radians(BOOM_BASE_DEG + s.boom_deg)
    tip = (PIVOT[0] + BOOM_PX * math.cos(boom), PIVOT[1] + BOOM_PX * math.sin(boom))
    draw.line((*PIVOT, *tip), fill=METAL, width=8)
    draw.ellipse((PIVOT[0] - 7, PIVOT[1] - 7, PIVOT[0] + 7, PIVOT[1] + 7), fill=METAL)
    # The scoop: a bowl hanging from the boom's tip; 0 deg points its open side forward-up,
    # the curl (+90) turns it up to hold, the dump (170) tips it over.
    a = boom + math.radians(90.0 - s.scoop_deg)
    blade = (tip[0] + SCOOP_PX * math.cos(a), tip[1] + SCOOP_PX * math.sin(a))
    if s.tool_depth_mm > 0:  # the blade in the soil
        depth = s.tool_depth_mm * DEPTH_PX_PER_MM
        draw.rectangle((blade[0] - 12, GROUND_Y, blade[0] + 12, GROUND_Y + depth), fill=SKY)
    side = (math.cos(a + math.pi / 2), math.sin(a + math.pi / 2))
    w = 22.0
    corners = [
        tip,
        blade,
        (blade[0] + w * side[0], blade[1] + w * side[1]),
        (tip[0] + w * side[0], tip[1] + w * side[1]),
    ]
    draw.polygon(corners, outline=METAL, width=3)
    level = min(1.0, s.scoop_load_g / CAPACITY_G)
    if level > 0:
        fill = [
            tip,
            (tip[0] + level * (blade[0] - tip[0]), tip[1] + level * (blade[1] - tip[1])),
            (
                tip[0] + level * (blade[0] - tip[0]) + w * side[0],
                tip[1] + level * (blade[1] - tip[1]) + w * side[1],
            ),
            corners[3],
        ]
        draw.polygon(fill, fill=REGOLITH)
    draw.text((tip[0] + 30, tip[1] - 30), f"{s.scoop_load_g:.1f} g", fill=TEXT, font=_font(14))
    box = FRAMES.get(s.purpose)
    if s.purpose == "scoop":
        xs, ys = [c[0] for c in corners], [c[1] for c in corners]
        box = (min(xs) - 20, min(ys) - 20, max(xs) + 20, max(ys) + 20)
    if box is not None:
        draw.rectangle(box, outline=MARK, width=3)
