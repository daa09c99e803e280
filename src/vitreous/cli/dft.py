"""`vitreous dft ...` (CP2K) and `vitreous analyze electronic`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import numpy as np
import typer

from vitreous.cli.common import console, handle_errors, write_json

app = typer.Typer(help="DFT with CP2K: single points, optimisation, BOMD, melt–quench.", no_args_is_help=True)

_S = typer.Argument(help="Structure (any ASE format; extxyz keeps 'valence'; without it V is V5+)")
_O = typer.Option("--output", "-o", help="Run folder")
_SET = typer.Option("--settings", help="Preset (pbe-dzvp-uks, pbe-dzvp-uks-smear, pbe-szv-fast) or TOML file")
_RANKS = typer.Option(help="MPI ranks (system mpirun)")
_WANNIER = typer.Option(help="Wannier centres (&LOCALIZE)")
_SPIN = typer.Option(help="Mulliken and Hirshfeld spin populations")
_BS = typer.Option(help="Antiferromagnetic V4+ start (broken symmetry, lowest multiplicity)")


def _common(structure: Path, settings: str, broken_symmetry: bool):
    from vitreous.engines.cp2k import load_dft_settings
    from vitreous.io import read_structure
    from vitreous.species import ensure_valence

    atoms = read_structure(structure)
    ensure_valence(atoms)
    return atoms, load_dft_settings(settings, broken_symmetry=broken_symmetry)


def _run(
    run_type: str,
    structure: Path,
    output: Path,
    settings: str,
    ranks: int,
    wannier: bool,
    spin: bool,
    broken: bool,
    **kw,
) -> None:
    from vitreous.engines.cp2k import CP2KRun
    from vitreous.io import write_structure

    atoms, s = _common(structure, settings, broken)
    output.mkdir(parents=True, exist_ok=True)
    write_structure(atoms, output / "structure.extxyz")
    res = CP2KRun(atoms, s, run_type, output, ranks=ranks, wannier=wannier, spin_populations=spin, **kw).run(
        progress=lambda m: console.print(f"  {m}", highlight=False)
    )
    summary = {
        k: (v.tolist() if isinstance(v, np.ndarray) else v)
        for k, v in res.items()
        if k not in ("wannier_centres_A", "final_atoms")
    }
    if "final_atoms" in res:
        write_structure(res["final_atoms"], output / "optimized.extxyz")
        summary["optimized_structure"] = str(output / "optimized.extxyz")
        if not res["optimization_converged"]:
            console.print("[yellow]warning:[/] the optimisation stopped at its step limit before converging")
    summary["structure"] = str(structure)
    summary["run_type"] = run_type
    if run_type == "md":
        from vitreous.engines.cp2k_parse import bomd_to_h5md

        summary["trajectory"] = str(bomd_to_h5md(output, atoms, output / "trajectory.h5"))
    write_json(summary, output / "summary.json")
    e = res.get("energy_eV")
    console.print(
        f"done in {res['wall_time_s']:.0f} s: E = {e:.6f} eV; SCF steps {res['scf_steps'][:10]}"
        if e is not None
        else f"done in {res['wall_time_s']:.0f} s"
    )


@app.command("single-point")
@handle_errors
def single_point(
    structure: Annotated[Path, _S],
    output: Annotated[Path, _O],
    settings: Annotated[str, _SET] = "pbe-dzvp-uks",
    ranks: Annotated[int, _RANKS] = 2,
    wannier: Annotated[bool, _WANNIER] = False,
    spin_populations: Annotated[bool, _SPIN] = False,
    broken_symmetry: Annotated[bool, _BS] = False,
) -> None:
    """Energy, forces and stress of one structure."""
    _run("single-point", structure, output, settings, ranks, wannier, spin_populations, broken_symmetry)


@app.command("optimize")
@handle_errors
def optimize(
    structure: Annotated[Path, _S],
    output: Annotated[Path, _O],
    settings: Annotated[str, _SET] = "pbe-dzvp-uks",
    ranks: Annotated[int, _RANKS] = 2,
    steps: Annotated[int, typer.Option(help="Maximum BFGS steps")] = 200,
    broken_symmetry: Annotated[bool, _BS] = False,
) -> None:
    """Geometry optimisation (BFGS)."""
    _run("optimize", structure, output, settings, ranks, False, False, broken_symmetry, steps=steps)


@app.command("md")
@handle_errors
def md(
    structure: Annotated[Path, _S],
    output: Annotated[Path, _O],
    settings: Annotated[str, _SET] = "pbe-dzvp-uks",
    ranks: Annotated[int, _RANKS] = 2,
    steps: Annotated[int, typer.Option(help="MD steps")] = 100,
    timestep_fs: Annotated[float, typer.Option("--timestep-fs", help="Time step (fs)")] = 0.5,
    temperature_K: Annotated[float, typer.Option("--temperature-K", help="Nosé–Hoover temperature (K)")] = 300.0,
    wannier: Annotated[bool, _WANNIER] = False,
    spin_populations: Annotated[bool, _SPIN] = False,
    broken_symmetry: Annotated[bool, _BS] = False,
    seed: Annotated[int, typer.Option(help="Velocity seed")] = 1,
) -> None:
    """Born–Oppenheimer NVT MD (s-BOMD: 300 K from a classical model); rerun to resume."""
    _run(
        "md",
        structure,
        output,
        settings,
        ranks,
        wannier,
        spin_populations,
        broken_symmetry,
        steps=steps,
        timestep_fs=timestep_fs,
        temperature_K=temperature_K,
        seed=seed,
    )


@app.command("melt-quench")
@handle_errors
def melt_quench(
    structure: Annotated[Path, _S],
    output: Annotated[Path, _O],
    settings: Annotated[str, _SET] = "pbe-dzvp-uks",
    ranks: Annotated[int, _RANKS] = 2,
    t_melt_K: Annotated[float, typer.Option("--t-melt-K", help="Melt temperature (K)")] = 3000.0,
    t_final_K: Annotated[float, typer.Option("--t-final-K", help="Final temperature (K)")] = 300.0,
    segments: Annotated[int, typer.Option(help="NVT segments from melt to final T")] = 10,
    steps_per_segment: Annotated[int, typer.Option(help="MD steps per segment")] = 200,
    timestep_fs: Annotated[float, typer.Option("--timestep-fs", help="Time step (fs)")] = 0.5,
) -> None:
    """f-BOMD: a melt–quench as consecutive CP2K NVT segments, each in its own folder,
    each starting from the previous segment's final structure; reruns skip finished ones."""
    from vitreous.engines.cp2k import CP2KRun, melt_quench_segments
    from vitreous.engines.cp2k_parse import read_md_frames

    atoms, s = _common(structure, settings, False)
    guess = None  # each segment starts its SCF from the previous segment's wavefunction
    for k, (temp, steps) in enumerate(melt_quench_segments(t_melt_K, t_final_K, segments, steps_per_segment)):
        folder = output / f"segment-{k:02d}-{temp:.0f}K"
        if not (folder / "summary.json").is_file():
            console.print(f"segment {k + 1}/{segments}: {temp:.0f} K, {steps} steps")
            res = CP2KRun(
                atoms,
                s,
                "md",
                folder,
                ranks=ranks,
                steps=steps,
                timestep_fs=timestep_fs,
                temperature_K=temp,
                guess_wfn=guess,
            ).run(progress=lambda m: console.print(f"  {m}", highlight=False))
            write_json(
                {"temperature_K": temp, "steps": steps, "wall_time_s": res["wall_time_s"]}, folder / "summary.json"
            )
        atoms = read_md_frames(folder, atoms)[-1]
        wfn = folder / "vitreous-RESTART.wfn"
        guess = wfn if wfn.is_file() else None
    console.print(f"done: {segments} segments in {output}")


