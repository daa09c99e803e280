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
    from vitreous import operations
    from vitreous.errors import AnalysisError
    from vitreous.experiment import read_experiment

    rng = None
    if fit_range:
        try:
            lo, hi = (float(x) for x in fit_range.split(":"))
        except ValueError:
            raise AnalysisError(f"cannot read fit range '{fit_range}'", hint="e.g. 1:18") from None
        rng = (lo, hi)
    exp = read_experiment(experiment, quantity, x_unit) if experiment else None  # type: ignore[arg-type]
    with console.status(f"analysing {trajectory} ..."):
        result = operations.structure(
            trajectory, frames, cutoff, r_max_A, dr_A, k_max, not no_lorch, exp, radiation, rng
        )
    data = result.to_dict()
    write_json(data, output)
    if plots is not None:
        from vitreous.report.figures import save_plots

        save_plots(result, plots)
    net = data["coordination"]
    line = ", ".join(f"n_{k.replace('-', '')} {v['mean']:.2f}" for k, v in net.items())
    console.print(f"{data['metadata']['n_frames']} frames: {line}")
    if "V-O" in net:
        dist = net["V-O"]["distribution"]
        console.print("VO units: " + "  ".join(f"VO{k} {100 * v:.1f} %" for k, v in dist.items()))
        console.print(f"V–O bond lengths (Å): {', '.join(f'{x:.2f}' for x in data['bond_lengths_A']['V-O'])}")
    ox = data["oxygen"]
    console.print(f"oxygen: BO {100 * ox['BO']:.1f} %, NBO {100 * ox['NBO']:.1f} %, free {100 * ox['free']:.1f} %")
    if "rw_percent" in data:
        console.print(f"Rw against {experiment} ({quantity}, {radiation}): {data['rw_percent']:.2f} %")
    console.print(f"wrote {output}")


@app.command("dynamics")
@handle_errors
def dynamics(
    trajectory: Annotated[Path, typer.Argument(help="Trajectory with unwrapped positions (H5MD, extxyz)")],
    output: Annotated[Path, typer.Option("--output", "-o", help="Result JSON")],
    species: Annotated[str, typer.Option(help="Mobile ion element")] = "Na",
    temperature_K: Annotated[
        float | None, typer.Option("--temperature-K", help="T (K); default: from the file")
    ] = None,
    haven_ratio: Annotated[float, typer.Option(help="Haven ratio H_R")] = 1.0,
    frame_interval_ps: Annotated[
        float | None, typer.Option("--frame-interval-ps", help="Frame spacing (ps) when the file has no times")
    ] = None,
    frames: Annotated[str | None, typer.Option(help="Frames START:STOP:STEP")] = None,
    threshold_A2: Annotated[
        float | None, typer.Option("--threshold-A2", help="Trapped/mobile per-ion MSD threshold (Å²)")
    ] = None,
    link_A: Annotated[float | None, typer.Option("--link-A", help="Site link distance for channels (Å)")] = None,
    plots: Annotated[Path | None, typer.Option(help="Folder for PNG plots")] = None,
) -> None:
    """MSD, D with uncertainty, Nernst–Einstein and collective σ, trapped/mobile ions, channels."""
    from vitreous import operations

    with console.status("computing MSD ..."):
        res, caught = operations.dynamics(
            trajectory, species, frames, temperature_K, haven_ratio, threshold_A2, link_A, frame_interval_ps
        )
    data = res.to_dict()
    data["warnings"] = caught
    write_json(data, output)
    if plots is not None:
        from vitreous.report.figures import save_plot

        save_plot(res, plots / f"msd_{species}.png")
    d, c, i = data["diffusion"], data["conductivity"], data["ions"]
    for w in data["warnings"]:
        console.print(f"[yellow]warning:[/] {w}")
    console.print(
        f"D_{species} = {d['D_cm2_s']:.3e} ± {d['D_err_cm2_s']:.1e} cm²/s (fit {d['fit_window_ps'][0]:.2f}–"
        f"{d['fit_window_ps'][1]:.2f} ps, log-log slope {d['loglog_slope']:.2f}) at {c['temperature_K']:.0f} K"
    )
    console.print(
        f"σ Nernst–Einstein {c['nernst_einstein_S_cm']:.3e} S/cm (H_R {c['haven_ratio']:g}); collective "
        f"{c['collective_S_cm']:.3e} ± {c['collective_err_S_cm']:.1e} S/cm"
    )
    console.print(
        f"{species}: trapped {100 * i['trapped_fraction']:.0f} %, mobile {100 * i['mobile_fraction']:.0f} % "
        f"(threshold {i['threshold_A2']:.2f} Å² at {i['lag_ps']:.2f} ps)"
    )
    ch = data["channels"]["static"]
    console.print(
        f"channels (link {data['channels']['link_A']:.2f} Å): "
        f"largest cluster {100 * ch['largest_cluster_fraction']:.0f} % "
        f"of {species}, percolates: {ch['percolates']}"
    )
    console.print(f"wrote {output}")


