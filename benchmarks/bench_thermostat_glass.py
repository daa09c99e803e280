"""The thermostat in the glass: NVT at 300 K (the melt-quench anneal) of a quenched NVP28
model, for BMP (whose truncated three-body terms keep injecting energy as long V–O bonds
vibrate across the 2.5 Å cutoff) and the three-body-free pmmcs+bmp-v, with the default
Nosé–Hoover chain (25 fs), a tighter one (10 fs), CSVR (10 fs) and a Langevin bath (10 and
5 fs; the melt-quench anneal uses 5 fs). Prints the mean T of
1-2 ps and 2-4 ps and the spread over 2-4 ps (canonical: T·sqrt(2/(3N)) = 12 K).

Usage: python benchmarks/bench_thermostat_glass.py [T_K]   (default 300)
"""

from __future__ import annotations

import sys
import tempfile
import warnings
from pathlib import Path

from bench_thermostat import glass

from vitreous.engines.lammps import LammpsMD
from vitreous.io.h5md import H5MDTrajectory
from vitreous.potentials import load_forcefield
from vitreous.protocols import Protocol, Stage

# (thermostat, damping fs); "langevin" is the NVE + Langevin-bath ensemble
VARIANTS = (("nose-hoover", 25.0), ("nose-hoover", 10.0), ("csvr", 10.0), ("langevin", 10.0), ("langevin", 5.0))


def main(t_K: float) -> None:
    warnings.simplefilter("ignore")
    print(f"NVP28 405 atoms quenched at 500 K/ps, then 4 ps NVT at {t_K:g} K")
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        for ff in ("bmp", "pmmcs+bmp-v"):
            start = glass(ff, tmp)
            for th, damp in VARIANTS:
                ensemble = "langevin" if th == "langevin" else "nvt"
                c = dict(t_start_K=t_K, thermostat_damping_fs=damp, thermo_every=10, checkpoint_every=100000)
                if ensemble == "nvt":
                    c["thermostat"] = th
                run = tmp / f"{ff}-{th}-{damp:g}"
                LammpsMD(
                    start, load_forcefield(ff), Protocol("a", (Stage("hold", ensemble, 4000, **c),)), run, seed=3
                ).run(False)
                with H5MDTrajectory(run / "trajectory.h5") as traj:
                    obs = traj.observables()
                t, s = obs["temperature"], obs["step"]
                early, late = t[(s > 1000) & (s <= 2000)], t[s > 2000]
                print(
                    f"  {ff:12s} {th:12s} {damp:4.0f} fs: mean T 1-2 ps {early.mean():6.1f} K, "
                    f"2-4 ps {late.mean():6.1f} K ({100 * (late.mean() / t_K - 1):+.1f} %), sd {late.std():.1f} K"
                )
                sys.stdout.flush()


if __name__ == "__main__":
    main(float(sys.argv[1]) if len(sys.argv) > 1 else 300.0)
