"""Experimental S(k), G(r) or T(r) data and the goodness of fit Rw.

Rw = sqrt( Σ_i [y_exp(x_i) − y_calc(x_i)]² / Σ_i y_exp(x_i)² ) (SYSTEM.md), on the
experiment's grid within a chosen x range, the model interpolated linearly onto it; in %.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from vitreous.analysis.scattering import RADIATIONS
from vitreous.errors import AnalysisError, InputFileError
from vitreous.experiment._table import read_table

if TYPE_CHECKING:
    from vitreous.analysis.structure import StructureResult

__all__ = ["ExperimentalData", "compare_structure", "read_experiment", "rw_percent"]

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
    table = read_table(path, 2, "x y [dy]", max_columns=3)
    data = table.data
    x = data[:, 0] * units[x_unit]
    if np.any(np.diff(x) <= 0):
        raise InputFileError(f"{path}: x must increase strictly")
    return ExperimentalData(x, data[:, 1], data[:, 2] if data.shape[1] >= 3 else None, quantity, str(path))


def rw_percent(
    x_exp: np.ndarray,
    y_exp: np.ndarray,
    x_model: np.ndarray,
    y_model: np.ndarray,
    x_range: tuple[float, float] | None = None,
) -> float:
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


def compare_structure(
    result: StructureResult,
    data: ExperimentalData,
    radiation: Literal["xray", "neutron"] = "xray",
    fit_range: tuple[float, float] | None = None,
) -> float:
    """Rw (%) of a structure analysis against a measured S(k), G(r) or T(r).

    The model curve of the same quantity and radiation (``result.model_curve``) is
    interpolated onto the experiment's grid (:func:`rw_percent`). The measured curve, the
    quantity, radiation and Rw are recorded on ``result`` (its JSON and plots show them).

    Raises
    ------
    AnalysisError
        Unknown radiation, or no overlap of the two curves.
    """
    if radiation not in RADIATIONS:
        raise AnalysisError(f"unknown radiation '{radiation}'", hint="xray or neutron")
    xm, ym = result.model_curve(data.quantity, radiation)
    rw = rw_percent(data.x, data.y, xm, ym, fit_range)
    result.experiment = data
    result.rw_quantity = data.quantity
    result.rw_radiation = radiation
    result.rw = rw
    return rw
