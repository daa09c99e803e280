"""Does a thermostatted run hold its target temperature, and what does the thermostat do to
Na diffusion? The measurement behind the choice of thermostat in the built-in study.

On one relaxed NVP28 glass (405 atoms, BMP force field, whose truncated three-body terms
inject energy) runs the same NVT schedule at ``T`` with a Nosé–Hoover chain (LAMMPS default
chain of 3), a single Nosé–Hoover thermostat and CSVR (Bussi 2007), all with a 100 fs
damping time, and the three-body-free ``pmmcs+bmp-v`` set as a control. Prints the mean and
standard deviation of T over production and Na D (MSD slope, vitreous.analysis.dynamics).

Usage: python benchmarks/bench_thermostat.py [T_K ...]   (default 1300)
"""

from __future__ import annotations

import sys
import tempfile
import warnings
from pathlib import Path

from vitreous.analysis.dynamics import analyze_dynamics
from vitreous.build import random_glass
from vitreous.composition import counts, get_preset
from vitreous.engines.lammps import LammpsMD
from vitreous.io.h5md import H5MDTrajectory
from vitreous.potentials import load_forcefield
from vitreous.protocols import Protocol, Stage, melt_quench

VARIANTS = (
    ("bmp", "nose-hoover-chain"),
    ("bmp", "nose-hoover"),
    ("bmp", "csvr"),
    ("pmmcs+bmp-v", "nose-hoover-chain"),
    ("pmmcs+bmp-v", "nose-hoover"),
)


def glass(ff_name: str, tmp: Path):
    preset = get_preset("NVP28")
    atoms = random_glass(counts(preset.composition, 405), preset.density_g_cm3, seed=3)
    proto = melt_quench(3000.0, 3.0, 500.0, 300.0, 1.0, relax_ps=1.0, trajectory_every=0)
    return LammpsMD(atoms, load_forcefield(ff_name), proto, tmp / f"mq-{ff_name}", seed=1).run(False).final_atoms


def run(start, ff_name: str, thermostat: str, t_K: float, tmp: Path) -> tuple[float, float, float, float]:
    common = dict(t_start_K=t_K, thermostat=thermostat, thermo_every=10, checkpoint_every=100000)
    proto = Protocol(
        "nvt",
        (
            Stage("equilibrate", "nvt", 2000, **common),
            Stage("production", "nvt", 8000, trajectory_every=50, **common),
        ),
    )
    folder = tmp / f"{ff_name}-{thermostat}-{t_K:g}"
    LammpsMD(start, load_forcefield(ff_name), proto, folder, seed=5).run(False)
    with H5MDTrajectory(folder / "trajectory.h5") as traj:
        obs = traj.observables()
        prod = obs["step"] > 2000
        temps = obs["temperature"][prod]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            dyn = analyze_dynamics(traj, "Na")
    return float(temps.mean()), float(temps.std()), dyn.diffusion.D_cm2_s, dyn.diffusion.D_err_cm2_s


def main(temps: list[float]) -> None:
    print("NVP28 405 atoms; 2 ps equilibration + 8 ps production (1 fs), damping 100 fs; T over production")
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        starts = {name: glass(name, tmp) for name in ("bmp", "pmmcs+bmp-v")}
        for t_K in temps:
            for ff_name, thermostat in VARIANTS:
                mean, std, d_na, d_err = run(starts[ff_name], ff_name, thermostat, t_K, tmp)
                print(
                    f"  {ff_name:12s} {thermostat:12s} target {t_K:6.0f} K: mean T {mean:7.1f} K "
                    f"({100 * (mean / t_K - 1):+5.1f} %), std {std:5.1f} K; D_Na {d_na:.2e} ± {d_err:.1e} cm²/s"
                )
                sys.stdout.flush()


if __name__ == "__main__":
    main([float(a) for a in sys.argv[1:]] or [1300.0])
