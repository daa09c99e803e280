"""`vitreous melt-quench` and `vitreous md`: classical MD with LAMMPS."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from vitreous.cli.common import console, handle_errors

_STRUCT = typer.Argument(help="Structure file (extxyz with valence, LAMMPS data, CIF, POSCAR, ...)")
_POT = typer.Option("--potential", "-p", help="Force field name (bmp, pmmcs, pmmcs+bmp-v) or TOML file")
_OUT = typer.Option("--output", "-o", help="Run folder (trajectory.h5, final.extxyz, summary.json)")
_COUL = typer.Option("--coulomb", help="Coulomb treatment: pppm, ewald or dsf")
_THREADS = typer.Option("--threads", help="OpenMP threads (default: all cores)")


def _settings(coulomb: str, threads: int | None):
    from vitreous.engines.lammps import LammpsSettings
    from vitreous.potentials import Coulomb

    return LammpsSettings(threads=threads, coulomb=Coulomb(method=coulomb))  # type: ignore[arg-type]


def _report(result) -> None:
    s = result.summary
    f = s["final"]
    verb = "already complete" if result.resumed and s.get("wall_time_s", 0) == 0 else "done"
    console.print(
        f"{verb}: {s['simulated_ps']:.2f} ps in {s['wall_time_s']:.1f} s wall; final T {f['temperature_K']:.0f} K, "
        f"P {f['pressure_GPa']:.3f} GPa, density {f['density_g_cm3']:.4f} g/cm³, "
        f"E_pot {f['potential_energy_eV']:.3f} eV; {s['frames']} frames in {result.trajectory}"
    )


@handle_errors
def melt_quench(
    structure: Annotated[Path, _STRUCT],
    output: Annotated[Path, _OUT],
    potential: Annotated[str, _POT] = "bmp",
    protocol: Annotated[Path | None, typer.Option("--protocol", help="Protocol TOML file")] = None,
    t_melt_K: Annotated[float, typer.Option("--t-melt-K", help="Melt temperature (K)")] = 3000.0,
    hold_ps: Annotated[float, typer.Option("--hold-ps", help="Hold at the melt (ps)")] = 10.0,
    quench_rate_K_per_ps: Annotated[float, typer.Option("--quench-rate-K-per-ps", help="Cooling rate (K/ps)")] = 100.0,
    t_final_K: Annotated[float, typer.Option("--t-final-K", help="Final temperature (K)")] = 300.0,
    anneal_ps: Annotated[float, typer.Option("--anneal-ps", help="Hold at the final temperature (ps)")] = 5.0,
    ensemble: Annotated[str, typer.Option(help="nvt (fixed density) or npt")] = "nvt",
    timestep_fs: Annotated[float, typer.Option("--timestep-fs", help="Time step (fs)")] = 1.0,
    seed: Annotated[int, typer.Option(help="Random seed")] = 0,
    coulomb: Annotated[str, _COUL] = "pppm",
    threads: Annotated[int | None, _THREADS] = None,
) -> None:
    """Melt–quench a structure (rerun the same command to resume a killed run)."""
    from vitreous.engines.lammps import LammpsMD
    from vitreous.io import read_structure
    from vitreous.potentials import load_forcefield
    from vitreous.protocols import Protocol
    from vitreous.protocols import melt_quench as recipe

    atoms = read_structure(structure)
    ff = load_forcefield(potential)
    if protocol is not None:
        proto = Protocol.from_toml(protocol)
    else:
        proto = recipe(
            t_melt_K,
            hold_ps,
            quench_rate_K_per_ps,
            t_final_K,
            anneal_ps,
            ensemble,  # type: ignore[arg-type]
            timestep_fs=timestep_fs,
        )
    result = LammpsMD(atoms, ff, proto, output, seed=seed, settings=_settings(coulomb, threads)).run()
    _report(result)


@handle_errors
def md(
    structure: Annotated[Path, _STRUCT],
    output: Annotated[Path, _OUT],
    temperature_K: Annotated[float | None, typer.Option("--temperature-K", help="Temperature (K)")] = None,
    steps: Annotated[int, typer.Option(help="Number of MD steps")] = 1000,
    potential: Annotated[str, _POT] = "bmp",
    ensemble: Annotated[str, typer.Option(help="nve, nvt, npt, langevin or limit")] = "nvt",
    pressure_GPa: Annotated[float | None, typer.Option("--pressure-GPa", help="Pressure for npt (GPa)")] = None,
    timestep_fs: Annotated[float, typer.Option("--timestep-fs", help="Time step (fs)")] = 1.0,
    trajectory_every: Annotated[int, typer.Option(help="Steps between trajectory frames (0: none)")] = 100,
    checkpoint_every: Annotated[int, typer.Option(help="Steps between checkpoints")] = 1000,
    seed: Annotated[int, typer.Option(help="Random seed")] = 0,
    coulomb: Annotated[str, _COUL] = "pppm",
    threads: Annotated[int | None, _THREADS] = None,
) -> None:
    """Run one MD stage (rerun the same command to resume a killed run)."""
    from vitreous.engines.lammps import LammpsMD
    from vitreous.errors import ProtocolError
    from vitreous.io import read_structure
    from vitreous.potentials import load_forcefield
    from vitreous.protocols import Protocol, Stage

    if ensemble != "nve" and temperature_K is None:
        raise ProtocolError(f"{ensemble} needs a temperature", hint="give --temperature-K")
    stage = Stage(
        name="md",
        ensemble=ensemble,
        steps=steps,
        timestep_fs=timestep_fs,  # type: ignore[arg-type]
        t_start_K=temperature_K,
        pressure_GPa=pressure_GPa if ensemble == "npt" else None,
        trajectory_every=trajectory_every,
        thermo_every=min(100, steps),
        checkpoint_every=checkpoint_every,
    )
    atoms = read_structure(structure)
    ff = load_forcefield(potential)
    proto = Protocol(f"md-{ensemble}", (stage,))
    result = LammpsMD(atoms, ff, proto, output, seed=seed, settings=_settings(coulomb, threads)).run()
    _report(result)
