"""One library function per analysis operation, called by both the CLI (which parses and
prints) and the study tasks (which store): the structure of a trajectory, the dynamics of a
mobile species, an Arrhenius fit over dynamics results, Tg from a cooling.

Each takes paths and plain values, opens what it needs, and returns result objects (with
``to_dict``/``from_dict`` and ``plot``); none writes files.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from vitreous.errors import AnalysisError, InputFileError

__all__ = ["arrhenius", "dynamics", "production_frames", "structure", "tg"]


def structure(
    trajectory: str | Path,
    frames: str | None = None,
    cutoffs: list[str] | dict[str, float] | None = None,
    r_max_A: float | None = None,
    dr_A: float = 0.01,
    k_max_inv_A: float = 20.0,
    lorch: bool = True,
    experiment: Any = None,
    radiation: str = "xray",
    fit_range: tuple[float, float] | None = None,
) -> Any:
    """:func:`~vitreous.analysis.structure.analyze_structure` of a trajectory file.

    Parameters
    ----------
    trajectory : path
        H5MD, extxyz or LAMMPS dump.
    frames : str, optional
        ``START:STOP:STEP`` (Python slice; default all).
    cutoffs : list or dict, optional
        ``["V-O=2.4"]`` or ``{"V-O": 2.4}`` (Å), checked against the species present.
    r_max_A, dr_A, k_max_inv_A, lorch
        g(r) range and bin (Å), S(k) k_max (1/Å), Lorch window.
    experiment : ExperimentalData, optional
        A measured curve: Rw is computed against it (:func:`vitreous.experiment.compare_structure`).
    radiation : {"xray", "neutron"}
        Radiation of the measured curve.
    fit_range : (float, float), optional
        x range of Rw.

    Returns
    -------
    StructureResult
    """
    from vitreous.analysis.network import parse_cutoffs
    from vitreous.analysis.rdf import species_labels
    from vitreous.analysis.scattering import RADIATIONS
    from vitreous.analysis.structure import analyze_structure
    from vitreous.experiment import compare_structure
    from vitreous.io.trajectory import open_trajectory, parse_frames

    if radiation not in RADIATIONS:
        raise AnalysisError(f"unknown radiation '{radiation}'", hint=" or ".join(RADIATIONS))
    with open_trajectory(trajectory) as traj:
        sel = parse_frames(frames, len(traj))
        known = set(traj.symbols) | set(species_labels(traj.symbols, traj.valence, True))
        cuts = parse_cutoffs(cutoffs, known)
        result = analyze_structure(
            traj, sel, cuts or None, r_max_A=r_max_A, dr_A=dr_A, k_max_inv_A=k_max_inv_A, lorch=lorch
        )
    if experiment is not None:
        compare_structure(result, experiment, radiation, fit_range)  # type: ignore[arg-type]
    result.metadata["trajectory"] = str(trajectory)
    return result


def production_frames(traj: Any) -> np.ndarray:
    """Frames of a run's last stage (its production), from the protocol in the trajectory's
    metadata; all frames when there is none."""
    from vitreous.protocols import Protocol

    proto = (getattr(traj, "metadata", None) or {}).get("protocol")
    if not proto:
        return np.arange(len(traj))
    start = Protocol.from_dict(proto).stage_bounds()[-1][0]
    return np.flatnonzero(np.asarray(traj.steps) > start)


def dynamics(
    trajectory: str | Path,
    species: str = "Na",
    frames: str | None = None,
    temperature_K: float | None = None,
    haven_ratio: float = 1.0,
    threshold_A2: float | None = None,
    link_A: float | None = None,
    frame_interval_ps: float | None = None,
) -> tuple[Any, list[str]]:
    """:func:`~vitreous.analysis.dynamics.analyze_dynamics` of a trajectory file.

    Parameters
    ----------
    frames : str, optional
        ``START:STOP:STEP``, or ``"production"``: the frames of the run's last stage
        (from the protocol stored in the H5MD metadata).
    Other parameters as :func:`~vitreous.analysis.dynamics.analyze_dynamics`.

    Returns
    -------
    (DynamicsResult, list of str)
        The result and the warnings raised on the way (e.g. sub-diffusive MSD).
    """
    from vitreous.analysis.dynamics import analyze_dynamics
    from vitreous.io.trajectory import open_trajectory, parse_frames

    with open_trajectory(trajectory, frame_interval_ps) as traj, warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        sel = production_frames(traj) if frames == "production" else parse_frames(frames, len(traj))
        res = analyze_dynamics(traj, species, sel, temperature_K, haven_ratio, threshold_A2, link_A)
    res.metadata["trajectory"] = str(trajectory)
    return res, [str(w.message) for w in caught if issubclass(w.category, UserWarning)]


def arrhenius(
    points: Sequence[dict[str, Any]],
    form: str = "sigma_T",
    at_K: Sequence[float] = (473.0,),
    experiment: Sequence[tuple[float, float, str]] = (),
    tg_K: float | None = None,
) -> tuple[Any, dict[str, Any]]:
    """Arrhenius fit over dynamics results at several temperatures.

    Parameters
    ----------
    points : sequence of dict
        Dynamics results (the JSON of ``vitreous analyze dynamics``); the Nernst–Einstein σ
        and its error (or D for ``form="D"``) at the measured temperature. Points without a
        positive value and error are left out.
    form : {"sigma_T", "sigma", "D"}
        Fitted form (see :func:`~vitreous.analysis.arrhenius.fit_arrhenius`).
    at_K : sequence of float
        Temperatures (K) to predict at (flagged when extrapolated or across ``tg_K``).
    experiment : sequence of (T_K, value, label)
        Measured points shown beside the fit.
    tg_K : float, optional
        The model's Tg (K), for the flag on predictions that cross it.

    Returns
    -------
    (ArrheniusFit, dict)
        The fit and its JSON (fit, predictions under ``sigma_at`` or ``D_at``, experiment).
    """
    from vitreous.analysis.arrhenius import FORMS, fit_arrhenius

    if form not in FORMS:
        raise AnalysisError(f"unknown form '{form}'", hint=f"one of: {', '.join(FORMS)}")
    temps, vals, errs = [], [], []
    for i, d in enumerate(points):
        try:
            c = d["conductivity"]
            v, e = (
                (d["diffusion"]["D_cm2_s"], d["diffusion"]["D_err_cm2_s"])
                if form == "D"
                else (c["nernst_einstein_S_cm"], c["nernst_einstein_err_S_cm"])
            )
            t = c["temperature_K"]
        except (KeyError, TypeError):
            raise InputFileError(
                f"point {i + 1} is not a dynamics result", hint="make it with 'vitreous analyze dynamics'"
            ) from None
        if v > 0 and np.isfinite(e) and e > 0:
            temps.append(t)
            vals.append(v)
            errs.append(e)
    if len(temps) < 2:
        raise AnalysisError("fewer than two temperatures with a positive value and error: no Arrhenius fit")
    fit = fit_arrhenius(np.array(temps), np.array(vals), np.array(errs), form)  # type: ignore[arg-type]
    key = "D_at" if form == "D" else "sigma_at"
    out = fit.to_dict() | {
        key: {f"{t:g}": fit.predict(t, tg_K=tg_K) for t in sorted(set(at_K))},
        "experiment": [
            {"temperature_K": t, "value": v, "unit": "cm2/s" if form == "D" else "S/cm", "label": lab}
            for t, v, lab in experiment
        ],
    }
    return fit, out


def tg(source: str | Path, quantities: Sequence[str] = ("volume",), window_K: float = 25.0) -> dict[str, Any]:
    """Tg fits, one per quantity (volume, density, enthalpy), from a cooling trajectory or a
    text file (see :func:`~vitreous.analysis.thermal.tg_from_source`)."""
    from vitreous.analysis.thermal import tg_from_source

    return {q: tg_from_source(source, q, window_K) for q in quantities}
