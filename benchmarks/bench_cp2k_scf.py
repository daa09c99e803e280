"""SCF recipes for a ~60-atom NVP cell with CP2K: steps to convergence and seconds per SCF
step on this machine (2 MPI ranks by default).

The cell: Na4 V8 P8 O41 (2 V4+, 6 V5+: multiplicity 3 in high spin) at 2.939 g/cm³, built
at random and relaxed for 3 ps with the classical BMP force field (1000 K → 300 K).
Usage: python benchmarks/bench_cp2k_scf.py [--recipes pbe-dzvp-uks pbe-dzvp-uks-smear] [--timeout 900]
       [--all-v5]; a recipe may carry overrides, e.g. pbe-dzvp-uks:hubbard_u_V_eV=3.0 or
       pbe-dzvp-uks:smear_start_scf=20
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from vitreous.build import random_glass
from vitreous.composition import from_counts
from vitreous.engines.cp2k import CP2KRun, load_dft_settings, spin_state
from vitreous.engines.cp2k_parse import scf_lines
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
    ap.add_argument(
        "--recipes",
        nargs="+",
        default=["pbe-dzvp-uks", "pbe-dzvp-uks-smear"],
        help="preset names, each optionally with overrides: NAME:key=value,key=value",
    )
    ap.add_argument("--ranks", type=int, default=2)
    ap.add_argument("--timeout", type=float, default=900)
    ap.add_argument(
        "--all-v5", action="store_true", help="the two V4+ made V5+ (charge +2, closed shell): isolates the d electrons"
    )
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        atoms = nvp_cell(tmp)
        if args.all_v5:
            valence = atoms.arrays["valence"].copy()
            valence[valence == 4] = 5
            atoms.set_array("valence", valence)
        print(
            f"Na4V8P8O41, {len(atoms)} atoms, cell {atoms.cell.lengths()[0]:.2f} Å; charge/multiplicity/electrons "
            f"{spin_state(atoms, load_dft_settings('pbe-dzvp-uks'))}; {args.ranks} MPI ranks"
        )
        for recipe in args.recipes:
            name, _, extra = recipe.partition(":")
            overrides = {
                k: int(v) if v.lstrip("-").isdigit() else float(v)
                for k, v in (kv.split("=") for kv in extra.split(",") if kv)
            }
            settings = load_dft_settings(name, **overrides)
            folder = tmp / recipe.replace(":", "_").replace("=", "").replace(",", "_")
            t0 = time.perf_counter()
            try:
                res = CP2KRun(atoms, settings, "single-point", folder, ranks=args.ranks, spin_populations=True).run(
                    timeout_s=args.timeout
                )
                v = [i for i, el in enumerate(atoms.get_chemical_symbols()) if el == "V"]
                spins = ", ".join(f"{i}:{res['mulliken_spin'][i]:+.2f}" for i in v)
                status = (
                    f"converged, {res['scf_steps'][0]} SCF steps, E = {res['energy_eV']:.4f} eV; "
                    f"Mulliken spin on V (index:moment) {spins}"
                )
            except EngineError as exc:
                status = f"NOT converged ({exc.message})"
            wall = time.perf_counter() - t0
            out = sorted(folder.glob("cp2k-*.out"))
            rows = scf_lines(out[-1]) if out else []
            start = sorted(folder.glob("start/cp2k-*.out"))
            if start:  # smear_start_scf: the smearing steps that started OT
                pre = scf_lines(start[-1])
                print(
                    f"  {recipe}: start: {len(pre)} smearing SCF steps, "
                    f"{sum(t for _, t, _ in pre) / max(len(pre), 1):.1f} s per step"
                )
            conv = [c for _, _, c in rows if c is not None]
            per_step = sum(s for _, s, _ in rows) / max(len(rows), 1)
            print(
                f"  {recipe} (charge, multiplicity, electrons {spin_state(atoms, settings)}): {status}; "
                f"{len(rows)} SCF lines in {wall:.0f} s wall, {per_step:.1f} s per SCF "
                f"step (CP2K's own timing), last convergence {conv[-1] if conv else float('nan'):.2e}"
            )


if __name__ == "__main__":
    main()
