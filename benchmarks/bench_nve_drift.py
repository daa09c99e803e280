"""NVE energy drift of the V-capable force fields on a relaxed NVP28 model (405 atoms):
the measurement behind the BMP three-body caveat in data/forcefields/bmp.toml.

Usage: python benchmarks/bench_nve_drift.py [bmp pmmcs+bmp-v]
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import numpy as np

from vitreous.build import random_glass
from vitreous.composition import counts, get_preset
from vitreous.engines.lammps import LammpsMD, LammpsSettings
from vitreous.io.h5md import H5MDTrajectory
from vitreous.potentials import Coulomb, load_forcefield
from vitreous.protocols import Protocol, Stage


def main(names: list[str]) -> None:
    preset = get_preset("NVP28")
    atoms = random_glass(counts(preset.composition, 405), preset.density_g_cm3, seed=7)
    relax = Protocol(
        "relax",
        (
            Stage("limit", "limit", 400, t_start_K=1000.0, checkpoint_every=400),
            Stage("nvt", "nvt", 400, t_start_K=1000.0, checkpoint_every=400),
        ),
    )
    nve = Protocol("nve", (Stage("nve", "nve", 1000, timestep_fs=0.5, thermo_every=20, checkpoint_every=1000),))
    print("NVP28 406 atoms, relaxed 0.8 ps at 1000 K (DSF), then NVE 0.5 ps at 0.5 fs")
    for name in names:
        ff = load_forcefield(name)
        with tempfile.TemporaryDirectory() as tmp:
            start = (
                LammpsMD(atoms, ff, relax, Path(tmp) / "relax", seed=1, settings=LammpsSettings(coulomb=Coulomb("dsf")))
                .run(progress=False)
                .final_atoms
            )
            for coul in (Coulomb("pppm", accuracy=1e-6), Coulomb("dsf")):
                run = Path(tmp) / coul.method
                LammpsMD(start, ff, nve, run, seed=2, settings=LammpsSettings(coulomb=coul)).run(progress=False)
                with H5MDTrajectory(run / "trajectory.h5") as traj:
                    o = traj.observables()
                e = o["potential_energy"] + o["kinetic_energy"]
                slope = np.polyfit(o["time_ps"], e, 1)[0] / len(start)
                print(
                    f"  {name:12s} {coul.method:4s}: drift {slope:+.2e} eV/atom/ps, largest jump between rows "
                    f"{np.abs(np.diff(e)).max():.3f} eV, mean T {o['temperature'].mean():.0f} K"
                )


if __name__ == "__main__":
    main(sys.argv[1:] or ["bmp", "pmmcs+bmp-v"])
