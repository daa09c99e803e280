"""XPS of the V 2p3/2 region: Shirley background and V5+/V4+(/V3+) components → V4+ fraction.

Method
------
1. The region is cut to the V 2p3/2 range (default 512.0–520.5 eV, ``data/experiment/
   xps_v2p.toml``): V 2p1/2 (~7.3 eV higher) and O 1s (~530 eV) lie outside it and are never
   fitted as vanadium.
2. Shirley background (Shirley, Phys. Rev. B 5 (1972) 4709), iterated to self-consistency:
   B(E) = I_lo + (I_hi − I_lo) ∫_{E_lo}^{E} [I − B] dE' / ∫_{E_lo}^{E_hi} [I − B] dE',
   with I_lo and I_hi the mean of ``n_end`` points at each end (binding energy E ascending:
   the step rises towards high binding energy, where the inelastically scattered electrons
   appear).
3. I − B is fitted with lmfit: one peak per component, either GL (the sum form,
   a pseudo-Voigt with a fixed Lorentzian fraction, 0.3 = "GL(30)") or Voigt; centres
   bounded to literature windows, FWHM within bounds, areas ≥ 0. Weights 1/√I (counting
   statistics of the raw counts).
4. V4+ fraction = A(V4+) / (A(V4+) + A(V5+)) (same core level: no sensitivity factors); its
   standard error from the fit covariance of the two areas (first-order propagation).
"""

from __future__ import annotations

import os
import time
import tomllib
from dataclasses import dataclass, field
from importlib import resources
from typing import Any, Literal

import numpy as np

from vitreous.errors import AnalysisError
from vitreous.experiment._table import read_table

__all__ = ["XPSFit", "component_table", "fit_xps", "read_xps", "shirley_background", "v4_fraction_from_xps"]

Shape = Literal["gl", "voigt"]


def component_table() -> dict[str, Any]:
    """The component windows and their sources (``data/experiment/xps_v2p.toml``)."""
    text = resources.files("vitreous.data").joinpath("experiment/xps_v2p.toml").read_text()
    return tomllib.loads(text)


def read_xps(path: str | os.PathLike) -> tuple[np.ndarray, np.ndarray]:
    """Read a region: columns binding energy (eV), counts; energies in either order.

    Returns binding energies ascending and the counts in the same order.

    Raises
    ------
    InputFileError
        Missing, empty or malformed file.
    AnalysisError
        Repeated energies or negative counts.
    """
    table = read_table(path, 2, "binding_energy_eV counts", min_rows=5, max_columns=2)
    e, y = table.data.T
    order = np.argsort(e)
    e, y = e[order], y[order]
    if np.any(np.diff(e) <= 0):
        raise AnalysisError(f"{path}: repeated binding energies", hint="one row per energy")
    if np.any(y < 0):
        raise AnalysisError(f"{path}: negative counts", hint="give raw counts (or counts per second)")
    return e, y


def shirley_background(
    energy_eV: np.ndarray, intensity: np.ndarray, n_end: int = 5, tol: float = 1e-7, max_iter: int = 100
) -> tuple[np.ndarray, int]:
    """Iterative Shirley background on an ascending binding-energy grid.

    Returns
    -------
    background : ndarray
    iterations : int

    Raises
    ------
    AnalysisError
        Too few points, or no convergence within ``max_iter`` iterations.
    """
    e = np.asarray(energy_eV, dtype=float)
    y = np.asarray(intensity, dtype=float)
    if len(e) < 2 * n_end + 3:
        raise AnalysisError(f"{len(e)} points are too few for a Shirley background", hint="widen the energy range")
    lo, hi = float(y[:n_end].mean()), float(y[-n_end:].mean())
    bg = np.full_like(y, lo)
    for it in range(1, max_iter + 1):
        sig = y - bg
        cum = np.concatenate([[0.0], np.cumsum(0.5 * (sig[1:] + sig[:-1]) * np.diff(e))])
        if cum[-1] <= 0:
            raise AnalysisError("no peak above the background in the fit range", hint="check the energy range")
        new = lo + (hi - lo) * cum / cum[-1]
        if np.max(np.abs(new - bg)) <= tol * max(np.max(np.abs(y)), 1e-300):
            return new, it
        bg = new
    raise AnalysisError(f"Shirley background did not converge in {max_iter} iterations")


