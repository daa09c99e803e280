"""Regenerate the committed CP2K outputs used by the parser tests (real CP2K 2023.1).

Usage (from the repository root): python tests/data/cp2k/make_cp2k_data.py
Writes tests/data/cp2k/{v5_sp,v4_sp}/ with cp2k-0.out, wannier.xyz and the structures.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))

from molecules import vanadyl_v4, vanadyl_v5  # noqa: E402

from vitreous.engines.cp2k import CP2KRun, load_dft_settings  # noqa: E402
from vitreous.io import write_structure  # noqa: E402


def main() -> None:
    settings = load_dft_settings("pbe-szv-fast")
    for name, atoms, wannier in (("v5_sp", vanadyl_v5(), True), ("v4_sp", vanadyl_v4(), False)):
        folder = HERE / name
        shutil.rmtree(folder, ignore_errors=True)
        res = CP2KRun(atoms, settings, "single-point", folder, ranks=2, wannier=wannier, spin_populations=True).run()
        write_structure(atoms, folder / "structure.extxyz")
        for p in folder.iterdir():  # keep only what the tests read
            if p.name not in {"cp2k-0.out", "cp2k-0.inp", "wannier.xyz", "structure.extxyz"}:
                p.unlink()
        print(name, res["energy_eV"], res["scf_steps"], f"{res['wall_time_s']:.0f} s")


if __name__ == "__main__":
    main()
