"""PEM cell parameter sets: TOML files with their sources, validated on load.

A set describes one stack: its cells, reversible voltage, partial pressures, electrode
kinetics, membrane, gas crossover, mass transport and heat. The shipped sets are in
``sim/params/*.toml`` (each key there carries its source); a team writes its own file with
the same keys (or lets ``isru sim fit`` write one) and names it with ``--cell-params FILE``
or ``--params FILE``. Every key, its unit and its meaning:

``name``, ``source``
    what the set is and where its numbers come from.
``[stack]`` ``area_cm2``, ``cells``
    active area of one cell; cells in series (the current flows through each).
``[reversible]`` ``coefficients``
    ``E_rev(T) = c0 + c1 T + c2 T ln T + c3 T^2`` in V, ``T`` in K, at 1 bar.
``[pressure]`` ``vapour_log10_bar``, ``cathode_rise_bar_cm2_a``, ``anode_rise_bar_cm2_a``
    ``log10(p_sat / bar) = sum b_k t^k``, ``t`` in degC; the gas partial pressures at the
    electrodes are ``p_H2 = p_cathode - p_sat + rise_c j`` and ``p_O2 = p_anode - p_sat +
    rise_a j`` (bar, ``j`` in A/cm2; the rise is the gas built up in the porous layers).
``[kinetics]`` ``temperature_range_c``; ``[kinetics.anode]``, optional ``[kinetics.cathode]``
    each electrode ``eta = b(T) asinh(j / (2 i0(T)))`` (Butler-Volmer with equal transfer
    coefficients; the Tafel law ``b ln(j / i0)`` for ``j >> i0``). ``form = "exp_sum"``:
    ``b`` and ``i0`` as sums of ``a exp(k t)`` terms, ``[[a, k], ...]``, ``t`` in degC.
    ``form = "arrhenius"``: ``b = R T / (transfer_coefficient F)`` and ``i0 =
    exchange_current_a_cm2 exp(-activation_energy_j_mol / R (1/T - 1/T_ref))`` with
    ``reference_c``. Outside ``temperature_range_c`` the kinetics are held at the nearer end.
``[membrane]`` ``thickness_cm``, ``water_content``, ``electronic_resistance_ohm_cm2``
    Springer et al. (1991) conductivity at water content lambda, plus the electronic
    (plates, contacts, porous layers) area resistance.
``[crossover]`` ``h2_permeability_mol_cm_s_bar``, ``h2_pressure_driven_mol_cm_s_bar``,
``o2_permeability_mol_cm_s_bar``, ``activation_energy_j_mol``, ``reference_c``
    see :mod:`sim.pem_crossover`.
``[mass_transport]`` (optional) ``limiting_current_a_cm2``, ``coefficient_v``
    ``eta = -coefficient_v ln(1 - j / limiting_current)``.
``[thermal]`` ``heat_capacity_j_k``, ``loss_w_k``, ``ambient_c``
    the lumped thermal model of :mod:`sim.pem_thermal`.
``[fit]`` (optional)
    what ``isru sim fit`` found (residuals, standard errors); read by nobody.
"""

from __future__ import annotations

import argparse
import math
import re
import tomllib
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

FARADAY = 96485.33212  # C/mol
GAS_CONSTANT = 8.314462618  # J/(mol K)
KELVIN = 273.15
#: The parameter set the simulator uses unless told otherwise.
DEFAULT_SET = "tjarks2017"

Positive = Annotated[float, Field(gt=0, allow_inf_nan=False)]
NonNegative = Annotated[float, Field(ge=0, allow_inf_nan=False)]
Finite = Annotated[float, Field(allow_inf_nan=False)]
ExpTerm = tuple[Finite, Finite]


