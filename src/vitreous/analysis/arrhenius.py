"""Arrhenius fits of conductivity or diffusion over temperature.

Forms (say which): ``sigma_T``: σT = A exp(−E_a / k_B T); ``sigma``: σ = σ0 exp(−E_a / k_B T);
``D``: D = D0 exp(−E_a / k_B T). Weighted least squares of ln y against 1/T with weights from
the relative uncertainties (unweighted when none are given); E_a and ln A with their
standard errors from the covariance; extrapolation with a 95 % interval from the covariance
(Student t with n − 2 degrees of freedom when the fit is unweighted).

When the input errors are given, the covariance (A^T W A)^-1 is scaled by max(1, χ²_ν),
χ²_ν = Σ w r² / (n − 2): points that scatter more than their error bars say widen the
interval, points that scatter less do not narrow it (Bevington & Robinson, *Data Reduction
and Error Analysis*, 3rd ed., §6.4 and §11.1; the convention of ``scipy.optimize.curve_fit``
with ``absolute_sigma=False``, floored at the stated errors). Predictions outside the fitted
temperature range, or across a given Tg, are flagged.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal, get_args

import numpy as np
from scipy import stats

from vitreous.errors import AnalysisError
from vitreous.units import BOLTZMANN_EV_K

__all__ = ["ArrheniusFit", "fit_arrhenius"]

Form = Literal["sigma_T", "sigma", "D"]
#: the Arrhenius forms, for validation and help texts
FORMS: tuple[str, ...] = get_args(Form)


@dataclass
class ArrheniusFit:
    """Result of :func:`fit_arrhenius`."""

    form: str
    temperatures_K: np.ndarray
    values: np.ndarray
    errors: np.ndarray | None
    Ea_eV: float
    Ea_err_eV: float
    ln_prefactor: float
    ln_prefactor_err: float
    cov: np.ndarray
    dof: int
    weighted: bool
    chi2_reduced: float = float("nan")
    covariance_scale: float = 1.0

    def predict(self, temperature_K: float, level: float = 0.95, tg_K: float | None = None) -> dict[str, Any]:
        """Value (σ or D, not σT) at ``temperature_K`` with a ``level`` interval.

        ``extrapolated`` is true outside the fitted temperature range; ``crosses_tg`` is true
        when ``tg_K`` lies between ``temperature_K`` and the far end of the fitted range
        (an Arrhenius line fitted on one side of Tg does not hold on the other).
        """
        if not np.isfinite(temperature_K) or temperature_K <= 0:
            raise AnalysisError(f"temperature must be positive, got {temperature_K} K")
        t_lo, t_hi = float(self.temperatures_K.min()), float(self.temperatures_K.max())
        x = np.array([1.0, 1.0 / (BOLTZMANN_EV_K * temperature_K)])
        mean = self.ln_prefactor - self.Ea_eV * x[1]
        var = float(np.array([1.0, -x[1]]) @ self.cov @ np.array([1.0, -x[1]]))
        q = (
            stats.norm.ppf(0.5 + level / 2)
            if self.weighted or self.dof <= 0
            else stats.t.ppf(0.5 + level / 2, self.dof)
        )
        lo, hi = mean - q * np.sqrt(var), mean + q * np.sqrt(var)
        div = temperature_K if self.form == "sigma_T" else 1.0
        return {
            "temperature_K": temperature_K,
            "value": float(np.exp(mean) / div),
            "low": float(np.exp(lo) / div),
            "high": float(np.exp(hi) / div),
            "level": level,
            "extrapolated": bool(temperature_K < t_lo or temperature_K > t_hi),
            "fitted_range_K": [t_lo, t_hi],
            "crosses_tg": None if tg_K is None else bool(min(temperature_K, t_lo) < tg_K < max(temperature_K, t_hi)),
            "tg_K": tg_K,
        }

    def to_dict(self) -> dict[str, Any]:
        """JSON-able dict."""
        return {
            "form": self.form,
            "Ea_eV": self.Ea_eV,
            "Ea_err_eV": self.Ea_err_eV,
            "ln_prefactor": self.ln_prefactor,
            "ln_prefactor_err": self.ln_prefactor_err,
            "temperatures_K": self.temperatures_K.tolist(),
            "values": self.values.tolist(),
            "errors": None if self.errors is None else self.errors.tolist(),
            "weighted": self.weighted,
            "cov": self.cov.tolist(),
            "dof": self.dof,
            "chi2_reduced": self.chi2_reduced,
            "covariance_scale": self.covariance_scale,
            "equation": {
                "sigma_T": "sigma*T = A exp(-Ea/kT)",
                "sigma": "sigma = sigma0 exp(-Ea/kT)",
                "D": "D = D0 exp(-Ea/kT)",
            }[self.form],
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ArrheniusFit:
        """Inverse of :meth:`to_dict` (no refit)."""
        return cls(
            d["form"],
            np.asarray(d["temperatures_K"], dtype=float),
            np.asarray(d["values"], dtype=float),
            None if d.get("errors") is None else np.asarray(d["errors"], dtype=float),
            float(d["Ea_eV"]),
            float(d["Ea_err_eV"]),
            float(d["ln_prefactor"]),
            float(d["ln_prefactor_err"]),
            np.asarray(d["cov"], dtype=float),
            int(d["dof"]),
            bool(d["weighted"]),
            float(d.get("chi2_reduced", float("nan"))),
            float(d.get("covariance_scale", 1.0)),
        )

    def plot(self, ax: Any, experiment: list[tuple[float, float]] | None = None, label: str = "MD") -> Any:
        """log10 σ (or D) against 1000/T, with the fit and optional experimental points."""
        t = self.temperatures_K
        ax.errorbar(
            1000 / t,
            np.log10(self.values),
            yerr=None if self.errors is None else self.errors / (self.values * np.log(10)),
            fmt="o",
            label=label,
        )
        tt = np.linspace(min(t.min(), *(e[0] for e in experiment or [(t.min(), 0)])) * 0.95, t.max() * 1.05, 100)
        pred = np.array([self.predict(x)["value"] for x in tt])
        ax.plot(1000 / tt, np.log10(pred), "-", label=f"fit, Ea = {self.Ea_eV:.2f} ± {self.Ea_err_eV:.2f} eV")
        for temp, val in experiment or []:
            ax.plot(1000 / temp, np.log10(val), "ks", label=f"experiment {temp:g} K")
        ax.set_xlabel("1000/T (1/K)")
        ax.set_ylabel("log10 σ (S/cm)" if self.form != "D" else "log10 D (cm²/s)")
        ax.legend(frameon=False)
        return ax


def fit_arrhenius(
    temperatures_K: np.ndarray, values: np.ndarray, errors: np.ndarray | None = None, form: Form = "sigma_T"
) -> ArrheniusFit:
    """Fit ``values`` (σ in S/cm, or D) measured at ``temperatures_K``.

    ``form="sigma_T"`` fits σT (values are σ; the fit multiplies by T).

    Raises
    ------
    AnalysisError
        With fewer than 2 temperatures, non-positive values or temperatures.
    """
    t = np.asarray(temperatures_K, dtype=float)
    y = np.asarray(values, dtype=float)
    if form not in FORMS:
        raise AnalysisError(f"unknown Arrhenius form '{form}'", hint="sigma_T, sigma or D")
    if len(t) < 2 or len(t) != len(y):
        raise AnalysisError("an Arrhenius fit needs at least two (T, value) points")
    if np.any(t <= 0) or np.any(y <= 0) or not np.all(np.isfinite(y)):
        raise AnalysisError("temperatures and values must be positive and finite", hint="drop runs with no diffusion")
    if len(np.unique(t)) < 2:
        raise AnalysisError("an Arrhenius fit needs at least two different temperatures")
    ln_y = np.log(y * t) if form == "sigma_T" else np.log(y)
    x = 1.0 / (BOLTZMANN_EV_K * t)
    a = np.vstack([np.ones_like(x), -x]).T
    weighted = errors is not None
    if weighted:
        err = np.asarray(errors, dtype=float)
        rel = err / y
        if np.any(rel <= 0) or not np.all(np.isfinite(rel)):
            raise AnalysisError("uncertainties must be positive and finite")
        w = 1.0 / rel**2
    else:
        err = None
        w = np.ones_like(x)
    aw = a * w[:, None]
    cov = np.linalg.inv(a.T @ aw)
    coef = cov @ (aw.T @ ln_y)
    dof = len(t) - 2
    resid = ln_y - a @ coef
    chi2 = float(resid @ (w * resid) / dof) if dof > 0 else float("nan")
    scale = 1.0
    if not weighted:
        cov = cov * chi2 if dof > 0 else np.full((2, 2), np.nan)
        scale = chi2
    elif dof > 0 and chi2 > 1.0:
        cov = cov * chi2
        scale = chi2
    return ArrheniusFit(
        form,
        t,
        y,
        err,
        float(coef[1]),
        float(np.sqrt(cov[1, 1])),
        float(coef[0]),
        float(np.sqrt(cov[0, 0])),
        cov,
        dof,
        weighted,
        chi2,
        scale,
    )
