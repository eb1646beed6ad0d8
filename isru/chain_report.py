"""The extraction chain's figures, regolith -> water -> H2 + O2, under stable names.

One place for them: ``isru sil --run`` fills them from the vehicle's telemetry and the
simulator's truth (:func:`chain_report`), and a dry run of a sequence can fill the same
names from a model. ``CHAIN_FIELDS`` lists every figure with its unit and what it is; each
figure's ``source`` says where a run's value comes from:

* ``vehicle``: the vehicle's own telemetry, as an operator sees it (the oven's
  ``water_transferred_g`` and ``heater_energy_wh``, the cell's current and voltage),
* ``sim``: the simulator's truth from its control port (``sim.truth``): what no sensor
  measures (the water left in the sample, lost, or split by the cell),
* ``derived``: computed from the others here.

H2 and O2 are the water the cell split (sim), by stoichiometry: the cell's Faradaic
efficiency is under 1 (gas crosses the membrane), so Faraday's law on the measured charge
(``h2_faraday_g``, vehicle) overstates them; ``faradaic_efficiency`` is their ratio.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any

WATER_G_PER_MOL = 18.015
H2_G_PER_MOL = 2.016
O2_G_PER_MOL = 31.998
FARADAY_C_PER_MOL = 96485.332
#: Higher heating value of hydrogen, J/mol (the standard enthalpy of formation of liquid
#: water, NIST-JANAF): the least energy that splits water at 25 degC with no heat supplied.
HHV_J_PER_MOL = 285.83e3
#: The mass balance holds when what is accounted for is within this share of the water in.
MASS_BALANCE_TOLERANCE = 0.001


def _figure(unit: str, what: str, source: str) -> Any:
    return field(default=0.0, metadata={"unit": unit, "what": what, "source": source})


@dataclass(frozen=True)
class ChainFigures:
    """The chain's figures, in the order of the report's table."""

    regolith_g: float = _figure("g", "regolith tipped into the oven", "sim")
    ice_wt_pct: float = _figure("wt%", "water ice in that regolith", "sim")
    water_in_g: float = _figure("g", "water it brought: ice and bound water", "sim")
    water_extracted_g: float = _figure("g", "water caught on the cold trap", "sim")
    water_lost_g: float = _figure("g", "escaped, or frozen out of the pump's reach", "sim")
    water_vapour_g: float = _figure("g", "vapour still in the chamber", "sim")
    water_left_in_sample_g: float = _figure("g", "ice and bound water left in the sample", "sim")
    water_transferred_g: float = _figure("g", "pumped from the trap to the cell", "vehicle")
    water_electrolysed_g: float = _figure("g", "split by the cell", "sim")
    h2_g: float = _figure("g", "hydrogen made (the water split, 2.016/18.015)", "derived")
    o2_g: float = _figure("g", "oxygen made (the water split, 15.999/18.015)", "derived")
    h2_faraday_g: float = _figure("g", "hydrogen by Faraday's law on the cell charge", "vehicle")
    faradaic_efficiency: float = _figure("", "h2_g / h2_faraday_g", "derived")
    oven_energy_wh: float = _figure("Wh", "oven heater energy", "vehicle")
    cell_energy_wh: float = _figure("Wh", "cell electrical energy (current x voltage)", "vehicle")
    wh_per_g_water: float = _figure("Wh/g", "oven energy per gram of water extracted", "derived")

    def as_dict(self) -> dict[str, float]:
        return asdict(self)


#: (name, unit, what, source) of every figure, in order: the names are stable.
CHAIN_FIELDS: tuple[tuple[str, str, str, str], ...] = tuple(
    (f.name, f.metadata["unit"], f.metadata["what"], f.metadata["source"])
    for f in fields(ChainFigures)
)


@dataclass(frozen=True)
class ChainReport:
    """The figures, the mass and energy balances, and the oven's time series."""

    figures: ChainFigures
    mass_balance: dict[str, Any]
    energy_balance: dict[str, float]
    series: dict[str, list[float]] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """The figures at the top level, then the balances, sources and series."""
        return {
            **self.figures.as_dict(),
            "mass_balance": self.mass_balance,
            "energy_balance": self.energy_balance,
            "sources": {name: source for name, _, _, source in CHAIN_FIELDS},
            "oven_series": self.series,
        }

    @property
    def active(self) -> bool:
        """Whether the run did anything of the chain (loaded the oven or split water)."""
        return self.figures.regolith_g > 0 or self.figures.water_electrolysed_g > 0

    def table(self) -> str:
        """The chain as one table: figure, value, unit, source."""
        f = self.figures
        lines = [f"{'chain':<24}{'value':>10}  {'unit':<5} source", "-" * 50]
        for name, unit, _what, source in CHAIN_FIELDS:
            value = getattr(f, name)
            lines.append(f"{name:<24}{_format(value):>10}  {unit:<5} {source}")
        m = self.mass_balance
        lines.append(
            f"mass balance: in {m['water_in_g']:.3f} g = extracted + lost + vapour + left "
            f"{m['accounted_g']:.3f} g (residual {m['residual_pct']:+.4f} %, "
            f"{'ok' if m['ok'] else 'NOT within'} {MASS_BALANCE_TOLERANCE:.1%})"
        )
        e = self.energy_balance
        lines.append(
            f"oven energy: heater {e['oven_heater_wh']:.2f} Wh = sensible "
            f"{e['oven_sensible_wh']:.2f} + latent {e['oven_latent_wh']:.2f} + losses "
            f"{e['oven_losses_wh']:.2f} Wh (imbalance {e['oven_imbalance_wh']:.2g} Wh)"
        )
        lines.append(
            f"cell energy: {e['cell_electrical_wh']:.3f} Wh = H2's heating value "
            f"{e['cell_chemical_wh']:.3f} + heat {e['cell_heat_wh']:.3f} Wh"
        )
        return "\n".join(lines)


