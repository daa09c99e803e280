"""Glass transition temperature from a cooling scan.

Tg is the intersection of two straight lines fitted to volume (or enthalpy) against
temperature in the glass and liquid regimes (SYSTEM.md). The break point is optimised:
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

__all__ = ["TgFit", "fit_tg", "scan_averages"]


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

    def model(self, t: np.ndarray) -> np.ndarray:
        """The fitted two-line model at temperatures t."""
        return _design(np.asarray(t, dtype=float), self.Tg_K) @ self._coef

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
            "method": f"continuous two-line least squares, break optimised; 95 % residual bootstrap "
            f"({self.n_bootstrap} resamples)",
        }

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
    )
    fit._coef = coef
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


def tg_from_source(source: Any, quantity: str = "volume") -> TgFit:
    """Tg from a tg-scan H5MD trajectory (stage temperatures from its protocol metadata,
    second-half averages per stage) or from a text file with columns T, V[, H]."""
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
        temps, bounds, step = [], [], 0
        for st in proto["stages"]:
            temps.append(float(st.get("t_start_K", np.nan)))
            bounds.append((step, step + st["steps"]))
            step += st["steps"]
        keep = [k for k, st in enumerate(proto["stages"]) if st["ensemble"] == "npt"] or list(range(len(temps)))
        t, v = scan_averages(obs, [temps[k] for k in keep], [bounds[k] for k in keep], quantity)
    else:
        try:
            data = np.loadtxt(path, comments="#", ndmin=2)
        except ValueError as exc:
            raise InputFileError(f"cannot read {path}: {exc}", hint="columns T V [H], comments with #") from None
        col = {"volume": 1, "density": 1, "enthalpy": 2}[quantity]
        if data.shape[1] <= col:
            raise InputFileError(f"{path} has no column for {quantity}")
        t, v = data[:, 0], data[:, col]
    return fit_tg(t, v, names[quantity])
