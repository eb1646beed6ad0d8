"""Renders docs/sim.md's regolith and dig tables: the validation (the Lunar Sourcebook's
densities and strengths, Rankine's passive pressure) and the figures of the sequences' cuts.
``python -m tests.dig_validation --write`` rewrites the blocks between their markers;
tests/test_dig_validation_doc.py fails when the page and the models differ.
"""

from __future__ import annotations

import math
import random
import sys
from collections.abc import Callable
from pathlib import Path

from sim.regolith import SOURCEBOOK, Soil, mean_cohesion, mean_density, mean_friction_deg
from sim.scoop_arm import BOOM_LEVER_M, PENETRATION_MM_S, ScoopArm, sample_mass_g
from sim.soil_cutting import Blade, cutting_force, load_current_a
from tests import doc_blocks
from tests.doc_blocks import between, write_blocks

DOC = Path(__file__).resolve().parent.parent / "docs" / "sim.md"
REGENERATE = "python -m tests.dig_validation --write"
RANKINE_PHI = (30.0, 42.0, 54.0)
FIGURE_DEPTHS_MM = (30.0, 60.0, 100.0)


def _signed(value: float, places: int) -> str:
    text = f"{value:+.{places}f}"
    return text[1:] if float(text) == 0.0 else text  # no "-0.000"


def _within(difference: float) -> str:
    """A difference too small to print stably, as its bound."""
    for bound in (1e-5, 1e-4, 1e-3):
        if difference < bound:
            return f"< {bound:.0e}"
    return f"{difference:.4f}"


def _cm(row_top: float, row_bottom: float) -> str:
    return f"{row_top * 100:g}-{row_bottom * 100:g}"


def render_validation() -> str:
    """The validation tables: published values, ours, the difference."""
    lines = [
        "| depth (cm) | Sourcebook (g/cm3) | Hayne profile, mean (g/cm3) | difference |",
        "|---|---|---|---|",
    ]
    for row in SOURCEBOOK:
        ours = mean_density(row.top_m, row.bottom_m) / 1e3
        diff = _signed(ours - row.density_g_cm3, 3)
        pct = _signed((ours / row.density_g_cm3 - 1) * 100, 1)
        lines.append(
            f"| {_cm(row.top_m, row.bottom_m)} | {row.density_g_cm3:.2f} +- 0.05 | {ours:.3f} "
            f"| {diff} ({pct} %) |"
        )
    lines += [
        "",
        "| depth (cm) | Sourcebook c (kPa) | ours c | Sourcebook phi (deg) | ours phi | "
        "difference c, phi |",
        "|---|---|---|---|---|---|",
    ]
    for row in SOURCEBOOK:
        c = mean_cohesion(row.top_m, row.bottom_m) / 1e3
        phi = mean_friction_deg(row.top_m, row.bottom_m)
        lo, hi = row.cohesion_range_kpa
        plo, phi_hi = row.friction_range_deg
        lines.append(
            f"| {_cm(row.top_m, row.bottom_m)} | {row.cohesion_kpa:.2f} ({lo:g}-{hi:g}) "
            f"| {c:.2f} | {row.friction_deg:g} ({plo:g}-{phi_hi:g}) | {phi:.1f} "
            f"| {_signed(c - row.cohesion_kpa, 2)} kPa, {_signed(phi - row.friction_deg, 1)} deg |"
        )
    lines += [
        "",
        "| phi (deg) | Rankine: 45 - phi/2, Kp/2, 2 sqrt(Kp), Kp | ours: b, N_g, N_c, N_q "
        "| largest difference |",
        "|---|---|---|---|",
    ]
    smooth_vertical = Blade(rake_deg=90.0, tool_friction_ratio=0.0)
    for phi in RANKINE_PHI:
        kp = math.tan(math.radians(45.0 + phi / 2.0)) ** 2
        rankine = (45.0 - phi / 2.0, kp / 2.0, 2.0 * math.sqrt(kp), kp)
        f = cutting_force(0.1, 0.0, smooth_vertical, Soil(1500.0, 1000.0, phi)).factors
        ours = (f.beta_deg, f.n_gamma, f.n_c, f.n_q)
        worst = max(abs(o - r) for o, r in zip(ours, rankine, strict=True))
        lines.append(
            f"| {phi:g} | {', '.join(f'{x:.4f}' for x in rankine)} "
            f"| {', '.join(f'{x:.4f}' for x in ours)} | {_within(worst)} |"
        )
    return "\n".join(lines) + "\n"


def _peak_curl_a(depth_mm: float) -> float:
    arm = ScoopArm(random.Random(0), boom_deg=0.0, scoop_deg=0.0)
    arm.dig(depth_mm)
    peak = 0.0
    for _ in range(round((depth_mm / PENETRATION_MM_S + 3.5) / 0.01)):
        arm.step(0.01)
        peak = max(peak, arm.scoop.current_a)
    return peak


def render_figures() -> str:
    """What the scoop's DIGs cost and bring up."""
    lines = [
        "| DIG (mm) | sample (g) | mean density (g/cm3) | force at full depth (N) "
        "| boom current at full depth (A) | scoop current, peak of the curl (A) |",
        "|---|---|---|---|---|---|",
    ]
    for depth in FIGURE_DEPTHS_MM:
        cut = cutting_force(depth / 1e3, PENETRATION_MM_S / 1e3)
        boom = 0.15 + 0.01 * 0.25 * PENETRATION_MM_S + load_current_a(cut.force_n * BOOM_LEVER_M)
        lines.append(
            f"| {depth:g} | {sample_mass_g(depth):.1f} | {cut.soil.density_kg_m3 / 1e3:.3f} "
            f"| {cut.force_n:.2f} | {boom:.2f} | {_peak_curl_a(depth):.2f} |"
        )
    return "\n".join(lines) + "\n"


BLOCKS: dict[str, Callable[[], str]] = {
    "validation:dig": render_validation,
    "figures:dig": render_figures,
}


def markers(name: str) -> tuple[str, str]:
    return f"<!-- {name}:begin -->", f"<!-- {name}:end -->"


def documented(text: str, name: str) -> str:
    """The block ``name`` of ``text``; ValueError when its markers are missing."""
    return between(text, *markers(name))


def write(doc: Path = DOC) -> None:
    write_blocks(doc, [(*markers(name), render()) for name, render in BLOCKS.items()])


def _show() -> str:
    return "".join(f"{name}:\n{render()}\n" for name, render in BLOCKS.items())


def main(argv: list[str]) -> int:
    return doc_blocks.main(argv, doc=DOC, regenerate=REGENERATE, write=write, show=_show)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
