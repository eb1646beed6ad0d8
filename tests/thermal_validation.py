"""Renders docs/sim.md's thermal extraction and cell heat validation tables: each published
figure beside ours and the difference. ``python -m tests.thermal_validation --write`` rewrites
the block between the markers; tests/test_thermal_validation_doc.py fails when the page and
the models differ.

The published figures are written here by hand with their table or equation; where none
was found, the row says what ours is compared with instead (an equation evaluated by hand,
a design value).
"""

from __future__ import annotations

import math
import sys
from collections.abc import Callable
from pathlib import Path

from sim import regolith_thermal as rt
from sim.electrolysis import CellParams, ElectrolysisCell
from sim.pem_params import shipped_params
from tests import doc_blocks
from tests.doc_blocks import between, write_blocks

DOC = Path(__file__).resolve().parent.parent / "docs" / "sim.md"
BEGIN = "<!-- validation:thermal:begin -->"
END = "<!-- validation:thermal:end -->"
REGENERATE = "python -m tests.thermal_validation --write"
M = rt.WATER_MOLAR_MASS

#: (T K, phase, published Pa, where): Murphy & Koop 2005 Table C1 ("values recommended for
#: checking computer codes"); the normal boiling point, IAPWS (ITS-90).
PRESSURES: tuple[tuple[float, str, str, str], ...] = (
    (150.0, "ice", "6.106e-6", "Murphy & Koop Table C1"),
    (180.0, "ice", "0.0053975", "Murphy & Koop Table C1"),
    (210.0, "ice", "0.70202", "Murphy & Koop Table C1"),
    (240.0, "ice", "27.272", "Murphy & Koop Table C1"),
    (273.16, "ice", "611.657", "Murphy & Koop Table C1"),
    (273.16, "liquid", "611.657", "Murphy & Koop Table C1"),
    (300.0, "liquid", "3536.8", "Murphy & Koop Table C1"),
    (373.124, "liquid", "101325", "normal boiling point (IAPWS, ITS-90)"),
)


def _pct(ours: float, published: float, places: int = 3) -> str:
    text = f"{(ours / published - 1) * 100:+.{places}f} %"
    return text[1:] if float(text[:-2]) == 0.0 else text  # no "-0.000 %"


def _pressures() -> list[str]:
    lines = [
        "| T (K) | over | published (Pa) | source | ours (Pa) | difference |",
        "|---|---|---|---|---|---|",
    ]
    for temp_k, phase, published, source in PRESSURES:
        ours = rt.p_ice(temp_k) if phase == "ice" else rt.p_liquid(temp_k)
        lines.append(
            f"| {temp_k:g} | {phase} | {published} | {source} | {ours:.6g} "
            f"| {_pct(ours, float(published))} |"
        )
    return lines


def _heats() -> list[str]:
    fusion_mol = rt.LATENT_FUSION * M
    rows: list[tuple[str, str, str, float, float, str]] = [
        # (quantity, published text, source, published value, ours, unit)
        ("L_sub at 273.16 K", "51058.98", "Murphy & Koop Eq. 5 evaluated by hand (no "
         "tabulated value found)", 51058.98, rt.latent_sublimation(rt.T_TRIPLE) * M, "J/mol"),
        ("heat of melting at 273.16 K", "6.01", "CRC Handbook (ours: Murphy & Koop Eq. 5 - Eq. 9)",
         6.01, fusion_mol / 1e3, "kJ/mol"),
        ("ice cp at 273.16 K", "2096.78", "IAPWS R10-06 (Feistel & Wagner 2006)",
         2096.78, rt.cp_ice(rt.T_TRIPLE), "J/(kg K)"),
    ]  # fmt: skip
    lines = [
        "| quantity | reference | source | ours | difference |",
        "|---|---|---|---|---|",
    ]
    for what, text, source, published, ours, unit in rows:
        lines.append(
            f"| {what} | {text} {unit} | {source} | {ours:.6g} {unit} "
            f"| {_pct(ours, published, 2)} |"
        )
    return lines


def _hayne_a6(temp_k: float) -> float:
    """Hayne et al. 2017 Eq. A6 with Table A1's coefficients, written out here."""
    t = temp_k
    return -3.6125 + 2.7431 * t + 2.3616e-3 * t**2 - 1.2340e-5 * t**3 + 8.9093e-9 * t**4