@dataclass
class XPSFit:
    """Components fitted to the V 2p3/2 region (see the module docstring)."""

    energy_eV: np.ndarray
    counts: np.ndarray
    background: np.ndarray
    curves: dict[str, np.ndarray]
    components: list[dict[str, Any]]
    V4_fraction: float
    V4_fraction_err: float
    shape: str
    fit_range_eV: tuple[float, float]
    shirley_iterations: int
    reduced_chi2: float
    source: str
    fit_time_s: float
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """JSON-able dict (keys of the ``vitreous exp xps`` output)."""
        table = component_table()
        return {
            "source": self.source,
            "V4_fraction": self.V4_fraction,
            "V4_fraction_err": self.V4_fraction_err,
            "definition": "V4+ / (V4+ + V5+), ratio of fitted V 2p3/2 areas",
            "components": self.components,
            "shape": self.shape,
            "background": "Shirley (iterative)",
            "shirley_iterations": self.shirley_iterations,
            "fit_range_eV": list(self.fit_range_eV),
            "reduced_chi2": self.reduced_chi2,
            "windows_source": table["source"],
            "fit_time_s": self.fit_time_s,
            "notes": self.notes,
        }

    def plot(self, ax: Any) -> Any:
        """Data, Shirley background, components on the background, their sum, and the residual."""
        e = self.energy_eV
        total = self.background + sum(self.curves.values())
        ax.plot(e, self.counts, "k.", ms=3, label="data")
        ax.plot(e, self.background, "k--", lw=1, label="Shirley background")
        for comp in self.components:
            ax.fill_between(
                e,
                self.background,
                self.background + self.curves[comp["label"]],
                alpha=0.35,
                label=f"{comp['label']} {comp['binding_energy_eV']:.2f} eV",
            )
        ax.plot(e, total, "r-", lw=1.2, label=f"fit, V4+/V = {self.V4_fraction:.3f} ± {self.V4_fraction_err:.3f}")
        resid = self.counts - total
        offset = self.counts.min() - 1.2 * np.abs(resid).max()
        ax.plot(e, resid + offset, "b-", lw=0.8, label="residual (offset)")
        ax.set_xlim(e.max(), e.min())
        ax.set_xlabel("binding energy (eV)")
        ax.set_ylabel("counts")
        ax.legend(frameon=False, fontsize=7)
        return ax


