"""`vitreous melt-quench`, `vitreous md` and `vitreous tg-cooling`: classical MD on LAMMPS or ASE."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from vitreous.cli.common import console, handle_errors
from vitreous.engines import ENGINES
from vitreous.potentials.classical import COULOMB_METHODS
from vitreous.protocols import MELT_QUENCH_DEFAULTS as _MQ
from vitreous.protocols import TG_COOLING_DEFAULTS as _TG

_STRUCT = typer.Argument(help="Structure file (extxyz with valence, LAMMPS data, CIF, POSCAR, ...)")
_POT = typer.Option(
    "--potential", "-p", help="Force field name (bmp, pmmcs, pmmcs+bmp-v), TOML file, or mlip:MODEL_DIR (trained model)"
)
_OUT = typer.Option("--output", "-o", help="Run folder (trajectory.h5, final.extxyz, summary.json)")
_COUL = typer.Option("--coulomb", help=f"Coulomb treatment: {', '.join(COULOMB_METHODS)}")
_THREADS = typer.Option("--threads", help="OpenMP threads (default: all cores)")
_ENGINE = typer.Option(
    "--engine",
    help=f"{' or '.join(ENGINES)}: LAMMPS integrates, or ASE integrates (default: lammps; ase for GAP/MACE models)",
)


def _settings(coulomb: str, threads: int | None):
    from vitreous.engines.lammps import LammpsSettings
    from vitreous.potentials import Coulomb

    return LammpsSettings(threads=threads, coulomb=Coulomb(method=coulomb))  # type: ignore[arg-type]


def _protocol_or_melt_quench(protocol: Path | None, *args, **kwargs):
    """The protocol TOML when given, else :func:`vitreous.protocols.melt_quench` of the
    options (shared by ``vitreous melt-quench`` and ``vitreous dft bomd``)."""
    from vitreous.protocols import Protocol, melt_quench

    return Protocol.from_toml(protocol) if protocol is not None else melt_quench(*args, **kwargs)


def _report(result) -> None:
    s = result.summary
    f = s["final"]
    verb = "already complete" if result.resumed and s.get("wall_time_s", 0) == 0 else "done"
    console.print(
        f"{verb}: {s['simulated_ps']:.2f} ps in {s['wall_time_s']:.1f} s wall; final T {f['temperature_K']:.0f} K, "
        f"P {f['pressure_GPa']:.3f} GPa, density {f['density_g_cm3']:.4f} g/cm³, "
        f"E_pot {f['potential_energy_eV']:.3f} eV; {s['frames']} frames in {result.trajectory}"
    )
    for st in s.get("stages", []):
        if st.get("held") is not None:
            flag = "" if st["held"] else "  [OFF TARGET]"
            off = [f"{el} {e['mean_T_K']:.0f} K" for el, e in st.get("by_element", {}).items() if not e["held"]]
            console.print(
                f"  {st['name']}: T {st['mean_T_K']:.0f} ± {st.get('sem_T_K', 0):.0f} K (sd {st['std_T_K']:.0f}) "
                f"against {st['target_K']:.0f} K "
                f"({st['offset_percent']:+.1f} %, second half){flag}"
                + (f"; elements off target: {', '.join(off)}" if off else "")
            )


@handle_errors
def melt_quench(
    structure: Annotated[Path, _STRUCT],
    output: Annotated[Path, _OUT],
    potential: Annotated[str, _POT] = "bmp",
    protocol: Annotated[Path | None, typer.Option("--protocol", help="Protocol TOML file")] = None,
    t_melt_K: Annotated[float, typer.Option("--t-melt-K", help="Melt temperature (K)")] = _MQ["t_melt_K"],
    hold_ps: Annotated[float, typer.Option("--hold-ps", help="Hold at the melt (ps)")] = _MQ["hold_ps"],
    quench_rate_K_per_ps: Annotated[float, typer.Option("--quench-rate-K-per-ps", help="Cooling rate (K/ps)")] = _MQ[
        "quench_rate_K_per_ps"
    ],
    t_final_K: Annotated[float, typer.Option("--t-final-K", help="Final temperature (K)")] = _MQ["t_final_K"],
    anneal_ps: Annotated[float, typer.Option("--anneal-ps", help="Hold at the final temperature (ps)")] = _MQ[
        "anneal_ps"
    ],
    ensemble: Annotated[str, typer.Option(help="nvt (fixed density) or npt")] = "nvt",
    timestep_fs: Annotated[float, typer.Option("--timestep-fs", help="Time step (fs)")] = _MQ["timestep_fs"],
    seed: Annotated[int, typer.Option(help="Random seed")] = 0,
    coulomb: Annotated[str, _COUL] = "pppm",
    threads: Annotated[int | None, _THREADS] = None,
    engine: Annotated[str | None, _ENGINE] = None,
) -> None:
    """Melt–quench a structure (rerun the same command to resume a killed run)."""
    from vitreous.engines.factory import potential_md
    from vitreous.io import read_structure

    atoms = read_structure(structure)
    proto = _protocol_or_melt_quench(
        protocol, t_melt_K, hold_ps, quench_rate_K_per_ps, t_final_K, anneal_ps, ensemble, timestep_fs=timestep_fs
    )
    result = potential_md(atoms, potential, proto, output, seed, _settings(coulomb, threads), engine).run()  # type: ignore[arg-type]
    _report(result)


@handle_errors
def md(
    structure: Annotated[Path, _STRUCT],
    output: Annotated[Path, _OUT],
    temperature_K: Annotated[float | None, typer.Option("--temperature-K", help="Temperature (K)")] = None,
    steps: Annotated[int, typer.Option(help="Number of MD steps")] = 1000,
    potential: Annotated[str, _POT] = "bmp",
    ensemble: Annotated[str, typer.Option(help="nve, nvt, npt, langevin or limit")] = "nvt",
    temperature_end_K: Annotated[
        float | None, typer.Option("--temperature-end-K", help="Ramp the thermostat to this temperature (K)")
    ] = None,
    thermostat: Annotated[str, typer.Option(help="nose-hoover (chain) or csvr, for nvt/npt")] = "nose-hoover",
    damping_fs: Annotated[
        float | None, typer.Option("--damping-fs", help="Thermostat damping time (fs); default: the Stage default")
    ] = None,
    chain: Annotated[int, typer.Option(help="Nosé–Hoover chain length (1: no chain)")] = 3,
    per_element: Annotated[
        bool, typer.Option("--per-element", help="One thermostat per element (nvt on LAMMPS)")
    ] = False,
    pressure_GPa: Annotated[float | None, typer.Option("--pressure-GPa", help="Pressure for npt (GPa)")] = None,
    timestep_fs: Annotated[float, typer.Option("--timestep-fs", help="Time step (fs)")] = 1.0,
    trajectory_every: Annotated[int, typer.Option(help="Steps between trajectory frames (0: none)")] = 100,
    checkpoint_every: Annotated[int, typer.Option(help="Steps between checkpoints")] = 1000,
    seed: Annotated[int, typer.Option(help="Random seed")] = 0,
    coulomb: Annotated[str, _COUL] = "pppm",
    threads: Annotated[int | None, _THREADS] = None,
    engine: Annotated[str | None, _ENGINE] = None,
) -> None:
    """Run one MD stage (rerun the same command to resume a killed run)."""
    from vitreous.engines.factory import potential_md
    from vitreous.errors import ProtocolError
    from vitreous.io import read_structure
    from vitreous.protocols import Protocol, Stage

    if ensemble != "nve" and temperature_K is None:
        raise ProtocolError(f"{ensemble} needs a temperature", hint="give --temperature-K")
    stage = Stage(
        name="md",
        ensemble=ensemble,
        steps=steps,
        timestep_fs=timestep_fs,  # type: ignore[arg-type]
        t_start_K=temperature_K,
        t_end_K=temperature_end_K,
        thermostat=thermostat,  # type: ignore[arg-type]
        **({} if damping_fs is None else {"thermostat_damping_fs": damping_fs}),
        thermostat_chain=chain,
        thermostat_per_element=per_element,
        pressure_GPa=pressure_GPa if ensemble == "npt" else None,
        trajectory_every=trajectory_every,
        thermo_every=min(100, steps),
        checkpoint_every=checkpoint_every,
    )
    atoms = read_structure(structure)
    proto = Protocol(f"md-{ensemble}", (stage,))
    result = potential_md(atoms, potential, proto, output, seed, _settings(coulomb, threads), engine).run()  # type: ignore[arg-type]
    _report(result)


@handle_errors
def tg_cooling(
    structure: Annotated[Path, _STRUCT],
    output: Annotated[Path, _OUT],
    potential: Annotated[str, _POT] = "bmp",
    t_high_K: Annotated[float, typer.Option("--t-high-K", help="Start of the cooling (K)")] = _TG["t_high_K"],
    t_low_K: Annotated[float, typer.Option("--t-low-K", help="End of the cooling (K)")] = _TG["t_low_K"],
    cooling_rate_K_per_ps: Annotated[float, typer.Option("--cooling-rate-K-per-ps", help="Rate (K/ps)")] = _TG[
        "cooling_rate_K_per_ps"
    ],
    equilibrate_ps: Annotated[float, typer.Option("--equilibrate-ps", help="NPT hold at t_high (ps)")] = _TG[
        "equilibrate_ps"
    ],
    pressure_GPa: Annotated[float, typer.Option("--pressure-GPa", help="Pressure (GPa)")] = _TG["pressure_GPa"],
    timestep_fs: Annotated[float, typer.Option("--timestep-fs", help="Time step (fs)")] = _TG["timestep_fs"],
    seed: Annotated[int, typer.Option(help="Random seed")] = 0,
    coulomb: Annotated[str, _COUL] = "pppm",
    threads: Annotated[int | None, _THREADS] = None,
    engine: Annotated[str | None, _ENGINE] = None,
) -> None:
    """Continuous NPT cooling for Tg (then: vitreous analyze tg OUTPUT/trajectory.h5)."""
    from vitreous.engines.factory import potential_md
    from vitreous.io import read_structure
    from vitreous.protocols import tg_cooling as recipe

    proto = recipe(t_high_K, t_low_K, cooling_rate_K_per_ps, equilibrate_ps, pressure_GPa, timestep_fs=timestep_fs)
    atoms = read_structure(structure)
    result = potential_md(atoms, potential, proto, output, seed, _settings(coulomb, threads), engine).run()  # type: ignore[arg-type]
    _report(result)
