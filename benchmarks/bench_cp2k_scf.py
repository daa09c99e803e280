"""SCF recipes for a ~60-atom NVP cell with CP2K: steps to convergence and seconds per SCF
step on this machine (2 MPI ranks by default).

The cell: Na4 V8 P8 O41 (2 V4+, 6 V5+: multiplicity 3 in high spin) at 2.939 g/cm³, built
at random and relaxed for 3 ps with the classical BMP force field (1000 K → 300 K).
Usage: python benchmarks/bench_cp2k_scf.py [--recipes pbe-dzvp-uks pbe-dzvp-uks-smear] [--timeout 900]
"""

from __future__ import annotations

import argparse
import re
import tempfile
import time
from pathlib import Path

from vitreous.build import random_glass
from vitreous.composition import from_counts
from vitreous.engines.cp2k import CP2KRun, load_dft_settings, spin_state
from vitreous.engines.lammps import LammpsMD, LammpsSettings
from vitreous.errors import EngineError
from vitreous.potentials import Coulomb, load_forcefield
from vitreous.protocols import Protocol, Stage


def nvp_cell(tmp: Path):
    model = from_counts({"Na": 4, "V4": 2, "V5": 6, "P": 8, "O": 41})
    atoms = random_glass(model, 2.939, seed=4)
    proto = Protocol(
        "relax",
        (
            Stage("limit", "limit", 1000, t_start_K=1000, checkpoint_every=1000),
            Stage("cool", "nvt", 2000, t_start_K=1000, t_end_K=300, checkpoint_every=2000),
        ),
    )
    res = LammpsMD(
        atoms,
        load_forcefield("bmp"),
        proto,
        tmp / "relax",
        seed=1,
        settings=LammpsSettings(coulomb=Coulomb("ewald", cutoff_A=5.0, accuracy=1e-6)),
    ).run(progress=False)
    return res.final_atoms


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--recipes", nargs="+", default=["pbe-dzvp-uks", "pbe-dzvp-uks-smear"])
    ap.add_argument("--ranks", type=int, default=2)
    ap.add_argument("--timeout", type=float, default=900)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        atoms = nvp_cell(tmp)
        print(
            f"Na4V8P8O41, {len(atoms)} atoms, cell {atoms.cell.lengths()[0]:.2f} Å; charge/multiplicity/electrons "
            f"{spin_state(atoms, load_dft_settings('pbe-dzvp-uks'))}; {args.ranks} MPI ranks"
        )
        for name in args.recipes:
            settings = load_dft_settings(name)
            folder = tmp / name
            t0 = time.perf_counter()
            try:
                res = CP2KRun(atoms, settings, "single-point", folder, ranks=args.ranks).run(timeout_s=args.timeout)
                wall = time.perf_counter() - t0
                steps = sum(res["scf_steps"])
                print(
                    f"  {name}: converged, {res['scf_steps']} SCF steps (total {steps}) in {wall:.0f} s "
                    f"= {wall / max(steps, 1):.1f} s per step (incl. set-up); E = {res['energy_eV']:.4f} eV"
                )
            except EngineError as exc:
                wall = time.perf_counter() - t0
                out = sorted(folder.glob("cp2k-*.out"))
                n = len(re.findall(r"^\s+\d+\s+(?:OT|Broy|P_Mix|DIIS)", out[-1].read_text(), re.M)) if out else 0
                print(
                    f"  {name}: NOT converged after {wall:.0f} s, {n} SCF steps ({wall / max(n, 1):.1f} s per step): "
                    f"{exc.message}"
                )


if __name__ == "__main__":
    main()
