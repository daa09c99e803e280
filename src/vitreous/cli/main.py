"""The ``vitreous`` command."""

from __future__ import annotations

from typing import Annotated

import typer

from vitreous.cli import analyze as _analyze
from vitreous.cli import build as _build
from vitreous.cli import dft as _dft
from vitreous.cli import exp as _exp
from vitreous.cli import md as _md
from vitreous.cli import mlip as _mlip
from vitreous.cli import study as _study
from vitreous.cli.common import STATE

app = typer.Typer(
    name="vitreous",
    help="Oxide glasses from composition to structure, bonding and ion conductivity.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


@app.callback()
def _root(
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks on errors")] = False,
) -> None:
    STATE["debug"] = debug


app.command("compositions")(_build.compositions)
app.command("build")(_build.build)
app.command("melt-quench")(_md.melt_quench)
app.command("md")(_md.md)
app.command("tg-cooling")(_md.tg_cooling)
app.add_typer(_analyze.app, name="analyze")
app.command("run")(_study.run)
app.add_typer(_dft.app, name="dft")
app.add_typer(_exp.app, name="exp")
app.add_typer(_mlip.app, name="mlip")
_analyze.app.command("electronic")(_dft.analyze_electronic)
app.command("report")(_study.report)


def main() -> None:  # pragma: no cover - console entry
    app()
