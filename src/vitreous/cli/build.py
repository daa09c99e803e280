"""`vitreous compositions` and `vitreous build`."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from vitreous.cli.common import check_writable, console, handle_errors, write_json


@handle_errors
def compositions() -> None:
    """List the built-in glass presets (mol %, density, measured Tg and V4+ fraction)."""
    from vitreous.composition import presets

    table = Table(title="vitreous presets (Wansi Wendji et al., Chem. Commun. 2025)")
    for col in (
        "name",
        "composition (mol %)",
        "density (g/cm³)",
        "Tg (°C)",
        "V4+/V",
        "paper sizes",
    ):
        table.add_column(col, overflow="fold")
    for p in presets().values():
        table.add_row(
            p.name,
            str(p.composition),
            f"{p.density_g_cm3:.3f}",
            f"{p.tg_C:g}" if p.tg_C is not None else "-",
            f"{p.v4_fraction_measured:.3f}" if p.v4_fraction_measured is not None else "-",
            ", ".join(map(str, p.paper_sizes)) or "-",
        )
    console.print(table)


@handle_errors
def build(
    composition: Annotated[str, typer.Argument(help="Preset (NVP0, NVP10, NVP28) or mol % string, e.g. 50V2O5-50P2O5")],
    atoms: Annotated[int, typer.Option("--atoms", "-n", help="Requested number of atoms (±1 %)")],
    output: Annotated[Path, typer.Option("--output", "-o", help="Structure file (.extxyz, .data, .cif, POSCAR)")],
    density: Annotated[
        float | None,
        typer.Option("--density-g-cm3", "--density", help="Density in g/cm³, e.g. pycnometry (default: the preset's)"),
    ] = None,
    v4_fraction: Annotated[
        float | None, typer.Option("--v4-fraction", help="Measured V4+/V (0-1): re-splits V2O4/V2O5, total V kept")
    ] = None,
    from_xps: Annotated[
        Path | None, typer.Option("--from-xps", help="Take the V4+ fraction from a 'vitreous exp xps' result JSON")
    ] = None,
    seed: Annotated[int, typer.Option(help="Random seed")] = 0,
    min_distance: Annotated[
        list[str] | None,
        typer.Option("--min-distance", help="Pair minimum distance in Å, e.g. V-O=1.5 (repeatable)"),
    ] = None,
    json_path: Annotated[Path | None, typer.Option("--json", help="Write a JSON summary here")] = None,
) -> None:
    """Build a charge-neutral random glass model at the target density."""
    from vitreous.build import parse_min_distances, random_glass
    from vitreous.composition import counts, resolve, with_v4_fraction
    from vitreous.errors import CompositionError
    from vitreous.experiment.xps import v4_fraction_from_xps
    from vitreous.io import write_structure

    comp, preset = resolve(composition)
    if v4_fraction is not None and from_xps is not None:
        raise CompositionError("give --v4-fraction or --from-xps, not both")
    if from_xps is not None:
        v4_fraction = v4_fraction_from_xps(from_xps)
    if v4_fraction is not None:
        comp = with_v4_fraction(comp, v4_fraction)
    if density is None:
        if preset is None:
            raise CompositionError("no density for a custom composition", hint="give --density in g/cm³")
        density = preset.density_g_cm3
    if density <= 0:
        raise CompositionError(f"density must be positive, got {density} g/cm³", hint="e.g. --density 2.9")
    if atoms <= 0:
        raise CompositionError(f"--atoms must be positive, got {atoms}", hint="e.g. --atoms 405")
    dists = parse_min_distances(min_distance)
    check_writable(output)
    if json_path is not None:
        check_writable(json_path)
    model = counts(comp, atoms)
    t0 = time.perf_counter()
    with console.status(f"placing {model.n_atoms} atoms at {density:g} g/cm³ ..."):
        structure = random_glass(model, density, seed=seed, min_distances=dists)
    elapsed = time.perf_counter() - t0
    write_structure(structure, output)
    summary = model.summary(density)
    summary.update({"seed": seed, "output": str(output), "build_time_s": elapsed})
    _print_summary(summary, preset.name if preset else None)
    if json_path is not None:
        write_json(summary, json_path)


def _print_summary(summary: dict, name: str | None) -> None:
    table = Table(title=f"{name or summary['composition']}: {summary['n_atoms']} atoms")
    table.add_column("oxide")
    table.add_column("target mol %", justify="right")
    table.add_column("achieved mol %", justify="right")
    table.add_column("deviation", justify="right")
    for oxide, target in summary["target_mol_percent"].items():
        table.add_row(
            oxide,
            f"{target:.3f}",
            f"{summary['achieved_mol_percent'][oxide]:.3f}",
            f"{summary['deviation_mol_percent'][oxide]:+.3f}",
        )
    console.print(table)
    counts = "  ".join(f"{k} {v}" for k, v in summary["counts"].items())
    console.print(f"counts: {counts}  (total {summary['n_atoms']})")
    if summary["v4_fraction"] is not None:
        console.print(f"V4+ fraction of V: {summary['v4_fraction']:.3f}")
    if "density_g_cm3" in summary:
        console.print(f"density {summary['density_g_cm3']:.4f} g/cm³, cubic box edge {summary['box_edge_A']:.4f} Å")
    if "output" in summary:
        console.print(f"wrote {summary['output']} (seed {summary['seed']}, {summary['build_time_s']:.2f} s)")