@app.command("bomd")
@handle_errors
def bomd(
    structure: Annotated[Path, _S],
    output: Annotated[Path, _O],
    settings: Annotated[str, _SET] = "pbe-dzvp-uks",
    protocol: Annotated[Path | None, typer.Option("--protocol", help="Protocol TOML (default: a melt–quench)")] = None,
    t_melt_K: Annotated[float, typer.Option("--t-melt-K", help="Melt temperature (K)")] = 3000.0,
    hold_ps: Annotated[float, typer.Option("--hold-ps", help="Hold at the melt (ps)")] = 1.0,
    quench_rate_K_per_ps: Annotated[float, typer.Option("--quench-rate-K-per-ps", help="K/ps")] = 1000.0,
    t_final_K: Annotated[float, typer.Option("--t-final-K", help="Final temperature (K)")] = 300.0,
    anneal_ps: Annotated[float, typer.Option("--anneal-ps", help="Hold at the final temperature (ps)")] = 0.5,
    timestep_fs: Annotated[float, typer.Option("--timestep-fs", help="Time step (fs)")] = 0.5,
    ranks: Annotated[int, _RANKS] = 1,
    threads: Annotated[int, typer.Option(help="OpenMP threads per rank")] = 1,
    seed: Annotated[int, typer.Option(help="Velocity seed")] = 1,
) -> None:
    """BOMD on the vitreous MD driver with CP2K forces: any protocol (default the ordinary
    melt–quench recipe, i.e. f-BOMD), H5MD output, checkpoints (rerun to resume) and the
    same failure checks as classical MD."""
    from vitreous.cli.md import _protocol_or_melt_quench, _report
    from vitreous.engines.factory import dft_md
    from vitreous.units import FS_TO_PS

    atoms, s = _common(structure, settings, False)
    # DFT steps are expensive: every step is written and checkpoints come every 10 steps
    proto = _protocol_or_melt_quench(
        protocol,
        t_melt_K,
        hold_ps,
        quench_rate_K_per_ps,
        t_final_K,
        anneal_ps,
        timestep_fs=timestep_fs,
        relax_ps=10 * timestep_fs * FS_TO_PS,
        trajectory_every=1,
        thermo_every=1,
        checkpoint_every=10,
    )
    _report(dft_md(atoms, s, proto, output, seed, ranks, threads).run())


