"""Measured data read and fitted: impedance (EIS → σ), XPS (V4+/V5+), DSC (Tg), and
S(k)/G(r)/T(r) files with the goodness of fit Rw. Nothing here simulates; the study and
the report set these numbers beside the simulated ones."""

from __future__ import annotations

from vitreous.experiment.dsc import DSCFit, fit_dsc, read_dsc
from vitreous.experiment.eis import DEFAULT_CIRCUIT, EISFit, EISSeries, Spectrum, fit_eis, fit_eis_series, read_spectrum
from vitreous.experiment.scattering import ExperimentalData, compare_structure, read_experiment, rw_percent
from vitreous.experiment.xps import XPSFit, fit_xps, read_xps, shirley_background

__all__ = [
    "DEFAULT_CIRCUIT",
    "DSCFit",
    "EISFit",
    "EISSeries",
    "ExperimentalData",
    "Spectrum",
    "XPSFit",
    "compare_structure",
    "fit_dsc",
    "fit_eis",
    "fit_eis_series",
    "fit_xps",
    "read_dsc",
    "read_experiment",
    "read_spectrum",
    "read_xps",
    "rw_percent",
    "shirley_background",
]
