"""Does a thermostatted run hold its target temperature, and what does the thermostat do to
Na diffusion? The measurement behind the choice of thermostat in the built-in study.

On one relaxed NVP28 glass (405 atoms, BMP force field, whose truncated three-body terms
inject energy) runs the same NVT schedule at ``T`` with a Nosé–Hoover chain (LAMMPS default
chain of 3) and CSVR (Bussi 2007) at two damping times each, and the three-body-free
``pmmcs+bmp-v`` set as a control. The glass is made with the default thermostat. Prints the mean and
standard deviation of T over production and Na D (MSD slope, vitreous.analysis.dynamics).

Usage: python benchmarks/bench_thermostat.py [T_K ...] [force field ...] [ff:thermostat:damping_fs[:opt] ...]
[--seeds N]
(default 1300 K, both sets, the variants below; e.g. ``1300 bmp:nose-hoover:10 bmp:nose-hoover:25:Na``,
the last leaving Na out of the thermostat; ``bmp:nose-hoover:100:chain1`` is a Nosé–Hoover thermostat
without a chain, ``:pe`` one thermostat per element). ``--seeds N`` repeats each run from N velocity
seeds and prints the mean and the spread over seeds of T and D_Na (one seed's MSD-fit error
understates the run-to-run scatter).
"""

from __future__ import annotations

import sys
import tempfile
import warnings
from pathlib import Path

import numpy as np

from vitreous.analysis.dynamics import analyze_dynamics
from vitreous.build import random_glass
from vitreous.composition import counts, get_preset
from vitreous.engines.lammps import LammpsMD
from vitreous.io.h5md import H5MDTrajectory
from vitreous.potentials import load_forcefield
from vitreous.protocols import Protocol, Stage, melt_quench
from vitreous.units import BOLTZMANN_EV_K

AMU_A2_PS2_TO_EV = 1.0364269e-4  # 1 amu Å²/ps² in eV

# (force field, thermostat, damping fs)
VARIANTS = (
    ("bmp", "nose-hoover", 100.0),
    ("bmp", "nose-hoover", 25.0),
    ("bmp", "csvr", 100.0),
    ("bmp", "csvr", 10.0),
    ("pmmcs+bmp-v", "nose-hoover", 100.0),
    ("pmmcs+bmp-v", "nose-hoover", 25.0),
)


def glass(ff_name: str, tmp: Path):
    preset = get_preset("NVP28")
    atoms = random_glass(counts(preset.composition, 405), preset.density_g_cm3, seed=3)
    proto = melt_quench(3000.0, 3.0, 500.0, 300.0, 1.0, relax_ps=1.0, trajectory_every=0)
    return LammpsMD(atoms, load_forcefield(ff_name), proto, tmp / f"mq-{ff_name}", seed=1).run(False).final_atoms


def run(
    start, ff_name: str, thermostat: str, damp_fs: float, t_K: float, tmp: Path, exclude=(), chain=3, seed=5, pe=False
):
    common = dict(
        t_start_K=t_K,
        thermostat=thermostat,
        thermostat_damping_fs=damp_fs,
        thermostat_chain=chain,
        thermostat_per_element=pe,
        thermo_every=10,
        checkpoint_every=100000,
    )
    if exclude:
        common["thermostat_exclude"] = tuple(exclude)
    proto = Protocol(
        "nvt",
        (
            Stage("equilibrate", "nvt", 2000, **common),
            Stage("production", "nvt", 8000, trajectory_every=50, velocities=True, **common),
        ),
    )
    folder = tmp / f"{ff_name}-{thermostat}-{damp_fs:g}-{t_K:g}-{'-'.join(exclude)}-c{chain}-s{seed}-{pe}"
    LammpsMD(start, load_forcefield(ff_name), proto, folder, seed=seed).run(False)
    with H5MDTrajectory(folder / "trajectory.h5") as traj:
        obs = traj.observables()
        prod = obs["step"] > 2000
        temps = obs["temperature"][prod]
        na = np.array(traj.symbols) == "Na"
        v = traj.velocities(slice(0, len(traj)))[:, na]  # Å/ps
        ke_na = 0.5 * (traj.masses[na][None, :, None] * v**2).sum(axis=(1, 2)) * AMU_A2_PS2_TO_EV
        t_na = 2 * ke_na / (3 * na.sum() * BOLTZMANN_EV_K)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            dyn = analyze_dynamics(traj, "Na")
    return float(temps.mean()), float(temps.std()), dyn.diffusion.D_cm2_s, dyn.diffusion.D_err_cm2_s, float(t_na.mean())