def fit_xps(
    energy_eV: np.ndarray,
    counts: np.ndarray,
    components: tuple[str, ...] = ("V5", "V4"),
    shape: Shape = "gl",
    fit_range_eV: tuple[float, float] | None = None,
    shift_eV: float = 0.0,
    source: str = "",
) -> XPSFit:
    """Fit V 2p3/2 components and return the V4+ fraction.

    Parameters
    ----------
    energy_eV, counts : ndarray
        Binding energies (eV, ascending) and counts, e.g. from :func:`read_xps`.
    components : tuple of str
        Any of ``V5``, ``V4``, ``V3``; ``V5`` and ``V4`` are required.
    shape : {"gl", "voigt"}
        GL(30) sum form (pseudo-Voigt) or Voigt.
    fit_range_eV : (float, float), optional
        Energy range fitted (default 512.0–520.5 eV: V 2p3/2 only).
    shift_eV : float
        Added to every binding energy first (charge correction).

    Raises
    ------
    AnalysisError
        Unknown component or shape, too few points in the range for the parameters, no
        peak above the background, or a fit that does not converge.
    """
    import lmfit

    table = component_table()
    known = table["components"]
    bad = [c for c in components if c not in known]
    if bad or len(set(components)) != len(components):
        raise AnalysisError(f"unknown or repeated component(s) {bad or list(components)}", hint="V5,V4 or V5,V4,V3")
    if not {"V5", "V4"} <= set(components):
        raise AnalysisError("the V4+ fraction needs both V5 and V4 components", hint="--components V5,V4")
    if shape not in ("gl", "voigt"):
        raise AnalysisError(f"unknown peak shape '{shape}'", hint="gl or voigt")
    e_all = np.asarray(energy_eV, dtype=float) + shift_eV
    y_all = np.asarray(counts, dtype=float)
    wide = fit_range_eV is None and e_all.max() >= table["wide_from_eV"]
    default = (table["fit_range_eV"][0], float(e_all.max())) if wide else tuple(table["fit_range_eV"])
    lo, hi = fit_range_eV or default
    known = known | table["nuisance"]
    fitted = list(components) + [n for n in table["nuisance"] if known[n]["window_eV"][1] - 0.5 < hi]
    if lo >= hi:
        raise AnalysisError(f"empty energy range {lo}–{hi} eV")
    sel = (e_all >= lo) & (e_all <= hi)
    e, y = e_all[sel], y_all[sel]
    n_par = 3 * len(fitted)
    if len(e) < 3 * n_par:
        raise AnalysisError(
            f"{source or 'XPS'}: {len(e)} points in {lo:g}–{hi:g} eV for {n_par} parameters",
            hint="the region must cover V 2p3/2 (about 512-520 eV); use --shift-eV for charge correction",
        )
    notes = []
    if e_all.max() > 528.0:
        where = "fitted as a nuisance peak" if hi > 528 else "outside the fit range"
        notes.append(f"O 1s in the recorded window: {where}")
    t0 = time.perf_counter()
    bg, n_it = shirley_background(e, y)
    signal = y - bg
    area = float(np.trapezoid(np.clip(signal, 0, None), e))
    model = None
    for c in fitted:
        prefix = f"{c}_"
        m = lmfit.models.PseudoVoigtModel(prefix=prefix) if shape == "gl" else lmfit.models.VoigtModel(prefix=prefix)
        model = m if model is None else model + m
    params = model.make_params()
    for c in fitted:
        w_lo, w_hi = known[c]["window_eV"]
        fw_lo, fw_hi = known[c].get("fwhm_eV", table["fwhm_eV"])
        params[f"{c}_center"].set(value=known[c]["centre_eV"], min=w_lo, max=w_hi)
        params[f"{c}_amplitude"].set(value=area / len(fitted), min=0.0)
        if shape == "gl":
            params[f"{c}_sigma"].set(value=(fw_lo + fw_hi) / 4, min=fw_lo / 2, max=fw_hi / 2)  # pseudo-Voigt FWHM = 2σ
            params[f"{c}_fraction"].set(value=table["gl_lorentz_fraction"], vary=False)
        else:
            params[f"{c}_sigma"].set(value=(fw_lo + fw_hi) / 8, min=fw_lo / 3.6, max=fw_hi / 2.35)
            params[f"{c}_gamma"].set(value=0.1, min=0.0, max=0.5, vary=True, expr="")
    weights = 1.0 / np.sqrt(np.clip(y, 1.0, None))
    result = model.fit(signal, params, x=e, weights=weights, nan_policy="raise")
    elapsed = time.perf_counter() - t0
    if not result.success:
        raise AnalysisError(f"{source or 'XPS'}: the component fit did not converge ({result.message})")
    curves = {known[c]["label"]: result.eval_components(x=e)[f"{c}_"] for c in fitted}
    comps = []
    for c in fitted:
        p = result.params
        comps.append(
            {
                "label": known[c]["label"],
                "binding_energy_eV": float(p[f"{c}_center"].value),
                "binding_energy_err_eV": _err(p[f"{c}_center"]),
                "fwhm_eV": float(p[f"{c}_fwhm"].value),
                "area": float(p[f"{c}_amplitude"].value),
                "area_err": _err(p[f"{c}_amplitude"]),
                "window_eV": known[c]["window_eV"],
                "at_window_edge": bool(min(abs(p[f"{c}_center"].value - w) for w in known[c]["window_eV"]) < 0.01),
                "used_in_fraction": c in components,
            }
        )
    if len(fitted) > len(components):
        notes.append(f"nuisance peaks fitted, not counted as V 2p3/2: {', '.join(fitted[len(components) :])}")
    a4, a5 = result.params["V4_amplitude"].value, result.params["V5_amplitude"].value
    if a4 + a5 <= 0:
        raise AnalysisError(f"{source or 'XPS'}: no V4+ or V5+ intensity fitted", hint="check the energy range")
    frac = a4 / (a4 + a5)
    frac_err = float("nan")
    if result.covar is not None:
        names = list(result.var_names)
        i4, i5 = names.index("V4_amplitude"), names.index("V5_amplitude")
        grad = np.array([a5, -a4]) / (a4 + a5) ** 2
        sub = result.covar[np.ix_([i4, i5], [i4, i5])]
        frac_err = float(np.sqrt(max(grad @ sub @ grad, 0.0)))
    else:
        notes.append("no covariance from the fit: uncertainties unavailable")
    if any(c["at_window_edge"] for c in comps if c["used_in_fraction"]):
        notes.append("a component centre sits at its window edge: check the charge correction (--shift-eV)")
    return XPSFit(
        e,
        y,
        bg,
        curves,
        comps,
        float(frac),
        frac_err,
        shape,
        (float(lo), float(hi)),
        n_it,
        float(result.redchi),
        source,
        elapsed,
        notes,
    )


def _err(param: Any) -> float | None:
    return None if param.stderr is None else float(param.stderr)


def v4_fraction_from_xps(path: str | os.PathLike) -> float:
    """The V4+ fraction stored in a ``vitreous exp xps`` result JSON.

    Raises
    ------
    InputFileError
        Missing file, not JSON, or no ``V4_fraction`` between 0 and 1.
    """
    import json
    from pathlib import Path

    from vitreous.errors import InputFileError

    path = Path(path)
    if not path.is_file():
        raise InputFileError(f"cannot read {path}: no such file", hint="make it with 'vitreous exp xps'")
    try:
        value = json.loads(path.read_text())["V4_fraction"]
    except (json.JSONDecodeError, KeyError, TypeError):
        raise InputFileError(f"{path} is not an XPS result", hint="make it with 'vitreous exp xps'") from None
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
        raise InputFileError(f"{path}: V4_fraction {value!r} is not within 0-1")
    return float(value)