@app.command("arrhenius")
@handle_errors
def arrhenius(
    results: Annotated[list[Path], typer.Argument(help="Dynamics result JSON files (one per temperature)")],
    output: Annotated[Path, typer.Option("--output", "-o", help="Result JSON")],
    form: Annotated[str, typer.Option(help="sigma_T (σT = A exp(−Ea/kT)), sigma or D")] = "sigma_T",
    at_K: Annotated[list[float] | None, typer.Option("--at-K", help="Extrapolate to this T (K), repeatable")] = None,
    experiment: Annotated[list[str] | None, typer.Option(help="Measured point T=S_per_cm, e.g. 473=3.3e-5")] = None,
    plots: Annotated[Path | None, typer.Option(help="Folder for the Arrhenius plot")] = None,
) -> None:
    """Arrhenius fit of σ (or D) over dynamics results at several temperatures."""
    import json

    from vitreous import operations
    from vitreous.errors import AnalysisError, InputFileError

    points = []
    for path in results:
        if not path.is_file():
            raise InputFileError(f"cannot read {path}: no such file")
        try:
            points.append(json.loads(path.read_text()))
        except json.JSONDecodeError:
            raise InputFileError(
                f"{path} is not a dynamics result (not JSON)", hint="make it with 'vitreous analyze dynamics'"
            ) from None
    exp_points = []
    for item in experiment or []:
        try:
            t_s, v_s = item.split("=")
            exp_points.append((float(t_s), float(v_s), "experiment"))
        except ValueError:
            raise AnalysisError(
                f"cannot read experiment point '{item}'", hint="write T=S_per_cm, e.g. 473=3.3e-5"
            ) from None
    at = sorted(set((at_K or []) + [t for t, _, _ in exp_points])) or [473.0]
    fit, out = operations.arrhenius(points, form, at, exp_points)
    write_json(out, output)
    if plots is not None:
        from vitreous.report.figures import save_plot

        save_plot(fit, plots / "arrhenius.png", [(t, v) for t, v, _ in exp_points])
    console.print(f"Ea = {fit.Ea_eV:.3f} ± {fit.Ea_err_eV:.3f} eV ({out['equation']})")
    for t, p in out.get("sigma_at", out.get("D_at", {})).items():
        flag = "  [extrapolated outside the fitted range]" if p["extrapolated"] else ""
        console.print(f"  at {t} K: {p['value']:.3e} (95 % interval {p['low']:.2e} – {p['high']:.2e}){flag}")
    if fit.covariance_scale > 1 and fit.weighted:
        scale = fit.covariance_scale**0.5
        console.print(f"  errors scaled by sqrt(reduced chi2) = {scale:.2f}: the points scatter more than their errors")
    console.print(f"wrote {output}")


@app.command("tg")
@handle_errors
def tg(
    source: Annotated[Path, typer.Argument(help="Cooling trajectory (H5MD) or text with columns T V [H]")],
    output: Annotated[Path, typer.Option("--output", "-o", help="Result JSON")],
    quantity: Annotated[str, typer.Option(help="volume, density or enthalpy")] = "volume",
    window_K: Annotated[float, typer.Option("--window-K", help="Averaging window on a continuous cooling (K)")] = 25.0,
    plots: Annotated[Path | None, typer.Option(help="Folder for the Tg plot")] = None,
) -> None:
    """Tg from the change of slope of volume (or enthalpy) against T on cooling."""
    from vitreous import operations

    fit = operations.tg(source, [quantity], window_K)[quantity]
    write_json(fit.to_dict(), output)
    if plots is not None:
        from vitreous.report.figures import save_plot

        save_plot(fit, plots / "tg.png")
    console.print(
        f"Tg = {fit.Tg_K:.0f} K (95 % interval {fit.interval_K[0]:.0f}–{fit.interval_K[1]:.0f} K) from {fit.quantity}"
        f"; {fit.averaging}"
    )
    console.print(f"wrote {output}")
