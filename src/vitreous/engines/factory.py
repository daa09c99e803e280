"""One place that turns (structure, force field, protocol, engine name) into an MD run.

Used by the CLI (``vitreous md/melt-quench/tg-cooling --engine``) and the study tasks, so
engine selection is spelled once.
"""

from __future__ import annotations

import os

from ase import Atoms

from vitreous.engines import ENGINES, EngineName
from vitreous.engines.driver import FailureLimits, MDRun
from vitreous.errors import EngineError
from vitreous.potentials.classical import ForceField
from vitreous.protocols import Protocol

__all__ = ["ENGINES", "EngineName", "classical_md", "dft_md", "mlip_md", "potential_md"]


class ThermostatFallbackWarning(UserWarning):
    """A stage asked for one thermostat per element on an engine that has none."""


def _for_ase(protocol: Protocol) -> Protocol:
    """The protocol with per-element thermostats replaced by one thermostat on all atoms (the
    ASE backend has no per-element thermostat), with a warning naming the stages. The engine
    still records each element's temperature, so an element running hot or cold is flagged."""
    import dataclasses
    import warnings

    changed = [s.name for s in protocol.stages if s.thermostat_per_element]
    if not changed:
        return protocol
    warnings.warn(
        f"the ASE engine has no per-element thermostat: stage(s) {', '.join(changed)} run with one "
        "thermostat on all atoms (each element's temperature is still recorded and checked)",
        ThermostatFallbackWarning,
        stacklevel=3,
    )
    stages = tuple(dataclasses.replace(s, thermostat_per_element=False) for s in protocol.stages)
    return Protocol(protocol.name, stages)


def classical_md(
    atoms: Atoms,
    forcefield: ForceField,
    protocol: Protocol,
    run_dir: str | os.PathLike,
    seed: int = 0,
    settings: object | None = None,
    engine: EngineName = "lammps",
) -> MDRun:
    """An MD run of a classical force field on ``engine``.

    Parameters
    ----------
    atoms, forcefield, protocol, run_dir, seed
        As :class:`~vitreous.engines.lammps.LammpsMD`.
    settings : LammpsSettings, optional
        Threads, Coulomb and failure limits (both engines: on ``ase`` the force field is
        evaluated by :class:`~vitreous.engines.lammps_calculator.LammpsCalculator` with
        these threads and Coulomb).
    engine : {"lammps", "ase"}
        ``lammps``: LAMMPS integrates (fast, the default); ``ase``: ASE integrates and
        LAMMPS only gives forces (the path MLIPs take; a cross-check).

    Raises
    ------
    EngineError
        On an unknown engine.
    """
    from pathlib import Path

    from vitreous.engines.lammps import LammpsMD, LammpsSettings

    settings = settings or LammpsSettings()
    if engine in ENGINES and engine not in forcefield.engines:
        raise EngineError(f"potential '{forcefield.name}' cannot run on {engine}", hint=f"use {forcefield.engines}")
    if engine == "lammps":
        return LammpsMD(atoms, forcefield, protocol, run_dir, seed=seed, settings=settings)
    if engine == "ase":
        from vitreous.engines.ase_md import AseBackend
        from vitreous.engines.lammps_calculator import LammpsCalculator
        from vitreous.species import type_map

        forcefield.check_covers(type_map(atoms.copy())[0])
        protocol = _for_ase(protocol)
        calc = LammpsCalculator(
            forcefield, settings.coulomb, settings.resolved_threads(), workdir=Path(run_dir) / "calculator"
        )
        limits = FailureLimits(settings.runaway_factor, settings.max_speed_A_ps)
        return MDRun(atoms, AseBackend(calc), protocol, run_dir, seed, forcefield.name, limits)
    raise EngineError(f"unknown engine '{engine}'", hint=f"one of: {', '.join(ENGINES)}")


