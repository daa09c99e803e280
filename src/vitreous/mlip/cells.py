"""Small periodic cells for affordable labelling.

A DFT single point of a 400-atom glass costs hours; the study labelled ~60–150-atom cells.
:func:`small_cells` builds such cells of a given composition and density (a random start,
a displacement-limited relaxation, then NVT at each temperature with a classical force
field on the MD driver) and returns frames spaced along each run, each carrying its
provenance (``source``: cell and frame; ``temperature_K``: the run's target). The classical
field only samples geometries; the labels come later from the reference of record.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Sequence
from pathlib import Path

from ase import Atoms

from vitreous.errors import AnalysisError

__all__ = ["small_cells"]


def small_cells(
    composition: str,
    n_atoms: int,
    density_g_cm3: float | None,
    temperatures_K: Sequence[float],
    frames_per_temperature: int,
    forcefield: str = "bmp",
    seed: int = 0,
    spacing_fs: float = 100.0,
    equilibration_ps: float = 1.0,
    workdir: str | os.PathLike | None = None,
    timestep_fs: float = 1.0,
    volume_scales: Sequence[float] = (1.0,),
) -> list[Atoms]:
    """Frames of small periodic models sampled by classical MD at several temperatures.

    Parameters
    ----------
    composition : str
        A preset name (``NVP28``) or a composition string (``vitreous.composition``).
    n_atoms : int
        Target atom count per cell (the charge-neutral integer counts nearest to it).
    density_g_cm3 : float or None
        Cell density; None takes the preset's.
    temperatures_K : sequence of float
        One cell (its own random start, seed + index) per temperature.
    frames_per_temperature : int
        Frames kept per temperature, ``spacing_fs`` apart after ``equilibration_ps``.
    forcefield : str
        Classical set that samples the geometries (DSF Coulomb).
    seed : int
        Seed of the random starts and thermostats.
    workdir : path, optional
        Where the MD runs live (default a temporary folder).
    volume_scales : sequence of float
        One cell per temperature and volume scale (density ρ/scale): a model that sees
        only one density learns nothing about the energy–volume relation (POD, which fits
        no virials, especially).

    Returns
    -------
    list of ase.Atoms
        With ``info['source']`` and ``info['temperature_K']``.
    """
    from vitreous.build import random_glass
    from vitreous.composition import counts, get_preset, parse_composition
    from vitreous.engines.lammps import LammpsMD, LammpsSettings
    from vitreous.io.trajectory import open_trajectory
    from vitreous.potentials import Coulomb, load_forcefield
    from vitreous.protocols import Protocol, Stage

    if n_atoms < 10 or frames_per_temperature < 1 or not temperatures_K:
        raise AnalysisError(
            f"small cells need n_atoms >= 10, frames >= 1 and a temperature (got {n_atoms}, "
            f"{frames_per_temperature}, {list(temperatures_K)})"
        )
    try:
        preset = get_preset(composition)
        comp, rho = preset.composition, preset.density_g_cm3
    except Exception:
        comp, rho = parse_composition(composition), None
    rho = density_g_cm3 if density_g_cm3 is not None else rho
    if rho is None:
        raise AnalysisError(f"no density known for '{composition}'", hint="give density_g_cm3")
    model = counts(comp, n_atoms)
    ff = load_forcefield(forcefield)
    base = Path(workdir) if workdir is not None else Path(tempfile.mkdtemp(prefix="vitreous-cells-"))
    every = max(1, round(spacing_fs / timestep_fs))
    eq_steps = max(every, round(equilibration_ps * 1000.0 / timestep_fs))
    frames: list[Atoms] = []
    runs = [(t, v) for t in temperatures_K for v in volume_scales]
    for k, (t, scale) in enumerate(runs):
        if scale <= 0:
            raise AnalysisError(f"volume scales must be positive, got {scale}")
        start = random_glass(model, rho / scale, seed=seed + k)
        proto = Protocol(
            f"cells-{t:g}K",
            (
                Stage("limit", "limit", 500, t_start_K=float(t), checkpoint_every=500),
                Stage("eq", "nvt", eq_steps, t_start_K=float(t), timestep_fs=timestep_fs, checkpoint_every=eq_steps),
                Stage(
                    "sample",
                    "nvt",
                    every * frames_per_temperature,
                    t_start_K=float(t),
                    timestep_fs=timestep_fs,
                    trajectory_every=every,
                    thermo_every=every,
                    checkpoint_every=every * frames_per_temperature,
                ),
            ),
        )
        run = LammpsMD(
            start,
            ff,
            proto,
            base / f"cell_{k}_{t:g}K_v{scale:g}",
            seed=seed + 1000 * (k + 1),
            settings=LammpsSettings(coulomb=Coulomb("dsf"), threads=1),
        ).run(progress=False)
        with open_trajectory(run.trajectory) as traj:
            for f in range(len(traj)):
                a = traj[f]
                a.wrap()
                a.info = {"source": f"cell{k}-{t:g}K-v{scale:g}#{f}", "temperature_K": float(t)}
                frames.append(a)
    return frames
