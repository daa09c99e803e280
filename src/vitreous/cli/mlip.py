"""`vitreous mlip ...`: data sets, labels, training, testing and prediction of
machine-learned potentials."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from vitreous.cli.common import console, handle_errors

app = typer.Typer(
    help="Machine-learned potentials: data sets, labels, training, tests, predictions.", no_args_is_help=True
)

_OUT = typer.Option("--output", "-o", help="Output file")


def _floats(text: str, what: str) -> list[float]:
    from vitreous.errors import AnalysisError

    try:
        return [float(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise AnalysisError(
            f"cannot read {what} '{text}'", hint="comma-separated numbers, e.g. 600,1000,1400"
        ) from None


def _counter(what: str):
    def report(done: int, total: int) -> None:
        if done == total or done % max(1, total // 10) == 0:
            console.print(f"  {what}: {done}/{total}")

    return report


def _read_frames(path: Path) -> list:
    """Every frame of a structure file or trajectory (H5MD), unlabelled copies."""
    from vitreous.errors import InputFileError

    if not path.is_file():
        raise InputFileError(f"cannot read {path}: no such file")
    if path.stat().st_size == 0:
        raise InputFileError(f"{path} holds no frames")
    if path.suffix in (".h5", ".h5md"):
        from vitreous.mlip.dataset import trajectory_frames

        return trajectory_frames([path])
    from ase.io import read

    try:
        frames = read(path, index=":")
    except Exception as exc:
        raise InputFileError(f"cannot read {path}: {exc}") from None
    if not frames:
        raise InputFileError(f"{path} holds no frames")
    for a in frames:
        a.calc = None
    return frames


@handle_errors
def dataset(
    trajectories: Annotated[list[Path] | None, typer.Argument(help="Trajectories (H5MD, extxyz, ...)")] = None,
    output: Annotated[Path, _OUT] = Path("set.extxyz"),
    frames: Annotated[int, typer.Option("--frames", help="Frames to keep (diverse, per temperature)")] = 100,
    small_cells: Annotated[
        int, typer.Option("--small-cells", help="Also sample small cells of this many atoms (0: none)")
    ] = 0,
    composition: Annotated[str, typer.Option(help="Composition of the small cells (preset or oxides)")] = "NVP28",
    temperatures_K: Annotated[
        str, typer.Option("--temperatures-K", help="Small-cell temperatures (K), comma-separated")
    ] = "600,1000,1400,1800",
    volume_scales: Annotated[str, typer.Option(help="Small-cell volume scales, comma-separated")] = "0.95,1.0,1.05",
    cell_forcefield: Annotated[str, typer.Option(help="Classical set that samples the small cells")] = "bmp",
    seed: Annotated[int, typer.Option(help="Random seed")] = 0,
) -> None:
    """Choose diverse frames (stratified by temperature, farthest points on pair-distance
    histograms) from trajectories and/or small sampled cells; unlabelled."""
    from vitreous.errors import AnalysisError
    from vitreous.mlip.cells import small_cells as make_cells
    from vitreous.mlip.dataset import select_diverse, trajectory_frames, write_dataset

    if not trajectories and small_cells <= 0:
        raise AnalysisError("nothing to choose from", hint="give trajectories and/or --small-cells N")
    pool = trajectory_frames(trajectories) if trajectories else []
    if small_cells > 0:
        temps = _floats(temperatures_K, "temperatures")
        scales = _floats(volume_scales, "volume scales")
        per = max(1, -(-2 * frames // max(1, len(temps) * len(scales))))
        console.print(f"sampling {len(temps) * len(scales)} cells of ~{small_cells} atoms ({per} frames each)")
        pool += make_cells(
            composition, small_cells, None, temps, per, cell_forcefield, seed, volume_scales=scales, workdir=None
        )
    chosen = select_diverse(pool, frames, seed)
    write_dataset(chosen, output)
    console.print(f"{len(chosen)} of {len(pool)} frames -> {output} (unlabelled: run vitreous mlip label)")


@handle_errors
def label(
    dataset_path: Annotated[Path, typer.Argument(metavar="SET", help="Frames to label (extxyz)")],
    reference: Annotated[
        str, typer.Option("--reference", help="cp2k:<preset> (DFT), teacher:<model> or classical:<force field>")
    ],
    output: Annotated[Path, _OUT],
    coulomb: Annotated[str, typer.Option(help="Coulomb of a classical reference: pppm, ewald or dsf")] = "pppm",
    ranks: Annotated[int, typer.Option(help="CP2K MPI ranks")] = 1,
    threads: Annotated[int, typer.Option(help="Threads")] = 1,
    workdir: Annotated[Path | None, typer.Option(help="Engine files (default: beside the output)")] = None,
) -> None:
    """Label frames with energies, forces, stress and virials from a named reference."""
    from vitreous.mlip.dataset import label_frames, write_dataset
    from vitreous.potentials import Coulomb

    frames = _read_frames(dataset_path)
    work = workdir or output.with_suffix(".work")
    labelled = label_frames(
        frames,
        reference,
        work,
        coulomb=Coulomb(coulomb),  # type: ignore[arg-type]
        ranks=ranks,
        threads=threads,
        progress=_counter("labelled"),
    )
    write_dataset(labelled, output)
    console.print(f"{len(labelled)} frames labelled by {reference} -> {output}")


@handle_errors
def train(
    dataset_path: Annotated[Path, typer.Argument(metavar="LABELLED", help="Labelled set (extxyz)")],
    output: Annotated[Path, typer.Option("--output", "-o", help="Model folder")],
    model: Annotated[str, typer.Option("--model", help="pod (default; runs in LAMMPS), gap or mace")] = "pod",
    config: Annotated[Path | None, typer.Option("--config", help="Hyperparameters (TOML/JSON)")] = None,
    seed: Annotated[int, typer.Option(help="Seed of the split and the fit")] = 0,
    threads: Annotated[int, typer.Option(help="Threads of the evaluation")] = 1,
) -> None:
    """Split a labelled set 80/10/10, fit a model, measure it; writes MODEL_DIR/card.json."""
    from vitreous.mlip.dataset import read_dataset
    from vitreous.mlip.train import load_config, train_model

    cfg = load_config(model, config)
    frames = read_dataset(dataset_path)
    m = train_model(frames, output, model, cfg, seed=seed, threads=threads, progress=lambda s: console.print(f"  {s}"))
    t = m.card["metrics"]["test"]
    console.print(
        f"{m.name}: trained on {m.card['reference']} in {m.card['training_time_s']:.0f} s; test RMSE "
        f"{t['energy_rmse_meV_atom']:.1f} meV/atom, {t['forces_rmse_eV_A']:.3f} eV/Å, "
        f"virial {t.get('virial_rmse_meV_atom', float('nan')):.1f} meV/atom -> {output}"
    )


@handle_errors
def test(
    model_dir: Annotated[Path, typer.Argument(metavar="MODEL_DIR", help="Trained model folder")],
    dataset_path: Annotated[Path, typer.Argument(metavar="SET", help="Labelled set (extxyz)")],
    output: Annotated[Path, typer.Option("--output", "-o", help="Metrics JSON")],
    threads: Annotated[int, typer.Option(help="Threads")] = 1,
) -> None:
    """Errors of a model on a labelled set (predictions and a parity plot written beside)."""
    from vitreous.mlip.dataset import read_dataset
    from vitreous.mlip.evaluate import test_model
    from vitreous.mlip.models import load_model

    m = load_model(model_dir)
    frames = read_dataset(dataset_path)
    out = test_model(m, frames, output, threads=threads, progress=_counter("predicted"))
    console.print(
        f"{len(frames)} frames: energy RMSE {out['energy_rmse_meV_atom']:.2f} meV/atom, forces "
        f"{out['forces_rmse_eV_A']:.3f} eV/Å, virial {out.get('virial_rmse_meV_atom', float('nan')):.1f} meV/atom "
        f"-> {output}"
    )


@handle_errors
def predict(
    model_dir: Annotated[Path, typer.Argument(metavar="MODEL_DIR", help="Trained model folder")],
    frames_path: Annotated[Path, typer.Argument(metavar="FRAMES", help="Structures or trajectory")],
    output: Annotated[Path, _OUT],
    threads: Annotated[int, typer.Option(help="Threads")] = 1,
) -> None:
    """Energy, forces, stress and virial of every frame from a model."""
    from vitreous.mlip.dataset import write_dataset
    from vitreous.mlip.evaluate import predict as run_predict
    from vitreous.mlip.models import load_model

    m = load_model(model_dir)
    frames = _read_frames(frames_path)
    pred = run_predict(m, frames, threads=threads, progress=_counter("predicted"))
    write_dataset(pred, output)
    console.print(f"{len(pred)} frames predicted by {m.name} -> {output}")


app.command("dataset")(dataset)
app.command("label")(label)
app.command("train")(train)
app.command("test")(test)
app.command("predict")(predict)
