"""`vitreous exp ...`: measured data read and fitted (impedance, XPS, DSC)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from vitreous.cli.common import check_writable, console, handle_errors, write_json

app = typer.Typer(help="Fit measured data: impedance (EIS), XPS V 2p, DSC Tg.", no_args_is_help=True)


def _floats(text: str | None, what: str, n: int | None = None) -> list[float] | None:
    from vitreous.errors import AnalysisError

    if text is None:
        return None
    try:
        values = [float(x) for x in text.replace(":", ",").split(",") if x.strip()]
    except ValueError:
        raise AnalysisError(f"cannot read {what} '{text}'", hint="numbers separated by commas") from None
    if n is not None and len(values) != n:
        raise AnalysisError(f"{what} needs {n} numbers, got '{text}'", hint="e.g. 450:520")
    return values


@app.command("eis")
@handle_errors
def eis(
    files: Annotated[
        list[Path], typer.Argument(help="Spectra: text/CSV (f Hz, Z' Ω, Z'' Ω), Gamry .DTA, BioLogic .mpr")
    ],
    thickness_mm: Annotated[float, typer.Option("--thickness-mm", help="Sample thickness (mm)")],
    area_cm2: Annotated[float, typer.Option("--area-cm2", help="Electrode area (cm²)")],
    output: Annotated[Path, typer.Option("--output", "-o", help="Result JSON")],
    temperature_K: Annotated[
        list[float] | None,
        typer.Option("--temperature-K", help="Sample T (K), one per file in order; default from header or file name"),
    ] = None,
    circuit: Annotated[str, typer.Option(help="Equivalent circuit (impedance.py syntax)")] = "R0-p(R1,CPE1)-CPE2",
    initial_guess: Annotated[
        str | None, typer.Option("--initial-guess", help="Comma-separated start values (CPE: Q, alpha)")
    ] = None,
    bulk: Annotated[
        str | None, typer.Option(help="Resistors summed into the bulk resistance, e.g. R0,R1 (default: all)")
    ] = None,
    form: Annotated[str, typer.Option(help="Arrhenius form: sigma_T (σT = A exp(−Ea/kT)) or sigma")] = "sigma_T",
    plots: Annotated[Path | None, typer.Option(help="Folder for Nyquist, Bode and Arrhenius plots")] = None,
) -> None:
    """Fit impedance spectra: bulk resistance, σ = d/(R·A) in S/cm, and Arrhenius over T."""
    from vitreous.errors import AnalysisError
    from vitreous.experiment.eis import fit_eis_series, read_spectrum

    if temperature_K and len(temperature_K) != len(files):
        raise AnalysisError(f"{len(temperature_K)} temperatures for {len(files)} files", hint="one per file")
    if form not in ("sigma_T", "sigma"):
        raise AnalysisError(f"unknown Arrhenius form '{form}'", hint="sigma_T or sigma")
    check_writable(output)
    spectra = [read_spectrum(f, temperature_K[i] if temperature_K else None) for i, f in enumerate(files)]
    guess = _floats(initial_guess, "--initial-guess")
    bulk_elements = [b.strip() for b in bulk.split(",")] if bulk else None
    with console.status(f"fitting {len(spectra)} spectra with {circuit} ..."):
        series = fit_eis_series(spectra, thickness_mm, area_cm2, circuit, guess, bulk_elements, form)  # type: ignore[arg-type]
    data = series.to_dict()
    first = data["spectra"][0]
    out = {
        k: first[k]
        for k in (
            "bulk_resistance_ohm",
            "bulk_resistance_err_ohm",
            "sigma_S_cm",
            "sigma_err_S_cm",
            "circuit",
            "parameters",
            "temperature_K",
        )
    } | data
    write_json(out, output)
    for fit in series.fits:
        t = fit.spectrum.temperature_K
        console.print(
            f"{Path(fit.spectrum.source).name}: T {t if t is None else f'{t:g} K'}, R_b {fit.bulk_resistance_ohm:.4g} "
            f"± {fit.bulk_resistance_err_ohm:.2g} Ω, σ {fit.sigma_S_cm:.3e} ± {fit.sigma_err_S_cm:.1e} S/cm "
            f"({fit.fit_time_s:.2f} s)"
        )
    if series.arrhenius is not None:
        a = series.arrhenius
        console.print(f"Arrhenius ({data['arrhenius']['equation']}): Ea = {a.Ea_eV:.3f} ± {a.Ea_err_eV:.3f} eV")
    if plots is not None:
        from vitreous.report.figures import save_plot

        for fit in series.fits:
            stem = Path(fit.spectrum.source).stem
            save_plot(fit, plots / f"nyquist_{stem}.png", "nyquist", figsize=(6, 5))
            save_plot(fit, plots / f"bode_{stem}.png", "bode")
        if series.arrhenius is not None:
            save_plot(series, plots / "eis_arrhenius.png")
    console.print(f"wrote {output}")


@app.command("xps")
@handle_errors
def xps(
    file: Annotated[Path, typer.Argument(help="V 2p region: binding energy (eV), counts")],
    output: Annotated[Path, typer.Option("--output", "-o", help="Result JSON")],
    components: Annotated[str, typer.Option(help="V5,V4 or V5,V4,V3")] = "V5,V4",
    shape: Annotated[str, typer.Option(help="gl (GL(30) sum form) or voigt")] = "gl",
    energy_range_eV: Annotated[
        str | None, typer.Option("--energy-range-eV", help="Fitted range LO:HI (eV), default 512:520.5")
    ] = None,
    shift_eV: Annotated[float, typer.Option("--shift-eV", help="Charge correction added to every energy (eV)")] = 0.0,
    plots: Annotated[Path | None, typer.Option(help="Folder for the fit plot")] = None,
) -> None:
    """Fit V 2p3/2 on a Shirley background: V5+/V4+(/V3+) components and the V4+ fraction."""
    from vitreous.experiment.xps import fit_xps, read_xps

    check_writable(output)
    rng = _floats(energy_range_eV, "--energy-range-eV", 2)
    e, y = read_xps(file)
    fit = fit_xps(
        e,
        y,
        tuple(c.strip() for c in components.split(",")),
        shape,  # type: ignore[arg-type]
        None if rng is None else (rng[0], rng[1]),
        shift_eV,
        str(file),
    )
    write_json(fit.to_dict(), output)
    for c in fit.components:
        console.print(
            f"{c['label']}: {c['binding_energy_eV']:.2f} eV, FWHM {c['fwhm_eV']:.2f} eV, area {c['area']:.4g}"
        )
    console.print(f"V4+/(V4+ + V5+) = {fit.V4_fraction:.3f} ± {fit.V4_fraction_err:.3f} ({fit.fit_time_s:.2f} s)")
    for note in fit.notes:
        console.print(f"note: {note}")
    if plots is not None:
        from vitreous.report.figures import save_plot

        save_plot(fit, plots / f"xps_{file.stem}.png", figsize=(6, 4.5))
    console.print(f"wrote {output}")


@app.command("dsc")
@handle_errors
def dsc(
    file: Annotated[Path, typer.Argument(help="Heating scan: temperature, heat flow")],
    output: Annotated[Path, typer.Option("--output", "-o", help="Result JSON")],
    temperature_unit: Annotated[str, typer.Option("--temperature-unit", help="C or K (first column)")] = "C",
    endo: Annotated[str, typer.Option(help="Direction of endothermic events: up or down")] = "down",
    glass_window_K: Annotated[str | None, typer.Option("--glass-window-K", help="Glass baseline LO:HI (K)")] = None,
    liquid_window_K: Annotated[str | None, typer.Option("--liquid-window-K", help="Liquid baseline LO:HI (K)")] = None,
    search_range_K: Annotated[str | None, typer.Option("--search-range-K", help="Look for Tg in LO:HI (K)")] = None,
    plots: Annotated[Path | None, typer.Option(help="Folder for the plot with the constructions")] = None,
) -> None:
    """Tg onset, midpoint and endset of a DSC heating curve (ISO 11357-2 constructions)."""
    from vitreous.experiment.dsc import fit_dsc, read_dsc

    check_writable(output)
    t, hf = read_dsc(file, temperature_unit)  # type: ignore[arg-type]
    windows = [
        _floats(w, name, 2)
        for w, name in (
            (glass_window_K, "--glass-window-K"),
            (liquid_window_K, "--liquid-window-K"),
            (search_range_K, "--search-range-K"),
        )
    ]
    ranges = [None if w is None else (w[0], w[1]) for w in windows]
    fit = fit_dsc(t, hf, endo, *ranges, source=str(file))  # type: ignore[arg-type]
    write_json(fit.to_dict(), output)
    console.print(
        f"Tg onset {fit.Tg_onset_K:.1f} K, midpoint {fit.Tg_midpoint_K:.1f} K, endset {fit.Tg_endset_K:.1f} K "
        f"(midpoint {fit.Tg_midpoint_K - 273.15:.1f} °C)"
    )
    if plots is not None:
        from vitreous.report.figures import save_plot

        save_plot(fit, plots / f"dsc_{file.stem}.png")
    console.print(f"wrote {output}")
