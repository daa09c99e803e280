"""vitreous' LAMMPS engine vs a hand-written raw LAMMPS input (same module, same system,
same force field, same NVT protocol, same output intervals), and ns/day for NVP28.

Prints wall times and the ratio ours / raw (target ≤ 1.05). Usage:
    python benchmarks/bench_lammps_engine.py [--steps 2000] [--threads 2] [--sizes 405 3240]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from common import relaxed_nvp28

from vitreous.engines.lammps import LammpsMD, LammpsSettings
from vitreous.engines.lammps_runtime import new_lammps
from vitreous.io.structures import write_lammps_data
from vitreous.potentials import Coulomb, load_forcefield
from vitreous.protocols import Protocol, Stage
from vitreous.species import type_map


def raw_lammps(atoms, steps: int, threads: int, coulomb: Coulomb, workdir: Path) -> float:
    """The same run as a plain LAMMPS input (dump every 100 steps, restart every 5000),
    timed from instance creation to the final data file, as ours is."""
    t0 = time.perf_counter()
    ff = load_forcefield("bmp")
    species, _, _ = type_map(atoms)
    data = workdir / "raw.data"
    write_lammps_data(atoms, data, charges=[ff.charges[s] for s in species], species=species)
    lines = ["units metal", "atom_style charge", "atom_modify map array", f"read_data {data}"]
    lines += ff.lammps_commands(species, coulomb, workdir)
    lines += [
        "neighbor 2.0 bin",
        "neigh_modify every 1 delay 0 check yes",
        "velocity all create 1500 2 dist gaussian mom yes rot no",
        "timestep 0.001",
        "fix integ all nvt temp 1500 1500 0.1",
        "thermo_style custom step time temp press pe ke vol density enthalpy atoms",
        "thermo 100",
        f"dump d all custom 100 {workdir / 'raw.dump'} id type xu yu zu",
        f"restart 5000 {workdir / 'raw.restart'}",
    ]
    lmp = new_lammps(threads=threads)
    try:
        lmp.commands_list(lines)
        lmp.command(f"run {steps}")
        lmp.command(f"write_data {workdir / 'raw.final.data'}")
        return time.perf_counter() - t0
    finally:
        lmp.close()


def ours(atoms, steps: int, threads: int, coulomb: Coulomb, workdir: Path) -> float:
    proto = Protocol(
        "nvt",
        (Stage("nvt", "nvt", steps, t_start_K=1500, trajectory_every=100, thermo_every=100, checkpoint_every=5000),),
    )
    md = LammpsMD(
        atoms,
        load_forcefield("bmp"),
        proto,
        workdir / "ours",
        seed=1,
        settings=LammpsSettings(threads=threads, coulomb=coulomb),
    )
    t0 = time.perf_counter()
    md.run(progress=False)
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=2000)
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--sizes", type=int, nargs="+", default=[405, 3240])
    ap.add_argument("--coulomb", default="pppm")
    args = ap.parse_args()
    coulomb = Coulomb(args.coulomb)
    print(f"NVP28, BMP + {args.coulomb}, NVT 1500 K, 1 fs, frames/thermo every 100 steps, {args.threads} threads")
    for n in args.sizes:
        atoms = relaxed_nvp28(n)
        steps = args.steps if n < 1000 else max(200, args.steps // 8)
        with tempfile.TemporaryDirectory() as tmp:
            t_raw = raw_lammps(atoms, steps, args.threads, coulomb, Path(tmp))
            t_ours = ours(atoms, steps, args.threads, coulomb, Path(tmp))
        ns_day = steps * 1e-6 / t_ours * 86400
        print(
            f"{len(atoms):5d} atoms, {steps} steps: raw LAMMPS {t_raw:7.2f} s, vitreous {t_ours:7.2f} s, "
            f"ratio ours/raw {t_ours / t_raw:.3f}; {steps / t_ours:6.1f} steps/s = {ns_day:.2f} ns/day"
        )


if __name__ == "__main__":
    main()
