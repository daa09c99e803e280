"""DSC: glass transition temperatures (onset, midpoint, endset) from a heating scan.

Constructions (ISO 11357-2:2020; ASTM E1356-08):

- the signal is turned endothermic-up; at Tg the heat capacity rises, so the curve steps up;
- the inflection point is the maximum of the derivative dΦ/dT of the smoothed curve
  (Savitzky–Golay) inside the search range;
- the glass baseline is a straight line fitted below the step, the liquid baseline above it.
  Default windows: with [T₁, T₂] the temperatures where the derivative falls to half its
  maximum on either side of the inflection and W = T₂ − T₁, the glass window is
  [T₁ − 1.5 W, T₁ − 0.5 W] and the liquid window [T₂ + 0.5 W, T₂ + 1.5 W], clipped to the
  search range; both can be given instead;
- onset T_g,o: intersection of the glass baseline with the inflection tangent; endset T_g,e:
  intersection of the tangent with the liquid baseline; midpoint T_g,m: where the measured
  (smoothed) curve lies half-way between the two extrapolated baselines (half step height).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from vitreous.errors import AnalysisError
from vitreous.experiment._table import read_table

__all__ = ["DSCFit", "fit_dsc", "read_dsc"]

Endo = Literal["up", "down"]
TemperatureUnit = Literal["C", "K"]


def read_dsc(path: str | os.PathLike, temperature_unit: TemperatureUnit = "C") -> tuple[np.ndarray, np.ndarray]:
    """Read two columns, temperature and heat flow (any unit); returns T in K (ascending)
    and the heat flow in the file's unit.

    Raises
    ------
    InputFileError
        Missing, empty or malformed file.
    AnalysisError
        Unknown unit, repeated temperatures, or a temperature below 0 K.
    """
    if temperature_unit not in ("C", "K"):
        raise AnalysisError(f"unknown temperature unit '{temperature_unit}'", hint="C or K")
    table = read_table(path, 2, "temperature heat_flow", min_rows=10, max_columns=2)
    t, hf = table.data.T
    t = t + 273.15 if temperature_unit == "C" else t
    order = np.argsort(t)
    t, hf = t[order], hf[order]
    if np.any(np.diff(t) <= 0):
        raise AnalysisError(f"{path}: repeated temperatures", hint="give one heating segment")
    if t[0] <= 0:
        raise AnalysisError(f"{path}: temperatures below 0 K", hint="check --temperature-unit")
    return t, hf


@dataclass
class DSCFit:
    """Tg constructions on a DSC heating curve (see the module docstring)."""

    temperature_K: np.ndarray
    heat_flow: np.ndarray
    smoothed: np.ndarray
    endo: str
    Tg_onset_K: float
    Tg_midpoint_K: float
    Tg_endset_K: float
    inflection_K: float
    glass_line: tuple[float, float]
    liquid_line: tuple[float, float]
    tangent: tuple[float, float]
    glass_window_K: tuple[float, float]
    liquid_window_K: tuple[float, float]
    step_height: float
    source: str = ""

    def to_dict(self) -> dict[str, Any]:
        """JSON-able dict (keys of the ``vitreous exp dsc`` output); lines as (slope, intercept)
        of the endothermic-up signal against T in K."""
        return {
            "source": self.source,
            "Tg_onset_K": self.Tg_onset_K,
            "Tg_midpoint_K": self.Tg_midpoint_K,
            "Tg_endset_K": self.Tg_endset_K,
            "Tg_onset_C": self.Tg_onset_K - 273.15,
            "Tg_midpoint_C": self.Tg_midpoint_K - 273.15,
            "Tg_endset_C": self.Tg_endset_K - 273.15,
            "inflection_K": self.inflection_K,
            "glass_window_K": list(self.glass_window_K),
            "liquid_window_K": list(self.liquid_window_K),
            "glass_line": list(self.glass_line),
            "liquid_line": list(self.liquid_line),
            "tangent": list(self.tangent),
            "step_height": self.step_height,
            "endo": self.endo,
            "method": "ISO 11357-2 constructions: onset/endset from the inflection tangent, midpoint at half step",
        }

    def plot(self, ax: Any) -> Any:
        """The curve (endothermic up), baselines, tangent and the three temperatures."""
        t = self.temperature_K
        sign = 1.0 if self.endo == "up" else -1.0
        ax.plot(t, sign * self.heat_flow, "k-", lw=1, label="heat flow (endo up)")
        lo = min(self.glass_window_K[0], self.Tg_onset_K) - 20
        hi = max(self.liquid_window_K[1], self.Tg_endset_K) + 20
        tt = np.linspace(lo, hi, 50)
        lines = (
            (self.glass_line, "b--", "glass baseline"),
            (self.liquid_line, "g--", "liquid baseline"),
            (self.tangent, "r:", "inflection tangent"),
        )
        for (m, b), style, lab in lines:
            ax.plot(tt, m * tt + b, style, lw=1, label=lab)
        for val, lab in ((self.Tg_onset_K, "onset"), (self.Tg_midpoint_K, "midpoint"), (self.Tg_endset_K, "endset")):
            ax.axvline(val, color="grey", lw=0.6)
            ax.text(val, ax.get_ylim()[1], f" {lab} {val:.0f} K", rotation=90, va="top", fontsize=7)
        ax.set_xlabel("T (K)")
        ax.set_ylabel("heat flow, endothermic up")
        ax.legend(frameon=False, fontsize=7)
        return ax


def _line(t: np.ndarray, y: np.ndarray, window: tuple[float, float], name: str) -> tuple[float, float]:
    sel = (t >= window[0]) & (t <= window[1])
    if sel.sum() < 5:
        raise AnalysisError(
            f"the {name} window {window[0]:.0f}–{window[1]:.0f} K holds {int(sel.sum())} points, need 5",
            hint=f"give --{name}-window-K LO:HI inside the data",
        )
    m, b = np.polyfit(t[sel], y[sel], 1)
    return float(m), float(b)


def _cross(a: tuple[float, float], b: tuple[float, float]) -> float:
    if abs(a[0] - b[0]) < 1e-300:
        raise AnalysisError("parallel lines: no Tg construction", hint="check the fit windows")
    return (b[1] - a[1]) / (a[0] - b[0])


def fit_dsc(
    temperature_K: np.ndarray,
    heat_flow: np.ndarray,
    endo: Endo = "down",
    glass_window_K: tuple[float, float] | None = None,
    liquid_window_K: tuple[float, float] | None = None,
    search_range_K: tuple[float, float] | None = None,
    smoothing_K: float | None = None,
    source: str = "",
) -> DSCFit:
    """Tg onset, midpoint and endset of a heating scan.

    Parameters
    ----------
    temperature_K, heat_flow : ndarray
        Ascending temperatures (K) and heat flow (any unit).
    endo : {"up", "down"}
        Direction of endothermic events in ``heat_flow``.
    glass_window_K, liquid_window_K : (float, float), optional
        Baseline fit windows (K); default chosen from the derivative peak (module docstring).
    search_range_K : (float, float), optional
        Where to look for the glass transition (default: the whole scan); use it to keep
        crystallisation or melting out.
    smoothing_K : float, optional
        Savitzky–Golay window (K); default 2 % of the scanned range.

    Raises
    ------
    AnalysisError
        Bad ``endo``, too few points, no step, windows with fewer than 5 points, or
        constructions in the wrong order.
    """
    from scipy.signal import savgol_filter

    if endo not in ("up", "down"):
        raise AnalysisError(f"endo must be 'up' or 'down', got '{endo}'", hint="--endo up|down")
    t = np.asarray(temperature_K, dtype=float)
    y = np.asarray(heat_flow, dtype=float) * (1.0 if endo == "up" else -1.0)
    if len(t) < 20:
        raise AnalysisError(f"{len(t)} points are too few for a Tg construction", hint="need at least 20")
    dt = float(np.median(np.diff(t)))
    width_K = smoothing_K if smoothing_K is not None else 0.02 * float(t[-1] - t[0])
    win = max(5, round(width_K / dt) | 1)
    if win >= len(t):
        raise AnalysisError("the smoothing window is longer than the scan", hint="a smaller --smoothing-K")
    ys = savgol_filter(y, win, 2)
    dy = savgol_filter(y, win, 2, deriv=1, delta=dt)
    lo, hi = search_range_K or (float(t[0]), float(t[-1]))
    inside = np.flatnonzero((t >= lo) & (t <= hi))
    if len(inside) < 10:
        raise AnalysisError(f"search range {lo:.0f}–{hi:.0f} K holds {len(inside)} points", hint="widen it")
    i = int(inside[np.argmax(dy[inside])])
    if dy[i] <= 0:
        raise AnalysisError("no endothermic step in the search range", hint="check --endo (up or down)")
    half = dy[i] / 2
    j1 = i
    while j1 > inside[0] and dy[j1] > half:
        j1 -= 1
    j2 = i
    while j2 < inside[-1] and dy[j2] > half:
        j2 += 1
    t1, t2 = float(t[j1]), float(t[j2])
    w = max(t2 - t1, 3 * dt)
    gw = glass_window_K or (max(lo, t1 - 1.5 * w), t1 - 0.5 * w)
    lw = liquid_window_K or (t2 + 0.5 * w, min(hi, t2 + 1.5 * w))
    glass = _line(t, ys, gw, "glass")
    liquid = _line(t, ys, lw, "liquid")
    tangent = (float(dy[i]), float(ys[i] - dy[i] * t[i]))
    onset = _cross(glass, tangent)
    endset = _cross(tangent, liquid)
    mid_curve = ys - 0.5 * ((glass[0] + liquid[0]) * t + glass[1] + liquid[1])
    between = np.flatnonzero((t >= min(onset, t1)) & (t <= max(endset, t2)))
    crossings = [k for k in between[:-1] if mid_curve[k] <= 0 < mid_curve[k + 1]]
    if not crossings:
        raise AnalysisError("the curve does not cross half the step height", hint="check the fit windows")
    k = min(crossings, key=lambda k: abs(t[k] - t[i]))
    mid = float(t[k] - mid_curve[k] * (t[k + 1] - t[k]) / (mid_curve[k + 1] - mid_curve[k]))
    if not (onset < mid < endset):
        raise AnalysisError(
            f"constructions out of order (onset {onset:.0f}, midpoint {mid:.0f}, endset {endset:.0f} K)",
            hint="give --glass-window-K and --liquid-window-K",
        )
    step = float((liquid[0] - glass[0]) * mid + liquid[1] - glass[1])
    return DSCFit(
        t,
        np.asarray(heat_flow, dtype=float),
        ys * (1.0 if endo == "up" else -1.0),
        endo,
        float(onset),
        mid,
        float(endset),
        float(t[i]),
        glass,
        liquid,
        tangent,
        (float(gw[0]), float(gw[1])),
        (float(lw[0]), float(lw[1])),
        step,
        source,
    )
