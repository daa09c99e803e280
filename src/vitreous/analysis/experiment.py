"""Experimental S(k), G(r) or T(r) data and the goodness of fit Rw.

Rw = sqrt( Σ_i [y_exp(x_i) − y_calc(x_i)]² / Σ_i y_exp(x_i)² ) (SYSTEM.md), on the
experiment's grid within a chosen x range, the model interpolated linearly onto it; in %.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np

from vitreous.errors import AnalysisError, InputFileError

__all__ = ["ExperimentalData", "read_experiment", "rw_percent"]

Quantity = Literal["S", "G", "T"]
_UNITS = {"S": {"1/A": 1.0, "1/nm": 0.1}, "G": {"A": 1.0, "nm": 10.0}, "T": {"A": 1.0, "nm": 10.0}}


@dataclass
class ExperimentalData:
    """Measured curve: x (1/Å for S, Å for G and T), y, optional uncertainty."""

    x: np.ndarray
    y: np.ndarray
    dy: np.ndarray | None
    quantity: str
    source: str

    def to_dict(self) -> dict[str, Any]:
        """JSON-able dict."""
        return {"x": self.x.tolist(), "y": self.y.tolist(), "quantity": self.quantity, "source": self.source}


def read_experiment(path: str | os.PathLike, quantity: Quantity, x_unit: str | None = None) -> ExperimentalData:
    """Read two- or three-column text (x, y[, dy]); ``#``, ``!`` and ``%`` start comments.

    Parameters
    ----------
    quantity : {"S", "G", "T"}
        S(k) with x in ``1/A`` (default) or ``1/nm``; G(r) or T(r) with x in ``A``
        (default) or ``nm``.

    Raises
    ------
    InputFileError
        Missing file, text in a number column, fewer than 2 columns or 3 rows.
    """
    if quantity not in _UNITS:
        raise AnalysisError(f"unknown quantity '{quantity}'", hint="S, G or T")
    units = _UNITS[quantity]
    x_unit = x_unit or next(iter(units))
    if x_unit not in units:
        raise AnalysisError(f"unit '{x_unit}' is not for {quantity}", hint=f"one of {', '.join(units)}")
    path = Path(path)
    if not path.is_file():
        raise InputFileError(f"cannot read {path}: no such file", hint="check the path")
    rows = []
    for n, line in enumerate(path.read_text().splitlines(), start=1):
        text = line.split("#")[0].split("!")[0].split("%")[0].strip()
        if not text:
            continue
        parts = text.replace(",", " ").split()
        try:
            rows.append([float(p) for p in parts[:3]])
        except ValueError:
            raise InputFileError(
                f"{path}, line {n}: '{line.strip()}' is not numbers", hint="comment headers with #"
            ) from None
    if len(rows) < 3 or min(len(r) for r in rows) < 2:
        raise InputFileError(f"{path}: need at least 3 rows of x y [dy]")
    width = min(len(r) for r in rows)
    data = np.array([r[:width] for r in rows])
    x = data[:, 0] * units[x_unit]
    if np.any(np.diff(x) <= 0):
        raise InputFileError(f"{path}: x must increase strictly")
    return ExperimentalData(x, data[:, 1], data[:, 2] if width >= 3 else None, quantity, str(path))


def rw_percent(
    x_exp: np.ndarray, y_exp: np.ndarray, x_model: np.ndarray, y_model: np.ndarray,
    x_range: tuple[float, float] | None = None,
) -> float:  # fmt: skip
    """Rw (%) of a model curve against experiment, on the experiment's grid within
    ``x_range`` (default: the overlap of both curves)."""
    lo = max(float(x_exp[0]), float(x_model[0]))
    hi = min(float(x_exp[-1]), float(x_model[-1]))
    if x_range is not None:
        lo, hi = max(lo, x_range[0]), min(hi, x_range[1])
    sel = (x_exp >= lo) & (x_exp <= hi)
    if sel.sum() < 2:
        raise AnalysisError("the model and the experiment do not overlap", hint="check units (1/Å vs 1/nm)")
    y_calc = np.interp(x_exp[sel], x_model, y_model)
    y = y_exp[sel]
    return float(100.0 * np.sqrt(np.sum((y - y_calc) ** 2) / np.sum(y**2)))