def _format(value: float) -> str:
    return f"{value:.3f}" if abs(value) < 1000 else f"{value:.1f}"


def chain_report(
    *,
    oven: dict[str, Any],
    elec: dict[str, Any],
    seen: dict[str, float],
    series: dict[str, list[float]] | None = None,
) -> ChainReport:
    """The chain from the simulator's truth (``oven``, ``elec``: ``sim.truth``) and what the
    vehicle saw (``seen``: ``water_transferred_g``, ``oven_energy_wh``, ``cell_charge_ah``,
    ``cell_energy_wh``)."""
    left = float(oven["ice_g"]) + float(oven["bound_water_g"])
    extracted, lost = float(oven["collected_g"]), float(oven["lost_g"])
    vapour, water_in = float(oven["vapour_g"]), float(oven["water_in_g"])
    split = float(elec["electrolysed_g"])
    split_mol = split / WATER_G_PER_MOL
    charge_c = seen.get("cell_charge_ah", 0.0) * 3600
    h2_faraday = charge_c / (2 * FARADAY_C_PER_MOL) * H2_G_PER_MOL
    h2 = split_mol * H2_G_PER_MOL
    oven_wh = seen.get("oven_energy_wh", 0.0)
    cell_wh = seen.get("cell_energy_wh", 0.0)
    figures = ChainFigures(
        regolith_g=float(oven["loaded_g"]),
        ice_wt_pct=float(oven["ice_wt_pct"]),
        water_in_g=water_in,
        water_extracted_g=extracted,
        water_lost_g=lost,
        water_vapour_g=vapour,
        water_left_in_sample_g=left,
        water_transferred_g=seen.get("water_transferred_g", 0.0),
        water_electrolysed_g=split,
        h2_g=h2,
        o2_g=split_mol / 2 * O2_G_PER_MOL,
        h2_faraday_g=h2_faraday,
        faradaic_efficiency=h2 / h2_faraday if h2_faraday > 0 else 0.0,
        oven_energy_wh=oven_wh,
        cell_energy_wh=cell_wh,
        wh_per_g_water=oven_wh / extracted if extracted > 0 else 0.0,
    )
    accounted = extracted + lost + vapour + left
    residual = water_in - accounted
    residual_pct = 100 * residual / water_in if water_in > 0 else 0.0
    mass = {
        "water_in_g": water_in,
        "accounted_g": accounted,
        "residual_g": residual,
        "residual_pct": residual_pct,
        "ok": abs(residual) <= MASS_BALANCE_TOLERANCE * water_in + 1e-9,
        "water_on_trap_g": float(oven["trap_ice_g"]) + float(oven["trap_liquid_g"]),
        "water_pumped_g": float(oven["pumped_g"]),
        "water_fed_to_cell_g": float(elec["fed_g"]),
    }
    ledger = oven["ledger"]
    chemical_wh = split_mol * HHV_J_PER_MOL / 3600
    energy = {
        "oven_heater_wh": float(ledger["heater_j"]) / 3600,
        "oven_sensible_wh": float(ledger["sensible_change_j"]) / 3600,
        "oven_latent_wh": float(ledger["latent_change_j"]) / 3600,
        "oven_losses_wh": float(ledger["losses_j"]) / 3600,
        "oven_imbalance_wh": float(ledger["imbalance_j"]) / 3600,
        "cell_electrical_wh": cell_wh,
        "cell_chemical_wh": chemical_wh,
        "cell_heat_wh": cell_wh - chemical_wh,
        "total_wh": oven_wh + cell_wh,
    }
    return ChainReport(figures, mass, energy, series or {})