def _biele_24(temp_k: float) -> float:
    """Biele et al. 2022 Eq. 24 (lunar regolith), written out here."""
    x = math.log(temp_k)
    return math.exp((3.0 * x**3 - 54.45 * x**2 + 306.8 * x - 376.6) / (x**2 - 16.81 * x + 87.32))


def _regolith() -> list[str]:
    lines = [
        "| T (K) | Hayne Eq. A6 | Biele Eq. 24 | ours | ours against the curve it follows |",
        "|---|---|---|---|---|",
    ]
    for temp_k in (100.0, 200.0, 300.0, 350.0, 400.0, 500.0, 700.0, 1000.0):
        hayne, biele, ours = _hayne_a6(temp_k), _biele_24(temp_k), rt.cp_regolith(temp_k)
        if temp_k <= rt.HAYNE_MAX_K:
            against = f"Hayne {_pct(ours, hayne, 2)}"
        else:
            against = f"Biele {_pct(ours, biele, 2)} (x 1.047, continuous at 350 K)"
        lines.append(f"| {temp_k:g} | {hayne:.1f} | {biele:.1f} | {ours:.1f} | {against} |")
    return lines


def _simpson(f: Callable[[float], float], a: float, b: float, n: int = 2000) -> float:
    h = (b - a) / n
    s = f(a) + f(b) + sum((4 if i % 2 else 2) * f(a + i * h) for i in range(1, n))
    return s * h / 3


def _by_hand(ice_wt_pct: float, from_k: float, to_k: float) -> float:
    """Heat per kg of water from the published equations integrated here, MJ/kg."""
    ice = ice_wt_pct / 100
    regolith = (1 - ice) / ice * _simpson(rt.cp_regolith, from_k, to_k)
    top = min(to_k, rt.T_TRIPLE)
    water = _simpson(rt.cp_ice, from_k, top) + rt.WATER_CP_VAPOUR * max(0.0, to_k - top)
    return (regolith + water + rt.latent_sublimation(top)) / 1e6


def _extraction() -> list[str]:
    lines = [
        "| 5.6 wt% ice, from -> to (K) | by hand (MJ/kg) | ours (MJ/kg) | difference "
        "| of which regolith, water, latent |",
        "|---|---|---|---|---|",
    ]
    for from_k, to_k in ((100.0, 250.0), (100.0, 400.0)):
        heat = rt.extraction_heat(5.6, from_k, to_k)
        hand = _by_hand(5.6, from_k, to_k)
        parts = f"{heat.regolith_sensible:.3f}, {heat.water_sensible:.3f}, {heat.latent:.3f}"
        lines.append(
            f"| {from_k:g} -> {to_k:g} | {hand:.4f} | {heat.total:.4f} "
            f"| {_pct(heat.total, hand)} | {parts} |"
        )
    return lines


def _cell() -> list[str]:
    thermal = shipped_params().thermal
    cell = ElectrolysisCell(CellParams(tank_l=1000.0))
    cell.source_on, cell.setpoint_a = True, 10.0
    cell.step(0.1)
    start_c, start_v = cell.temp_c, cell.voltage_v
    for _ in range(7200):
        cell.step(1.0)
    tau_s = thermal.heat_capacity_j_k / thermal.loss_w_k
    return [
        "| figure | value | source |",
        "|---|---|---|",
        f"| heat capacity C, loss k, surroundings | {thermal.heat_capacity_j_k:g} J/K, "
        f"{thermal.loss_w_k:g} W/K, {thermal.ambient_c:g} degC | design values (no published "
        "figure for this cell) |",
        f"| thermal time constant C / k | {tau_s:.0f} s | follows from the design values |",
        f"| 10 A (0.4 A/cm2) for 2 h from {start_c:.1f} degC | {cell.temp_c:.1f} degC, "
        f"{start_v:.3f} V -> {cell.voltage_v:.3f} V | the model; no published warm-up to "
        "compare with |",
    ]


def render() -> str:
    """The Markdown between the markers."""
    blocks = (_pressures(), _heats(), _regolith(), _extraction(), _cell())
    return "\n\n".join("\n".join(block) for block in blocks) + "\n"


def documented(text: str) -> str:
    """The block between the markers of ``text``; ValueError when they are missing."""
    return between(text, BEGIN, END)


def write(doc: Path = DOC) -> None:
    write_blocks(doc, [(BEGIN, END, render())])


def main(argv: list[str]) -> int:
    return doc_blocks.main(argv, doc=DOC, regenerate=REGENERATE, write=write, show=render)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