class ParamsError(ValueError):
    """A parameter file that cannot be used; the message names the file and the key."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Stack(_Strict):
    area_cm2: Positive
    cells: Annotated[int, Field(ge=1)]


class Reversible(_Strict):
    coefficients: tuple[Finite, Finite, Finite, Finite]

    def volts(self, t_c: float) -> float:
        c0, c1, c2, c3 = self.coefficients
        t = t_c + KELVIN
        return c0 + c1 * t + c2 * t * math.log(t) + c3 * t * t


class Pressure(_Strict):
    vapour_log10_bar: Annotated[tuple[Finite, ...], Field(min_length=1)]
    cathode_rise_bar_cm2_a: NonNegative
    anode_rise_bar_cm2_a: NonNegative

    def vapour_bar(self, t_c: float) -> float:
        return float(10.0 ** sum(b * t_c**k for k, b in enumerate(self.vapour_log10_bar)))


class ExpSumKinetics(_Strict):
    form: Literal["exp_sum"]
    tafel_slope_v: Annotated[tuple[ExpTerm, ...], Field(min_length=1)]
    exchange_current_a_cm2: Annotated[tuple[ExpTerm, ...], Field(min_length=1)]

    def slope_v(self, t_c: float) -> float:
        return sum(a * math.exp(k * t_c) for a, k in self.tafel_slope_v)

    def i0_a_cm2(self, t_c: float) -> float:
        return sum(a * math.exp(k * t_c) for a, k in self.exchange_current_a_cm2)


class ArrheniusKinetics(_Strict):
    form: Literal["arrhenius"]
    transfer_coefficient: Positive
    exchange_current_a_cm2: Positive
    activation_energy_j_mol: NonNegative
    reference_c: Finite = 25.0

    def slope_v(self, t_c: float) -> float:
        return GAS_CONSTANT * (t_c + KELVIN) / (self.transfer_coefficient * FARADAY)

    def i0_a_cm2(self, t_c: float) -> float:
        inverse = 1.0 / (t_c + KELVIN) - 1.0 / (self.reference_c + KELVIN)
        return self.exchange_current_a_cm2 * math.exp(
            -self.activation_energy_j_mol / GAS_CONSTANT * inverse
        )


Electrode = Annotated[ExpSumKinetics | ArrheniusKinetics, Field(discriminator="form")]


class Kinetics(_Strict):
    temperature_range_c: tuple[Finite, Finite]
    anode: Electrode
    cathode: Electrode | None = None

    @model_validator(mode="after")
    def _positive_in_range(self) -> Kinetics:
        lo, hi = self.temperature_range_c
        if not -50.0 <= lo <= hi <= 200.0:
            raise ValueError(
                "temperature_range_c: must be [low, high] with -50 <= low <= high <= 200"
            )
        for side, electrode in (("anode", self.anode), ("cathode", self.cathode)):
            if electrode is None:
                continue
            for step in range(101):
                t_c = lo + (hi - lo) * step / 100
                for key, value in (
                    ("tafel_slope_v", electrode.slope_v(t_c)),
                    ("exchange_current_a_cm2", electrode.i0_a_cm2(t_c)),
                ):
                    if not (math.isfinite(value) and value > 0):
                        raise ValueError(f"{side}.{key}: not a positive number at {t_c:g} degC")
        return self

    def clamp_c(self, t_c: float) -> float:
        lo, hi = self.temperature_range_c
        return min(max(t_c, lo), hi)


class Membrane(_Strict):
    thickness_cm: Positive
    water_content: Annotated[float, Field(gt=0.634, le=30, allow_inf_nan=False)]
    electronic_resistance_ohm_cm2: NonNegative


class Crossover(_Strict):
    h2_permeability_mol_cm_s_bar: NonNegative
    h2_pressure_driven_mol_cm_s_bar: NonNegative
    o2_permeability_mol_cm_s_bar: NonNegative
    activation_energy_j_mol: NonNegative = 0.0
    reference_c: Finite = 80.0


class MassTransport(_Strict):
    limiting_current_a_cm2: Positive
    coefficient_v: NonNegative


class Thermal(_Strict):
    heat_capacity_j_k: Positive
    loss_w_k: NonNegative
    ambient_c: Annotated[float, Field(ge=-200, le=100, allow_inf_nan=False)]


class PemParams(_Strict):
    """One parameter set (see the module docstring for every key)."""

    name: Annotated[str, Field(min_length=1)]
    source: Annotated[str, Field(min_length=1)]
    stack: Stack
    reversible: Reversible
    pressure: Pressure
    kinetics: Kinetics
    membrane: Membrane
    crossover: Crossover
    mass_transport: MassTransport | None = None
    thermal: Thermal
    fit: dict[str, float | int | str] | None = None


def _where(loc: tuple[int | str, ...]) -> str:
    parts = [str(p) for p in loc if p not in ("exp_sum", "arrhenius")]
    return ".".join(parts) or "(top level)"


def parse_params(data: dict[str, object], origin: str) -> PemParams:
    """Validate a parsed TOML document; a ``ParamsError`` names ``origin`` and the key."""
    try:
        return PemParams.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        message = "unknown key" if first["type"] == "extra_forbidden" else first["msg"]
        message = message.removeprefix("Value error, ")
        where = _where(first["loc"])
        head, sep, rest = message.partition(": ")
        if sep and re.fullmatch(r"[a-z_][a-z0-9_.]*", head):  # a validator naming a sub-key
            where, message = f"{where}.{head}", rest
        more = len(exc.errors()) - 1
        tail = f" (and {more} more problem{'s' if more > 1 else ''})" if more else ""
        raise ParamsError(f"{origin}: {where}: {message}{tail}") from None


def load_params(path: str | Path) -> PemParams:
    """Read and validate the parameter file at ``path``."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = getattr(exc, "strerror", None) or str(exc)
        raise ParamsError(f"{path}: cannot read: {reason}") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ParamsError(f"{path}: not valid TOML: {exc}") from None
    return parse_params(data, str(path))


def shipped_sets() -> tuple[str, ...]:
    """Names of the parameter sets shipped in ``sim/params``."""
    folder = resources.files("sim") / "params"
    return tuple(sorted(p.name[:-5] for p in folder.iterdir() if p.name.endswith(".toml")))


@cache
def shipped_params(name: str = DEFAULT_SET) -> PemParams:
    """A shipped parameter set by name (``tjarks2017`` by default)."""
    if name not in shipped_sets():
        raise ParamsError(f"no shipped parameter set {name!r}: {', '.join(shipped_sets())}")
    resource = resources.files("sim") / "params" / f"{name}.toml"
    return parse_params(
        tomllib.loads(resource.read_text(encoding="utf-8")), f"sim/params/{name}.toml"
    )


def resolve_params(spec: str) -> PemParams:
    """``spec`` is a file path, or the name of a shipped set."""
    if spec in shipped_sets() and not Path(spec).is_file():
        return shipped_params(spec)
    if not Path(spec).exists() and not spec.endswith(".toml"):
        names = ", ".join(shipped_sets())
        raise ParamsError(f"{spec}: no such file, nor a shipped parameter set ({names})")
    return load_params(spec)


def params_argument(text: str) -> PemParams:
    """An argparse type: :func:`resolve_params`, its error as the argument's error."""
    try:
        return resolve_params(text)
    except ParamsError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