@handle_errors
def analyze_electronic(
    run_dir: Annotated[Path, typer.Argument(help="A CP2K run folder (single point with --wannier)")],
    output: Annotated[Path, typer.Option("--output", "-o", help="Result JSON")],
    bond_cutoff_A: Annotated[float, typer.Option("--bond-cutoff-A", help="Largest V–O bond (Å)")] = 2.4,
    cone_deg: Annotated[
        float, typer.Option("--cone-deg", help="Largest angle at O between centre and bond directions (°)")
    ] = 54.74,
    spin_threshold: Annotated[float, typer.Option(help="|spin| (μB) above which V is V4+")] = 0.5,
    double_min_centres: Annotated[
        int, typer.Option(help="Fewest shared centres (both spins) of a V=O: 6 = σ+2π; 3 = 'more than two'")
    ] = 6,
) -> None:
    """V4+/V5+ from spin moments and V–O bond orders from Wannier centres."""
    from vitreous.analysis.electronic import wannier_bonds
    from vitreous.engines.cp2k_parse import parse_output, read_input_cell, read_wannier
    from vitreous.errors import InputFileError
    from vitreous.io import read_structure

    outs = sorted(run_dir.glob("cp2k-*.out"))
    structure = run_dir / "structure.extxyz"
    if not outs or not structure.is_file():
        raise InputFileError(f"{run_dir} holds no finished CP2K run", hint="run 'vitreous dft single-point --wannier'")
    atoms = read_structure(structure)
    parsed = parse_output(outs[-1], run_dir, atoms)
    spin = parsed.get("hirshfeld_spin", parsed.get("mulliken_spin"))
    centres, ions = read_wannier(run_dir / "wannier.xyz")
    atoms.positions = ions  # the frame of the centres
    inputs = sorted(run_dir.glob("cp2k-*.inp"))
    if not inputs:
        raise InputFileError(f"{run_dir} holds no CP2K input", hint="run 'vitreous dft single-point --wannier'")
    atoms.set_cell(read_input_cell(inputs[-1]))
    res = wannier_bonds(
        atoms, centres, bond_cutoff_A, cone_deg, spin, spin_threshold, double_min_centres=double_min_centres
    )
    write_json(res.to_dict(), output)
    for v in res.vanadium:
        console.print(
            f"V{v['index']}: {v['n_double']} V=O, {v['n_single']} V–O, n_V {v['n_V']}"
            + (f", spin {v['spin_moment']:+.2f} → V{v['valence_from_spin']}+" if v["spin_moment"] is not None else "")
        )
    if res.oxygen:
        ox = res.oxygen
        console.print(f"O from Wannier bonds: BO {ox['BO']:.1%}, NBO {ox['NBO']:.1%}, free {ox['free']:.1%}")
    if res.agreement:
        console.print("valence agreement: " + ", ".join(f"{k} {v:.0%}" for k, v in res.agreement.items()))
    console.print(f"wrote {output}")
