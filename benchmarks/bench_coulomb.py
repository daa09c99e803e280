"""PPPM (coul/long, 1e-5) vs damped shifted force (coul/dsf, α = 0.25 1/Å, 10 Å) for NVP28:
speed, forces and energy differences on the same configurations, and g(r) / n_V after the
same NVT run. Prints the numbers that chose the default Coulomb treatment.

Usage: python benchmarks/bench_coulomb.py [--steps 4000] [--atoms 405]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))

from common import relaxed_nvp28

from vitreous.analysis.network import network_analysis
from vitreous.analysis.rdf import PairDistribution
from vitreous.engines.lammps import LammpsMD, LammpsSettings
from vitreous.engines.lammps_runtime import energy_forces as lammps_energy_forces
from vitreous.io.h5md import H5MDTrajectory
from vitreous.potentials import Coulomb, load_forcefield
from vitreous.protocols import Protocol, Stage
from vitreous.species import type_map


def energy_forces(atoms, coulomb: Coulomb, workdir: Path) -> tuple[float, np.ndarray]:
    ff = load_forcefield("bmp")
    species, _, _ = type_map(atoms)
    return lammps_energy_forces(
        atoms, ff.lammps_commands(species, coulomb, workdir), workdir, charges=[ff.charges[s] for s in species]
    )


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=4000)
    ap.add_argument("--atoms", type=int, default=405)
    args = ap.parse_args()
    atoms = relaxed_nvp28(args.atoms)
    methods = {"pppm": Coulomb("pppm", 10.0, 1e-5), "dsf": Coulomb("dsf", 10.0, dsf_alpha_inv_A=0.25)}
    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        for name, coul in methods.items():
            proto = Protocol(
                "nvt",
                (
                    Stage(
                        "nvt",
                        "nvt",
                        args.steps,
                        t_start_K=1500,
                        trajectory_every=100,
                        thermo_every=100,
                        checkpoint_every=args.steps,
                    ),
                ),
            )
            t0 = time.perf_counter()
            res = LammpsMD(
                atoms, load_forcefield("bmp"), proto, tmp / name, seed=3, settings=LammpsSettings(coulomb=coul)
            ).run(progress=False)
            wall = time.perf_counter() - t0
            with H5MDTrajectory(res.trajectory) as traj:
                frames = np.arange(len(traj) // 2, len(traj))
                rdf = PairDistribution(dr_A=0.02).compute(traj, frames)
                cut = 2.4
                net = network_analysis(traj, frames, {("V", "O"): cut, ("P", "O"): 2.0, ("Na", "O"): 3.0})
                obs = traj.observables()
                snaps = [traj[int(i)] for i in frames[::10]]
            out[name] = dict(
                wall=wall,
                rdf=rdf,
                nV=net.coordination["V-O"]["mean"],
                P=obs["pressure"][len(obs["pressure"]) // 2 :].mean(),
                snaps=snaps,
            )
        # same configurations, both methods: force and energy-difference errors of DSF
        snaps = out["pppm"]["snaps"]
        e = {m: [] for m in methods}
        df = []
        for s in snaps:
            ep, fp = energy_forces(s, methods["pppm"], tmp)
            ed, fd = energy_forces(s, methods["dsf"], tmp)
            e["pppm"].append(ep)
            e["dsf"].append(ed)
            df.append(np.sqrt(np.mean((fp - fd) ** 2)) / np.sqrt(np.mean(fp**2)))
    n = len(atoms)
    de = (np.array(e["dsf"]) - e["dsf"][0]) - (np.array(e["pppm"]) - e["pppm"][0])
    print(f"NVP28 {n} atoms, BMP, NVT 1500 K, {args.steps} steps, 2 threads")
    for name in methods:
        o = out[name]
        r = o["rdf"]
        print(
            f"  {name:4s}: {args.steps / o['wall']:6.1f} steps/s; g_VO first peak {r.peaks('V-O')[0]:.3f} Å, "
            f"n_V(2.4 Å) {o['nV']:.3f}, mean P {o['P']:.3f} GPa"
        )
    dg = np.abs(out["pppm"]["rdf"].total - out["dsf"]["rdf"].total).max()
    print(f"  speed ratio dsf/pppm (time): {out['dsf']['wall'] / out['pppm']['wall']:.3f}")
    print(f"  max |Δg_total(r)| between the two runs: {dg:.3f} (run-to-run noise included)")
    print(
        f"  same {len(snaps)} configurations: relative RMS force difference {np.mean(df):.2e}; "
        f"energy differences between configurations differ by at most {np.abs(de).max() / n * 1000:.3f} meV/atom"
    )


if __name__ == "__main__":
    main()
