"""Glass transition temperature from a cooling run.

Tg is the intersection of two straight lines fitted to volume (or enthalpy) against
temperature in the glass and liquid regimes (SYSTEM.md). The run is a continuous NPT cooling
at a stated rate (:func:`vitreous.protocols.tg_cooling`; volume and enthalpy averaged in
windows of the thermostat's ramp, each window's x the mean measured T: see
:func:`cooling_averages`) or a stepwise scan (:func:`scan_averages`). Tg depends on the
cooling rate (roughly linearly in log rate; MD rates of 1-100 K/ps are 10-12 orders of
magnitude above a DSC's 10 K/min), so the rate is part of the result. The break point is optimised:
the continuous two-segment model y = a + b (T − Tg) + c max(0, T − Tg) is fitted by least
squares for every candidate Tg on a fine grid between the 3rd-lowest and 3rd-highest
temperature, then refined; the interval comes from a residual bootstrap (refit on the model
plus resampled residuals).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from vitreous.errors import AnalysisError

__all__ = ["TgFit", "cooling_averages", "fit_tg", "scan_averages", "tg_from_source"]


@dataclass
class TgFit:
    """Result of :func:`fit_tg`."""

    Tg_K: float
    interval_K: tuple[float, float]
    temperatures_K: np.ndarray
    values: np.ndarray
    quantity: str
    slopes: tuple[float, float]
    n_bootstrap: int
    coef: np.ndarray
    cooling_rate_K_per_ps: float | None = None
    averaging: str = ""

    def model(self, t: np.ndarray) -> np.ndarray:
        """The fitted two-line model at temperatures t."""
        return _design(np.asarray(t, dtype=float), self.Tg_K) @ self.coef

    def to_dict(self) -> dict[str, Any]:
        """JSON-able dict."""
        return {
            "Tg_K": self.Tg_K,
            "Tg_interval_K": list(self.interval_K),
            "quantity": self.quantity,
            "slope_glass": self.slopes[0],
            "slope_liquid": self.slopes[1],
            "temperatures_K": self.temperatures_K.tolist(),
            "values": self.values.tolist(),
            "coef": self.coef.tolist(),
            "n_bootstrap": self.n_bootstrap,
            "cooling_rate_K_per_ps": self.cooling_rate_K_per_ps,
            "averaging": self.averaging,
            "method": f"continuous two-line least squares, break optimised; 95 % residual bootstrap "
            f"({self.n_bootstrap} resamples)",
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TgFit:
        """Inverse of :meth:`to_dict` (no refit)."""
        return cls(
            float(d["Tg_K"]),
            (float(d["Tg_interval_K"][0]), float(d["Tg_interval_K"][1])),
            np.asarray(d["temperatures_K"], dtype=float),
            np.asarray(d["values"], dtype=float),
            d["quantity"],
            (float(d["slope_glass"]), float(d["slope_liquid"])),
            int(d["n_bootstrap"]),
            np.asarray(d["coef"], dtype=float),
            d.get("cooling_rate_K_per_ps"),
            d.get("averaging", ""),
        )

    def plot(self, ax: Any) -> Any:
        """Data, the two lines and Tg."""
        ax.plot(self.temperatures_K, self.values, "o", label=self.quantity)
        tt = np.linspace(self.temperatures_K.min(), self.temperatures_K.max(), 200)
        ax.plot(tt, self.model(tt), "-", label="two-line fit")
        ax.axvline(self.Tg_K, color="k", ls="--", label=f"Tg = {self.Tg_K:.0f} K")
        ax.axvspan(*self.interval_K, color="0.85", zorder=0)
        ax.set_xlabel("T (K)")
        ax.set_ylabel(self.quantity)
        ax.legend(frameon=False)
        return ax


def _design(t: np.ndarray, tg: float) -> np.ndarray:
    return np.vstack([np.ones_like(t), t - tg, np.maximum(0.0, t - tg)]).T


def _best_break(t: np.ndarray, y: np.ndarray) -> tuple[float, np.ndarray]:
    ts = np.sort(t)
    lo, hi = ts[2], ts[-3]
    grid = np.linspace(lo, hi, 200)

    def sse(tg: float) -> tuple[float, np.ndarray]:
        a = _design(t, tg)
        coef, *_ = np.linalg.lstsq(a, y, rcond=None)
        r = y - a @ coef
        return float(r @ r), coef

    errs = [sse(g)[0] for g in grid]
    k = int(np.argmin(errs))
    fine = np.linspace(grid[max(0, k - 1)], grid[min(len(grid) - 1, k + 1)], 101)
    errs = [sse(g)[0] for g in fine]
    tg = float(fine[int(np.argmin(errs))])
    return tg, sse(tg)[1]


def fit_tg(
    temperatures_K: np.ndarray, values: np.ndarray, quantity: str = "volume (Å³)", n_bootstrap: int = 500, seed: int = 0
) -> TgFit:
    """Tg (K) with a 95 % bootstrap interval from (T, volume or enthalpy) points.

    Raises
    ------
    AnalysisError
        With fewer than 6 points (3 per line at least).
    """
    t = np.asarray(temperatures_K, dtype=float)
    y = np.asarray(values, dtype=float)
    if len(t) < 6 or len(t) != len(y):
        raise AnalysisError(f"a Tg fit needs at least 6 temperatures, got {len(t)}", hint="scan a wider range")
    if len(np.unique(t)) < 6:
        raise AnalysisError("a Tg fit needs at least 6 different temperatures")
    tg, coef = _best_break(t, y)
    fitted = _design(t, tg) @ coef
    resid = y - fitted
    rng = np.random.default_rng(seed)
    boots = np.array(
        [_best_break(t, fitted + rng.choice(resid, len(resid), replace=True))[0] for _ in range(n_bootstrap)]
    )
    fit = TgFit(
        tg,
        (float(np.percentile(boots, 2.5)), float(np.percentile(boots, 97.5))),
        t,
        y,
        quantity,
        (float(coef[1]), float(coef[1] + coef[2])),
        n_bootstrap,
        coef,
    )
    return fit


def scan_averages(
    observables: dict[str, np.ndarray],
    stage_temperatures_K: list[float],
    stage_steps: list[tuple[int, int]],
    quantity: str = "volume",
) -> tuple[np.ndarray, np.ndarray]:
    """Mean of an observable over the second half of each stage of a stepwise scan."""
    steps = observables["step"]
    out_t, out_v = [], []
    for temp, (begin, end) in zip(stage_temperatures_K, stage_steps, strict=True):
        sel = (steps > begin + (end - begin) / 2) & (steps <= end)
        if sel.any():
            out_t.append(temp)
            out_v.append(float(np.mean(observables[quantity][sel])))
    return np.array(out_t), np.array(out_v)


def cooling_averages(
    observables: dict[str, np.ndarray], stage: dict[str, Any], first_step: int, window_K: float, quantity: str
) -> tuple[np.ndarray, np.ndarray]:
    """Window averages of a continuous cooling stage.

    The thermostat target falls linearly from ``t_start_K`` to ``t_end_K`` over the stage's
    steps; rows are grouped in windows of ``window_K`` of that target and each window gives
    (mean measured T, mean ``quantity``). Windows with fewer than 3 rows are dropped.
    """
    if window_K <= 0:
        raise AnalysisError(f"window must be positive (K), got {window_K}")
    steps = np.asarray(observables["step"])
    sel = (steps > first_step) & (steps <= first_step + stage["steps"])
    frac = (steps[sel] - first_step) / stage["steps"]
    target = stage["t_start_K"] + (stage["t_end_K"] - stage["t_start_K"]) * frac
    edges = np.arange(stage["t_end_K"], stage["t_start_K"] + window_K / 2, window_K)
    which = np.digitize(target, edges)
    temp = np.asarray(observables["temperature"])[sel]
    vals = np.asarray(observables[quantity])[sel]
    out_t, out_v = [], []
    for w in np.unique(which):
        m = which == w
        if m.sum() >= 3:
            out_t.append(float(temp[m].mean()))
            out_v.append(float(vals[m].mean()))
    return np.array(out_t), np.array(out_v)


def tg_from_source(source: Any, quantity: str = "volume", window_K: float = 25.0, n_bootstrap: int = 500) -> TgFit:
    """Tg from a cooling H5MD trajectory or a text file with columns T, V[, H].

    H5MD: a continuous cooling (an NPT stage whose target temperature falls; window
    averages, :func:`cooling_averages`, rate in the result), else a stepwise scan
    (second-half average of each NPT stage)."""
    from pathlib import Path

    from vitreous.errors import InputFileError

    path = Path(source)
    if not path.is_file():
        raise InputFileError(f"cannot read {path}: no such file", hint="check the path")
    names = {"volume": "volume (Å³)", "density": "density (g/cm³)", "enthalpy": "enthalpy (eV)"}
    if quantity not in names:
        raise AnalysisError(f"unknown quantity '{quantity}'", hint="volume, density or enthalpy")
    if path.suffix.lower() in {".h5", ".h5md", ".hdf5"}:
        from vitreous.io.h5md import H5MDTrajectory

        with H5MDTrajectory(path) as traj:
            obs = traj.observables()
            proto = traj.metadata.get("protocol")
        if not proto:
            raise InputFileError(f"{path} has no protocol metadata", hint="give a text file T V [H]")
        from vitreous.protocols import Protocol

        protocol = Protocol.from_dict(proto)
        bounds = protocol.stage_bounds()
        ramps = [
            k
            for k, st in enumerate(protocol.stages)
            if st.ensemble == "npt" and st.t_start_K is not None and (st.t_end_K or st.t_start_K) < st.t_start_K
        ]
        if quantity not in obs:
            raise InputFileError(f"{path} has no {quantity} observable")
        if ramps:
            st = protocol.stages[ramps[-1]]
            t, v = cooling_averages(obs, proto["stages"][ramps[-1]], bounds[ramps[-1]][0], window_K, quantity)
            rate = (st.t_start_K - st.t_end_K) / st.duration_ps
            fit = fit_tg(t, v, names[quantity], n_bootstrap)
            fit.cooling_rate_K_per_ps = rate
            fit.averaging = f"continuous NPT cooling at {rate:g} K/ps, averages in {window_K:g} K windows of the ramp"
            return fit
        temps = [float(st.t_start_K) if st.t_start_K is not None else np.nan for st in protocol.stages]
        keep = [k for k, st in enumerate(protocol.stages) if st.ensemble == "npt"] or list(range(len(temps)))
        t, v = scan_averages(obs, [temps[k] for k in keep], [bounds[k] for k in keep], quantity)
        fit = fit_tg(t, v, names[quantity], n_bootstrap)
        fit.averaging = "stepwise scan, second half of each stage"
        return fit
    else:
        try:
            data = np.loadtxt(path, comments="#", ndmin=2)
        except ValueError as exc:
            raise InputFileError(f"cannot read {path}: {exc}", hint="columns T V [H], comments with #") from None
        col = {"volume": 1, "density": 1, "enthalpy": 2}[quantity]
        if data.shape[1] <= col:
            raise InputFileError(f"{path} has no column for {quantity}")
        t, v = data[:, 0], data[:, col]
    fit = fit_tg(t, v, names[quantity], n_bootstrap)
    fit.averaging = f"as given in {path.name}"
    return fit
