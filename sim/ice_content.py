"""How much water ice the simulated regolith holds: the default, the range, one argparse type.

``isru sim``, ``isru sil`` and ``isru seq predict`` take ``--ice-wt-pct`` through
:func:`ice_wt_pct_argument`, and :class:`sim.launcher.SimBoards` checks its ``ice_wt_pct`` with
:func:`check_ice_wt_pct`, so that all of them accept the same values and say the same thing
about the others. The regolith also holds ``OvenParams.bound_water_wt_pct`` (0.15 wt%) of
bound water, so ice may be any percentage from 0 to under 100 less that (99.85).
"""

from __future__ import annotations

import argparse
import math

from sim.oven_physics import OvenParams

__all__ = ["DEFAULT_ICE_WT_PCT", "MAX_ICE_WT_PCT", "check_ice_wt_pct", "ice_wt_pct_argument"]

#: Water ice in the regolith the scoop digs, wt%: LCROSS, Colaprete et al., Science 330
#: (2010) 463: 5.6 +- 2.9 % by mass in the Cabeus ejecta.
DEFAULT_ICE_WT_PCT = 5.6
#: The ice content must stay below this, wt%: the rest of 100 is the bound water.
MAX_ICE_WT_PCT = 100.0 - OvenParams().bound_water_wt_pct


def _why(value: object) -> str:
    return f"must be a percentage from 0 to under {MAX_ICE_WT_PCT:g}, got {value!r}"


def check_ice_wt_pct(value: object) -> float:
    """``value`` as a float; ValueError when it is not a number from 0 to under 99.85."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(_why(value))
    if not (math.isfinite(value) and 0.0 <= value < MAX_ICE_WT_PCT):
        raise ValueError(_why(value))
    return float(value)


def ice_wt_pct_argument(text: str) -> float:
    """An argparse type for ``--ice-wt-pct``: :func:`check_ice_wt_pct` of the number."""
    try:
        return check_ice_wt_pct(float(text))
    except ValueError:
        raise argparse.ArgumentTypeError(_why(text)) from None
