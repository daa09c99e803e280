"""Worked example: a machine-learned potential for NVP28 from a teacher, then MLIP MD.

1. ~100 diverse frames of small (80-atom) NVP28 cells, sampled by classical BMP MD at 600,
   1000, 1400 and 1800 K and three volumes (the classical field only proposes geometries);
2. labelled by a *teacher*: CHGNet, a universal MLIP whose weights ship in its wheel. Its
   labels are CHGNet's (trained on PBE/PBE+U data of crystals), NOT DFT of this glass, and
   every file says so (``reference = teacher:chgnet``); replace ``--reference`` by
   ``cp2k:pbe-dzvp-uks`` on a cluster for the reference of record;
3. trains the default model (POD, which runs inside LAMMPS) and measures it on the held-out
   test frames;
4. runs a short NVT at 1200 K of a 406-atom NVP28 model with it.

Needs the teacher extra: ``pip install torch==2.13.0 && pip install -e '.[teacher]'``.

Usage: python examples/mlip_teacher_nvp28.py [OUT_DIR] [--teacher chgnet] [--frames 100]
The same steps on the command line::

    vitreous mlip dataset --small-cells 80 --frames 100 -o set.extxyz
    vitreous mlip label set.extxyz --reference teacher:chgnet -o labelled.extxyz
    vitreous mlip train labelled.extxyz -o model
    vitreous md start.extxyz -p mlip:model --temperature-K 1200 --steps 2000 -o md
"""

from __future__ import annotations

import argparse
import json
import time
import warnings
from pathlib import Path

from vitreous.build import random_glass
from vitreous.composition import counts, get_preset
from vitreous.engines.factory import mlip_md
from vitreous.engines.lammps import LammpsMD, LammpsSettings
from vitreous.mlip import label_frames, read_dataset, write_dataset
from vitreous.mlip.cells import small_cells
from vitreous.mlip.dataset import select_diverse
from vitreous.mlip.train import train_model
from vitreous.potentials import Coulomb, load_forcefield
from vitreous.protocols import Protocol, Stage


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out", nargs="?", default="mlip-example")
    ap.add_argument("--teacher", default="chgnet")
    ap.add_argument("--frames", type=int, default=100)
    ap.add_argument("--md-ps", type=float, default=2.0)
    args = ap.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    times: dict[str, float] = {}
    warnings.simplefilter("ignore")

    t0 = time.perf_counter()
    labelled_path = out / "labelled.extxyz"
    if not labelled_path.is_file():
        temps = [600.0, 1000.0, 1400.0, 1800.0]
        pool = small_cells(
            "NVP28", 80, None, temps, 15, "bmp", seed=21, workdir=out / "cells", volume_scales=(0.95, 1.0, 1.05)
        )
        frames = select_diverse(pool, args.frames, seed=21)
        times["sample_s"] = time.perf_counter() - t0
        print(
            f"{len(frames)} of {len(pool)} frames chosen in {times['sample_s']:.0f} s; "
            f"labelling with teacher:{args.teacher}"
        )
        t1 = time.perf_counter()
        labelled = label_frames(
            frames,
            f"teacher:{args.teacher}",
            out / "label",
            progress=lambda k, n: print(f"  labelled {k}/{n}") if k % 20 == 0 or k == n else None,
        )
        write_dataset(labelled, labelled_path)
        times["label_s"] = time.perf_counter() - t1
    labelled = read_dataset(labelled_path)

    t2 = time.perf_counter()
    model_dir = out / "model"
    if (model_dir / "card.json").is_file():
        from vitreous.mlip import load_model

        model = load_model(model_dir)
    else:
        model = train_model(labelled, model_dir, "pod", seed=0, progress=lambda s: print(f"  {s}"))
    times["train_s"] = time.perf_counter() - t2
    test = model.card["metrics"]["test"]
    print(
        f"{model.name} on {model.card['reference']} ({model.card['reference_kind']}): test RMSE "
        f"{test['energy_rmse_meV_atom']:.1f} meV/atom, {test['forces_rmse_eV_A']:.3f} eV/Å, "
        f"virial {test.get('virial_rmse_meV_atom', float('nan')):.1f} meV/atom (virials not fitted by POD)"
    )

    t3 = time.perf_counter()
    preset = get_preset("NVP28")
    start = random_glass(counts(preset.composition, 406), preset.density_g_cm3, seed=5)
    relax = Protocol(
        "relax",
        (
            Stage("limit", "limit", 400, t_start_K=1200.0, checkpoint_every=400),
            Stage("nvt", "nvt", 1000, t_start_K=1200.0, checkpoint_every=1000),
        ),
    )
    start = (
        LammpsMD(
            start, load_forcefield("bmp"), relax, out / "relax", seed=5, settings=LammpsSettings(coulomb=Coulomb("dsf"))
        )
        .run(progress=False)
        .final_atoms
    )
    steps = round(args.md_ps * 1000)
    nvt = Protocol(
        "mlip-nvt-1200K",
        (Stage("nvt", "nvt", steps, t_start_K=1200.0, trajectory_every=100, thermo_every=100, checkpoint_every=500),),
    )
    res = mlip_md(start, model, nvt, out / "md_1200K", seed=7, threads=1).run(progress=True)
    times["md_s"] = time.perf_counter() - t3
    st = res.summary["stages"][0]
    print(
        f"NVT 1200 K, {args.md_ps} ps of 406 atoms with {model.name}: mean T {st['mean_T_K']:.0f} K "
        f"(sd {st['std_T_K']:.0f}), {res.summary['wall_time_s']:.0f} s wall"
    )
    summary = {"times_s": times, "test_metrics": test, "md": st, "reference": model.card["reference"]}
    (out / "example_summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    print(f"summary in {out / 'example_summary.json'}")


if __name__ == "__main__":
    main()
