"""Renders docs/sim.md's PEM validation table: SimSES's Tjarks (2017) curve, ours beside it,
and the difference. ``python -m tests.pem_validation --write`` rewrites the block between the
markers; tests/test_pem_validation_doc.py fails when the page and the model differ.
"""

from __future__ import annotations

import sys
from collections import defaultdict
from pathlib import Path

from sim.pem_crossover import faradaic_efficiency
from sim.pem_model import cell_voltage
from sim.pem_params import shipped_params
from tests import doc_blocks
from tests.doc_blocks import between, write_blocks
from tests.test_pem_model import reference_rows

DOC = Path(__file__).resolve().parent.parent / "docs" / "sim.md"
BEGIN = "<!-- validation:pem:begin -->"
END = "<!-- validation:pem:end -->"
REGENERATE = "python -m tests.pem_validation --write"
SHOWN_J = (0.1, 0.5, 1.0, 2.0, 3.0)
SHOWN_EFFICIENCY_J = (0.05, 0.5, 2.0)


def _signed(value: float, places: int) -> str:
    text = f"{value:+.{places}f}"
    return text[1:] if float(text) == 0.0 else text  # no "-0.000"


def render() -> str:
    """The Markdown between the markers."""
    params = shipped_params("tjarks2017")
    rows = reference_rows()
    lines = [
        "| T (degC) | j (A/cm2) | SimSES V | ours V | ours - SimSES (mV) |",
        "|---|---|---|---|---|",
    ]
    spread: dict[float, list[float]] = defaultdict(list)
    for row in rows:
        t_c, j, ref = row["temperature_c"], row["current_density_a_cm2"], row["cell_voltage_v"]
        if j < 0.1:
            continue
        ours = cell_voltage(params, j, t_c)
        spread[t_c].append(abs(ours - ref) * 1e3)
        if any(abs(j - shown) < 1e-9 for shown in SHOWN_J):
            diff = _signed((ours - ref) * 1e3, 3)
            lines.append(f"| {t_c:g} | {j:g} | {ref:.4f} | {ours:.4f} | {diff} |")
    lines += [
        "",
        "| T (degC) | points, 0.1..3 A/cm2 | max \\|diff\\| (mV) | mean \\|diff\\| (mV) |",
    ]
    lines.append("|---|---|---|---|")
    for t_c, diffs in sorted(spread.items()):
        lines.append(
            f"| {t_c:g} | {len(diffs)} | {max(diffs):.3f} | {sum(diffs) / len(diffs):.3f} |"
        )
    lines += ["", "| T (degC) | j (A/cm2) | SimSES eta_F | ours eta_F | difference |"]
    lines.append("|---|---|---|---|---|")
    for row in rows:
        t_c, j, ref = row["temperature_c"], row["current_density_a_cm2"], row["faradaic_efficiency"]
        if any(abs(j - shown) < 1e-9 for shown in SHOWN_EFFICIENCY_J):
            ours = faradaic_efficiency(params, j, t_c)
            diff = _signed(ours - ref, 5)
            lines.append(f"| {t_c:g} | {j:g} | {ref:.5f} | {ours:.5f} | {diff} |")
    return "\n".join(lines) + "\n"


def documented(text: str) -> str:
    """The block between the markers of ``text``; ValueError when they are missing."""
    return between(text, BEGIN, END)


def write(doc: Path = DOC) -> None:
    write_blocks(doc, [(BEGIN, END, render())])


def main(argv: list[str]) -> int:
    return doc_blocks.main(argv, doc=DOC, regenerate=REGENERATE, write=write, show=render)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