def dft_md(
    atoms: Atoms,
    settings: object,
    protocol: Protocol,
    run_dir: str | os.PathLike,
    seed: int = 0,
    ranks: int = 1,
    threads: int = 1,
    command: str | None = None,
    limits: FailureLimits | None = None,
) -> MDRun:
    """Born–Oppenheimer MD with CP2K forces on any protocol: the ASE backend of the driver
    integrates, :class:`~vitreous.engines.cp2k_calculator.CP2KCalculator` (a CP2K shell that
    keeps its wavefunction between steps) gives energy, forces and stress.

    Parameters
    ----------
    settings : DFTSettings
        The DFT preset (``vitreous.engines.cp2k.load_dft_settings``).
    ranks, threads, command
        CP2K's MPI ranks, OpenMP threads per rank and executable.
    Other parameters as :func:`classical_md`.
    """
    from pathlib import Path

    from vitreous.engines.ase_md import AseBackend
    from vitreous.engines.cp2k_calculator import CP2KCalculator

    calc = CP2KCalculator(settings, Path(run_dir) / "cp2k", ranks=ranks, threads=threads, command=command)  # type: ignore[arg-type]
    name = f"cp2k:{getattr(settings, 'name', 'dft')}"
    return MDRun(atoms, AseBackend(calc), protocol, run_dir, seed, name, limits)


def mlip_md(
    atoms: Atoms,
    model: object,
    protocol: Protocol,
    run_dir: str | os.PathLike,
    seed: int = 0,
    threads: int | None = None,
    engine: EngineName | None = None,
    limits: FailureLimits | None = None,
) -> MDRun:
    """MD with a trained machine-learned potential on the engine its format allows.

    POD runs inside LAMMPS (``pair_style pod``: MPI and the cluster path as for classical
    sets); GAP and MACE run on the ASE backend through their calculators. Every run stops on
    a close contact: a pair nearer than 0.75 × the shortest distance of that element pair
    in the model's training data (:meth:`~vitreous.mlip.models.MLIPModel.min_distances_A`),
    as well as on NaN energies, temperature runaway and atoms flying apart.

    Parameters
    ----------
    model : MLIPModel or path
        A trained model (:func:`vitreous.mlip.load_model`).
    engine : {"lammps", "ase"}, optional
        Default: ``lammps`` where the model runs there, else ``ase``.
    limits : FailureLimits, optional
        Default: :class:`FailureLimits` with the model's close-contact thresholds.

    Raises
    ------
    PotentialError
        When the structure holds an element or (element, valence) species the model was
        never trained on (before anything runs).
    """
    from pathlib import Path

    from vitreous.mlip.models import MLIPModel, load_model
    from vitreous.species import type_map

    if not isinstance(model, MLIPModel):
        model = load_model(model)  # type: ignore[arg-type]
    model.check_covers(type_map(atoms.copy())[0])
    engine = engine or model.engines[0]  # type: ignore[assignment]
    if engine not in model.engines:
        raise EngineError(f"a {model.kind} model cannot run on {engine}", hint=f"use {', '.join(model.engines)}")
    limits = limits or FailureLimits(min_distance_A=model.min_distances_A())
    if engine == "lammps":
        from vitreous.engines.lammps import LammpsBackend, LammpsSettings

        settings = LammpsSettings(threads=threads)
        return MDRun(atoms, LammpsBackend(model, settings), protocol, run_dir, seed, model.name, limits)  # type: ignore[arg-type]
    from vitreous.engines.ase_md import AseBackend

    calc = model.calculator(threads=threads or 1, workdir=Path(run_dir) / "calculator")
    return MDRun(atoms, AseBackend(calc), _for_ase(protocol), run_dir, seed, model.name, limits)


def potential_md(
    atoms: Atoms,
    potential: str,
    protocol: Protocol,
    run_dir: str | os.PathLike,
    seed: int = 0,
    settings: object | None = None,
    engine: EngineName | None = None,
) -> MDRun:
    """An MD run of a potential named as on the command line: ``mlip:MODEL_DIR`` (a trained
    model, :func:`mlip_md`) or a classical set's name or TOML file (:func:`classical_md`;
    engine default ``lammps``)."""
    if potential.startswith("mlip:"):
        threads = getattr(settings, "threads", None)
        return mlip_md(atoms, potential, protocol, run_dir, seed, threads=threads, engine=engine)
    from vitreous.potentials import load_forcefield

    return classical_md(atoms, load_forcefield(potential), protocol, run_dir, seed, settings, engine or "lammps")
