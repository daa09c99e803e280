"""BMP against its smooth-three-body variant ``bmp-smooth``: what the taper changes.

For each set, the built-in quick study's melt-quench of one NVP28 model (405 atoms, same
random start and seed; 3000 K 5 ps, 200 K/ps, 300 K 3 ps anneal), then from that glass
(1) a 4 ps NVT hold at 300 K with the default Nose-Hoover chain (25 fs), and (2) NVT at
1300 K, 2 ps + 8 ps, same thermostat. Prints the T each stage held, the structure of the
quenched glass (last 30 frames: n_V with the first-minimum cutoff and with a fixed 2.385 A,
VO_n units, bond lengths, BO fraction, mean Qn of P) and Na D at 1300 K; and the RMS
difference of the two total X-ray G(r).

Usage: python benchmarks/bench_smooth_three_body.py [seed] [force field ...]
(default seed 3, bmp and bmp-smooth; about 10 min on 2 cores)
"""

from __future__ import annotations

import sys
import tempfile
import warnings
from pathlib import Path

import numpy as np

from vitreous.analysis.dynamics import analyze_dynamics
from vitreous.analysis.network import network_analysis
from vitreous.analysis.structure import analyze_structure
from vitreous.build import random_glass
from vitreous.composition import counts, get_preset
from vitreous.engines.lammps import LammpsMD
from vitreous.engines.stage_stats import stage_statistics
from vitreous.io.h5md import H5MDTrajectory
from vitreous.io.trajectory import open_trajectory
from vitreous.potentials import load_forcefield
from vitreous.protocols import Protocol, Stage, melt_quench


def held(protocol: Protocol, folder: Path) -> str:
    with H5MDTrajectory(folder / "trajectory.h5") as traj:
        rows = stage_statistics(protocol, traj.observables(), warn=False)
    return ", ".join(
        f"{r['name']} {r['mean_T_K']:.0f} K ({r['offset_percent']:+.1f} %)" for r in rows if r.get("target_K")
    )


def main(seed: int, names: list[str]) -> None:
    warnings.simplefilter("ignore")
    preset = get_preset("NVP28")
    start = random_glass(counts(preset.composition, 405), preset.density_g_cm3, seed=seed)
    mq = melt_quench(3000.0, 5.0, 200.0, 300.0, 3.0, relax_ps=1.0, trajectory_every=100)
    common = dict(thermo_every=10, checkpoint_every=100000)
    hold300 = Protocol("hold", (Stage("hold", "nvt", 4000, t_start_K=300.0, **common),))
    hot = Protocol(
        "nvt",
        (
            Stage("equilibrate", "nvt", 2000, t_start_K=1300.0, **common),
            Stage("production", "nvt", 8000, t_start_K=1300.0, trajectory_every=50, **common),
        ),
    )
    g = {}
    print(f"NVP28 405 atoms, random start seed {seed}; melt-quench as the quick study; NH chain 25 fs")
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        for name in names:
            ff = load_forcefield(name)
            name = ff.name
            glass = LammpsMD(start, ff, mq, tmp / f"mq-{name}", seed=1).run(False).final_atoms
            with open_trajectory(tmp / f"mq-{name}" / "trajectory.h5") as traj:
                frames = np.arange(len(traj))[-30:]
                s = analyze_structure(traj, frames).to_dict()
                fixed = network_analysis(traj, frames, {("V", "O"): 2.385, ("P", "O"): 2.0, ("Na", "O"): 3.0})
            c = s["coordination"]["V-O"]
            print(f"{name}: melt-quench held {held(mq, tmp / f'mq-{name}')}")
            print(
                f"  n_V {c['mean']:.2f} (first minimum {c['cutoff_A']:.3f} A), "
                f"{fixed.coordination['V-O']['mean']:.2f} at 2.385 A; VO_n {c['distribution']}"
            )
            print(
                f"  bond lengths {s['bond_lengths_A']}; BO {s['oxygen']['BO']:.3f}; "
                f"P mean Qn {s['qn']['P']['mean_n']:.2f}"
            )
            g[name] = (np.asarray(s["real_space"]["r"]), np.asarray(s["real_space"]["G"]))
            LammpsMD(glass, ff, hold300, tmp / f"h300-{name}", seed=3).run(False)
            print(f"  300 K glass hold: {held(hold300, tmp / f'h300-{name}')}")
            LammpsMD(glass, ff, hot, tmp / f"hot-{name}", seed=5).run(False)
            with H5MDTrajectory(tmp / f"hot-{name}" / "trajectory.h5") as traj:
                dyn = analyze_dynamics(traj, "Na")
            print(
                f"  1300 K: {held(hot, tmp / f'hot-{name}')}; "
                f"Na D {dyn.diffusion.D_cm2_s:.2e} +- {dyn.diffusion.D_err_cm2_s:.1e} cm2/s"
            )
            sys.stdout.flush()
    if len(names) < 2:
        return
    (r, a), (_, b) = g[names[0]], g[names[1]]
    m = r < 8.0
    print(
        f"X-ray G(r) RMS difference (r < 8 A): {np.sqrt(np.mean((a[m] - b[m]) ** 2)):.3f}; RMS of BMP's G(r): "
        f"{np.sqrt(np.mean(a[m] ** 2)):.3f}"
    )


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 3, sys.argv[2:] or ["bmp", "bmp-smooth"])
