"""`vitreous analyze ...`: analyses of trajectories, results as JSON (+ plots)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from vitreous.cli.common import console, handle_errors, write_json

app = typer.Typer(help="Analyse trajectories (structure, dynamics, Tg).", no_args_is_help=True)


@app.command("structure")
@handle_errors
def structure(
    trajectory: Annotated[Path, typer.Argument(help="Trajectory: H5MD (.h5), extxyz, LAMMPS dump")],
    output: Annotated[Path, typer.Option("--output", "-o", help="Result JSON")],
    frames: Annotated[str | None, typer.Option(help="Frames START:STOP:STEP (Python slice)")] = None,
    cutoff: Annotated[
        list[str] | None, typer.Option("--cutoff", help="Bond cutoff in Å, e.g. V-O=2.4 (repeatable)")
    ] = None,
    r_max_A: Annotated[float | None, typer.Option("--r-max-A", help="Largest r of g(r) (Å)")] = None,
    dr_A: Annotated[float, typer.Option("--dr-A", help="g(r) bin width (Å)")] = 0.01,
    k_max: Annotated[float, typer.Option("--k-max", help="kmax of S(k) and of the G(r) transform (1/Å)")] = 20.0,
    no_lorch: Annotated[bool, typer.Option("--no-lorch", help="No Lorch window")] = False,
    experiment: Annotated[Path | None, typer.Option(help="Measured S(k), G(r) or T(r): x y [dy] columns")] = None,
    quantity: Annotated[str, typer.Option(help="What the experiment file holds: S, G or T")] = "S",
    radiation: Annotated[str, typer.Option(help="xray or neutron")] = "xray",
    x_unit: Annotated[str | None, typer.Option("--x-unit", help="1/A or 1/nm (S); A or nm (G, T)")] = None,
    fit_range: Annotated[str | None, typer.Option(help="x range of Rw, e.g. 1:18")] = None,
    plots: Annotated[Path | None, typer.Option(help="Folder for PNG plots")] = None,
) -> None:
    """g(r), coordination, VOn units, BO/NBO, Qn, bond valence, S(k), G(r), T(r), Rw."""
    from vitreous.analysis.experiment import read_experiment
    from vitreous.analysis.network import parse_cutoffs
    from vitreous.analysis.rdf import species_labels
    from vitreous.analysis.structure import analyze_structure
    from vitreous.errors import AnalysisError
    from vitreous.io.trajectory import open_trajectory, parse_frames

    if radiation not in ("xray", "neutron"):
        raise AnalysisError(f"unknown radiation '{radiation}'", hint="xray or neutron")
    rng = None
    if fit_range:
        try:
            lo, hi = (float(x) for x in fit_range.split(":"))
        except ValueError:
            raise AnalysisError(f"cannot read fit range '{fit_range}'", hint="e.g. 1:18") from None
        rng = (lo, hi)
    exp = read_experiment(experiment, quantity, x_unit) if experiment else None  # type: ignore[arg-type]
    with open_trajectory(trajectory) as traj:
        sel = parse_frames(frames, len(traj))
        known = set(traj.symbols) | set(species_labels(traj.symbols, traj.valence, True))
        cuts = parse_cutoffs(cutoff, known)
        with console.status(f"analysing {len(sel)} frames of {traj.n_atoms} atoms ..."):
            result = analyze_structure(
                traj,
                sel,
                cuts,
                r_max_A,
                dr_A,
                k_max_inv_A=k_max,
                lorch=not no_lorch,
                experiment=exp,
                radiation=radiation,
                fit_range=rng,
            )
    data = result.to_dict()
    data["metadata"]["trajectory"] = str(trajectory)
    write_json(data, output)
    if plots is not None:
        result.save_plots(plots)
    net = data["coordination"]
    line = ", ".join(f"n_{k.replace('-', '')} {v['mean']:.2f}" for k, v in net.items())
    console.print(f"{len(sel)} frames: {line}")
    if "V-O" in net:
        dist = net["V-O"]["distribution"]
        console.print("VO units: " + "  ".join(f"VO{k} {100 * v:.1f} %" for k, v in dist.items()))
        console.print(f"V–O bond lengths (Å): {', '.join(f'{x:.2f}' for x in data['bond_lengths_A']['V-O'])}")
    ox = data["oxygen"]
    console.print(f"oxygen: BO {100 * ox['BO']:.1f} %, NBO {100 * ox['NBO']:.1f} %, free {100 * ox['free']:.1f} %")
    if "rw_percent" in data:
        console.print(f"Rw against {experiment} ({quantity}, {radiation}): {data['rw_percent']:.2f} %")
    console.print(f"wrote {output}")