def main(temps: list[float], only: tuple[str, ...] = (), variants: tuple = VARIANTS, seeds: int = 1) -> None:
    print("NVP28 405 atoms; 2 ps equilibration + 8 ps production (1 fs); T over production;")
    print(f"canonical sd of the kinetic T of 405 atoms: T*sqrt(2/(3N)) = {temps[0] * (2 / (3 * 405)) ** 0.5:.0f} K")
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        starts = {name: glass(name, tmp) for name in ("bmp", "pmmcs+bmp-v") if not only or name in only}
        for t_K in temps:
            for ff_name, thermostat, damp, *opts in variants:
                if only and ff_name not in only:
                    continue
                chain = next((int(o[5:]) for o in opts if o.startswith("chain")), 3)
                pe = "pe" in opts
                exclude = [o for o in opts if not o.startswith("chain") and o != "pe"]
                rows = [
                    run(starts[ff_name], ff_name, thermostat, damp, t_K, tmp, exclude, chain, 5 + 10 * i, pe)
                    for i in range(seeds)
                ]
                label = thermostat + (f" chain {chain}" if thermostat == "nose-hoover" else "")
                label += " per element" if pe else ""
                label += f" (not {'+'.join(exclude)})" if exclude else ""
                for mean, std, d_na, d_err, t_na in rows:
                    print(
                        f"  {ff_name:12s} {label:34s} {damp:4.0f} fs, target {t_K:5.0f} K: mean T {mean:7.1f} K "
                        f"({100 * (mean / t_K - 1):+5.2f} %), std {std:5.1f} K, Na {t_na:7.1f} K; "
                        f"D_Na {d_na:.2e} ± {d_err:.1e} cm²/s"
                    )
                if seeds > 1:
                    a = np.array(rows)
                    t_mean, d_mean, d_sd = a[:, 0].mean(), a[:, 2].mean(), a[:, 2].std(ddof=1)
                    print(
                        f"  -> over {seeds} seeds: mean T {t_mean:7.1f} K ({100 * (t_mean / t_K - 1):+5.2f} %), "
                        f"std {a[:, 1].mean():5.1f} K; D_Na {d_mean:.2e} ± {d_sd / seeds**0.5:.1e} "
                        f"(sd over seeds {d_sd:.1e}) cm²/s"
                    )
                sys.stdout.flush()


if __name__ == "__main__":
    args = sys.argv[1:]
    n_seeds = 1
    if "--seeds" in args:
        i = args.index("--seeds")
        n_seeds = int(args[i + 1])
        del args[i : i + 2]
    # ff:thermostat:damping_fs[:Element,...|:chainN|:pe] (elements left out of the thermostat, chain
    # length, one thermostat per element)
    chosen = tuple(
        (a.split(":")[0], a.split(":")[1], float(a.split(":")[2]), *[o for f in a.split(":")[3:] for o in f.split(",")])
        for a in args
        if ":" in a
    )
    names = tuple(a for a in args if not a.replace(".", "").isdigit() and ":" not in a)
    names = names or tuple(sorted({v[0] for v in chosen}))
    main([float(a) for a in args if a.replace(".", "").isdigit()] or [1300.0], names, chosen or VARIANTS, n_seeds)
