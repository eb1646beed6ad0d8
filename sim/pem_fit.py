"""Fit a PEM cell's kinetic and ohmic parameters to a measured polarization curve.

The model is the simulator's (:mod:`sim.pem_model`) with one Butler-Volmer term for the whole
cell (``form = "arrhenius"``)::

    V = E(T, j) + R T / (alpha F) asinh(j / (2 i0(T))) + j (R_el + L / sigma(T)) + eta_mt
    i0(T) = i0_ref exp(-Ea / R (1/T - 1/T_ref))

``E`` (Nernst at 1 bar on both sides), the membrane's ``L / sigma`` and ``eta_mt`` come from a
base parameter set; the fit finds ``alpha``, ``i0_ref`` (at ``T_ref``, the data's mean
temperature), ``R_el`` and, when the data span at least ``MIN_SPAN_K`` of temperature,
``Ea``, by nonlinear least squares (``scipy.optimize.least_squares``, trust-region reflective,
from several starting points). Confidence: the covariance ``s^2 (J^T J)^-1`` at the optimum,
``s^2`` the residual variance, and Student's t at 95 %. With one temperature the kinetics
cannot be carried to another, so the file written holds them at that temperature
(``temperature_range_c = [T, T]``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy import optimize, stats

from sim.pem_model import area_resistance, mass_transport_voltage, nernst_voltage
from sim.pem_params import FARADAY, GAS_CONSTANT, KELVIN, PemParams, parse_params

MIN_SPAN_K = 5.0
NAMES = (
    "transfer_coefficient",
    "exchange_current_log10_a_cm2",
    "electronic_resistance_ohm_cm2",
    "activation_energy_kj_mol",
)

Array = NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class Fit:
    """Fitted values with their 95 % half-widths (``inf``: not determined; absent: not fitted)."""

    values: dict[str, float]
    ci95: dict[str, float]
    reference_c: float
    temperatures_c: tuple[float, float]
    points: int
    rms_residual_v: float
    max_residual_v: float
    params: PemParams


def _fixed_parts(base: PemParams, j: Array, t_c: Array) -> Array:
    """What the fit does not change: Nernst, membrane, mass transport, per point."""
    electronic = base.membrane.electronic_resistance_ohm_cm2
    return np.array(
        [
            nernst_voltage(base, ji, ti)
            + ji * (area_resistance(base, ti) - electronic)
            + mass_transport_voltage(base, ji)
            for ji, ti in zip(j, t_c, strict=True)
        ]
    )


def _model(x: Array, j: Array, t_k: Array, t_ref_k: float, fixed: Array) -> Array:
    alpha, log_i0, r_el = x[0], x[1], x[2]
    ea = x[3] * 1e3 if len(x) > 3 else 0.0
    i0 = 10.0**log_i0 * np.exp(-ea / GAS_CONSTANT * (1.0 / t_k - 1.0 / t_ref_k))
    slope = GAS_CONSTANT * t_k / (alpha * FARADAY)
    result: Array = fixed + slope * np.arcsinh(j / (2.0 * i0)) + j * r_el
    return result


def fit_polarization(
    base: PemParams, j: Array, t_c: Array, volts: Array, *, name: str, source: str
) -> Fit:
    """Fit ``volts`` measured at ``j`` A/cm2 and ``t_c`` degC; ``base`` gives the rest."""
    lo_c, hi_c = float(t_c.min()), float(t_c.max())
    with_ea = hi_c - lo_c >= MIN_SPAN_K
    n_params = 4 if with_ea else 3
    if len(j) < n_params + 2:
        raise ValueError(f"need at least {n_params + 2} points to fit {n_params} parameters")
    t_ref_c = round(float(t_c.mean()), 1)
    t_k, t_ref_k = t_c + KELVIN, t_ref_c + KELVIN
    fixed = _fixed_parts(base, j, t_c)
    if not np.isfinite(fixed).all():
        raise ValueError(f"a current density is at or past {base.name}'s limiting current")
    lower = [0.05, -15.0, 0.0, 0.0][:n_params]
    upper = [4.0, 0.0, 5.0, 300.0][:n_params]
    best = None
    for log_i0 in (-9.0, -6.0, -3.0):
        x0 = np.array([0.5, log_i0, 0.1, 50.0][:n_params])
        result = optimize.least_squares(
            lambda x: _model(x, j, t_k, t_ref_k, fixed) - volts,
            x0,
            bounds=(lower, upper),
            x_scale="jac",
        )
        if best is None or result.cost < best.cost:
            best = result
    assert best is not None
    residuals = best.fun
    dof = len(j) - n_params
    variance = float(residuals @ residuals) / dof
    try:
        covariance = np.linalg.inv(best.jac.T @ best.jac) * variance
        spread = np.sqrt(np.clip(np.diag(covariance), 0.0, None))
    except np.linalg.LinAlgError:
        spread = np.full(n_params, math.inf)
    t95 = float(stats.t.ppf(0.975, dof)) if dof > 0 else math.inf
    values = {k: float(v) for k, v in zip(NAMES, best.x, strict=False)}
    ci95 = {k: float(t95 * s) for k, s in zip(NAMES, spread, strict=False)}
    rms = math.sqrt(float(residuals @ residuals) / len(j))
    worst = float(np.abs(residuals).max())
    info: dict[str, float | int | str] = {"points": len(j), "rms_residual_v": rms}
    info |= {"max_residual_v": worst} | {f"{k}_ci95": v for k, v in ci95.items()}
    params = _written(base, values, t_ref_c, (lo_c, hi_c), name, source)
    return Fit(
        values=values,
        ci95=ci95,
        reference_c=t_ref_c,
        temperatures_c=(lo_c, hi_c),
        points=len(j),
        rms_residual_v=rms,
        max_residual_v=worst,
        params=params.model_copy(update={"fit": info}),
    )


def _written(
    base: PemParams,
    values: dict[str, float],
    t_ref_c: float,
    span_c: tuple[float, float],
    name: str,
    source: str,
) -> PemParams:
    data = base.model_dump(mode="python", exclude_none=True)
    data["name"], data["source"] = name, source
    data["kinetics"] = {
        "temperature_range_c": list(span_c),
        "anode": {
            "form": "arrhenius",
            "transfer_coefficient": values["transfer_coefficient"],
            "exchange_current_a_cm2": 10.0 ** values["exchange_current_log10_a_cm2"],
            "activation_energy_j_mol": values.get("activation_energy_kj_mol", 0.0) * 1e3,
            "reference_c": t_ref_c,
        },
    }
    data["membrane"]["electronic_resistance_ohm_cm2"] = values["electronic_resistance_ohm_cm2"]
    data.pop("fit", None)
    return parse_params(data, "the fitted parameters")
