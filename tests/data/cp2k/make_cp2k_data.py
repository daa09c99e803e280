"""Regenerate the committed CP2K outputs used by the tests (real CP2K 2023.1).

Usage (from the repository root): python tests/data/cp2k/make_cp2k_data.py [--skip-optimize] [--only v5_sp]

1. v5_opt/: OV(OH)3 optimised (BFGS) with pbe-szv-fast in an 8 Å periodic box, starting
   from the built geometry of molecules.vanadyl_v5() (whose 155° V–O–H angles are not a
   molecule's); keeps optimized.extxyz, the trajectory, the input and the log.
2. v5_sp/: single point of the optimised OV(OH)3 with Wannier centres and spin populations,
   same preset and box (the centres of the equilibrium geometry of the same Hamiltonian):
   cp2k-0.out, wannier.xyz, structure.extxyz.
3. v4_sp/: VO(OH)2 (V4+, built geometry, non-periodic box) with spin populations.
4. v5_built_sp/: Wannier centres of OV(OH)3 at its built, unrelaxed geometry (table bond
   lengths, 155° V–O–H), and v5_rattled_<seed>/: of the optimised molecule with every atom
   displaced by a Gaussian of 0.07 Å per axis (seeds 1-3; about what a 300-600 K BOMD
   snapshot looks like). The bond-order analysis must not depend on the geometry being
   relaxed.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

HERE = Path(__file__).parent
RANKS = int(__import__("os").environ.get("CP2K_RANKS", "2"))
sys.path.insert(0, str(HERE))

from molecules import in_box, vanadyl_v4, vanadyl_v5  # noqa: E402

from vitreous.engines.cp2k import CP2KRun, load_dft_settings  # noqa: E402
from vitreous.io import read_structure, write_structure  # noqa: E402


def _keep(folder: Path, names: set[str]) -> None:
    for p in folder.iterdir():  # keep only what the tests read
        if p.name not in names:
            p.unlink()


def main() -> None:
    opt_dir = HERE / "v5_opt"
    if "--skip-optimize" not in sys.argv:
        shutil.rmtree(opt_dir, ignore_errors=True)
        res = CP2KRun(
            in_box(vanadyl_v5()), load_dft_settings("pbe-szv-fast"), "optimize", opt_dir, ranks=RANKS, steps=100
        ).run()
        if not res["optimization_converged"]:
            raise SystemExit("OV(OH)3 optimisation did not converge")
        write_structure(res["final_atoms"], opt_dir / "optimized.extxyz")
        _keep(opt_dir, {"cp2k-0.out", "cp2k-0.inp", "vitreous-pos-1.xyz", "optimized.extxyz"})
        print("v5_opt", res["energy_eV"], f"{res['wall_time_s']:.0f} s")
    optimized = read_structure(opt_dir / "optimized.extxyz")
    fast = load_dft_settings("pbe-szv-fast")
    only = sys.argv[sys.argv.index("--only") + 1] if "--only" in sys.argv else None
    import numpy as np

    jobs = [("v5_sp", optimized, True), ("v4_sp", vanadyl_v4(), False), ("v5_built_sp", in_box(vanadyl_v5()), True)]
    for seed in (1, 2, 3):
        rattled = optimized.copy()
        rattled.positions += np.random.default_rng(seed).normal(scale=0.07, size=rattled.positions.shape)
        jobs.append((f"v5_rattled_{seed}", rattled, True))
    for name, atoms, wannier in jobs:
        if only is not None and name != only:
            continue
        folder = HERE / name
        shutil.rmtree(folder, ignore_errors=True)
        res = CP2KRun(atoms, fast, "single-point", folder, ranks=RANKS, wannier=wannier, spin_populations=True).run()
        write_structure(atoms, folder / "structure.extxyz")
        keep = {"cp2k-0.out", "cp2k-0.inp", "wannier.xyz", "structure.extxyz"}
        _keep(folder, keep if name in ("v5_sp", "v4_sp") else keep - {"cp2k-0.out"})
        print(name, res["energy_eV"], res["scf_steps"], f"{res['wall_time_s']:.0f} s")


if __name__ == "__main__":
    main()
