"""`vitreous run` and `vitreous report`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from vitreous.cli.common import console, handle_errors


@handle_errors
def run(
    study: Annotated[Path | None, typer.Argument(help="Study TOML (default: the built-in NVP28 quick study)")] = None,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Output folder (default ./vitreous-out/<name>)")
    ] = None,
    executor: Annotated[str | None, typer.Option(help="serial or dask (default: the study file's)")] = None,
    workers: Annotated[int | None, typer.Option(help="Dask LocalCluster workers")] = None,
) -> None:
    """Run a study end to end (rerun to resume: finished tasks are skipped)."""
    from vitreous.errors import StudyError
    from vitreous.study import builtin_study, load_study, run_study

    spec = builtin_study() if study is None else load_study(study)
    if executor is not None and executor not in ("serial", "dask"):
        raise StudyError(f"unknown executor '{executor}'", hint="serial or dask")
    if workers is not None and workers <= 0:
        raise StudyError("--workers must be positive")
    if spec.note:
        console.print(f"[yellow]note:[/] {spec.note}")
    outcome = run_study(spec, output, executor, workers, log=lambda s: console.print(s, highlight=False))
    counts = ", ".join(f"{v} {k}" for k, v in outcome["counts"].items())
    console.print(f"done in {outcome['wall_s']:.0f} s: {counts}")
    for f in outcome["failed"]:
        console.print(f"  [red]{f['label']}[/]: {f['error']}")
    _headline(Path(outcome["output"]))
    if outcome["report"]:
        console.print(f"report: {outcome['report']}")
    if outcome["failed"]:
        raise typer.Exit(1)


def _headline(out_dir: Path) -> None:
    import json

    path = out_dir / "results.json"
    if not path.is_file():
        return
    for group, entry in json.loads(path.read_text()).items():
        for method, g in entry.items():
            parts = [f"{group} {method.upper()}"]
            if g.get("n_V") is not None:
                parts.append(f"n_V {g['n_V']:.2f}")
            if g.get("vo_units"):
                vo = g["vo_units"]
                parts.append("VO4/5/6 " + "/".join(f"{100 * vo.get(k, 0):.0f}" for k in ("4", "5", "6")) + " %")
            if g.get("Tg_K") is not None:
                parts.append(f"Tg {g['Tg_K']:.0f} K")
            if g.get("Ea_eV") is not None:
                parts.append(f"Ea {g['Ea_eV']:.2f} ± {g['Ea_err_eV']:.2f} eV")
            held = g.get("sigma_measured_temperature_K", {})
            for t, v in g.get("sigma_S_cm", {}).items():  # labelled by the temperature the run held
                parts.append(f"σ({held[t]:.0f} K) {v:.1e} S/cm" if t in held else f"σ(target {t} K) {v:.1e} S/cm")
            for t, p in g.get("sigma_extrapolated_S_cm", {}).items():
                share = (g.get("ionic_share") or {}).get(t)
                flag = f" ({share:.3g}× the measured total: not credible)" if share and share > 1 else ""
                parts.append(f"σ({t} K, extrapolated) {p['value']:.1e} [{p['low']:.0e}, {p['high']:.0e}] S/cm{flag}")
            if g.get("model"):
                m = g["model"]
                parts.append(f"model {m['model']} on {m['reference']} ({m['reference_kind']})")
            console.print("  " + "; ".join(parts))


@handle_errors
def report(
    output_dir: Annotated[Path, typer.Argument(help="A study output folder (holds runs.sqlite)")],
) -> None:
    """(Re)write the HTML report, figures and results.json of a study output folder."""
    from vitreous.errors import InputFileError
    from vitreous.report.html import write_report
    from vitreous.study.store import RunStore

    db = output_dir / "runs.sqlite"
    if not db.is_file():
        raise InputFileError(f"{output_dir} holds no study run (no runs.sqlite)", hint="run 'vitreous run' first")
    paths = write_report(output_dir, RunStore(db).rows())
    _headline(output_dir)
    console.print(f"report: {paths['html']}")
