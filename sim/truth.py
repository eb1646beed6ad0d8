"""The simulator's truth, read-only: what the oven and the cell hold and have done since start.

The control port answers ``{"query": "oven"}`` and ``{"query": "elec"}`` with these figures
(``isru sil --run`` asks for them at the end of a run, for the report's mass and energy
balances); a real payload cannot know them: its own view is its telemetry.

* ``oven``: the regolith tipped into the oven (``loaded_g``) and its ice content, where every
  gram of the water it brought is (left in the sample as ice or bound water, vapour in the
  chamber, on the trap as ice or liquid, pumped out, lost), the heater's energy and the
  oven's energy ledger (heater = sensible + latent change + losses).
* ``elec``: the water in the cell's reservoir, what the oven's pump fed into it and what the
  cell has split (the H2 and O2 made are that water's, by stoichiometry: whatever the
  Faradaic efficiency, which telemetry's charge cannot tell).
"""

from __future__ import annotations

from sim.launcher import SimBoards

QUERIES = ("oven", "elec")


def answer_query(sim: SimBoards, name: object) -> dict[str, object]:
    """The figures of query ``name``; ValueError naming the known queries otherwise."""
    if name == "oven":
        return oven_truth(sim)
    if name == "elec":
        return elec_truth(sim)
    raise ValueError(f"query: must be one of {', '.join(QUERIES)}, got {name!r}")


def oven_truth(sim: SimBoards) -> dict[str, object]:
    oven = sim.oven.physics
    ledger = oven.ledger
    return {
        "loaded_g": sim.oven_loaded_g,
        "ice_wt_pct": sim.ice_wt_pct,
        "sample_mass_g": oven.sample_mass_g,
        "sample_temp_c": oven.sample_temp_k - 273.15,
        "water_in_g": oven.water_in_g,
        "ice_g": oven.ice_g,
        "bound_water_g": oven.bound_water_g,
        "vapour_g": oven.vapour_g,
        "trap_ice_g": oven.trap_ice_g,
        "trap_liquid_g": oven.trap_liquid_g,
        "collected_g": oven.collected_g,
        "pumped_g": oven.pumped_g,
        "lost_g": oven.lost_g,
        "heater_energy_j": oven.heater_energy_j,
        "ledger": {
            "heater_j": ledger.heater_j,
            "sensible_change_j": ledger.sensible_change_j,
            "latent_change_j": ledger.latent_change_j,
            "radiated_j": ledger.radiated_j,
            "conducted_j": ledger.conducted_j,
            "peltier_j": ledger.peltier_j,
            "carried_out_j": ledger.carried_out_j,
            "carried_in_j": ledger.carried_in_j,
            "losses_j": ledger.losses_j,
            "imbalance_j": ledger.imbalance_j,
        },
    }


def elec_truth(sim: SimBoards) -> dict[str, object]:
    cell = sim.elec.cell
    # The reservoir only gains what the oven's pump brings and only loses what the cell splits.
    split = cell.p.water_start_g + sim.cell_fed_g - cell.water_g
    return {
        "water_g": cell.water_g,
        "fed_g": sim.cell_fed_g,
        "electrolysed_g": max(0.0, split),
    }
