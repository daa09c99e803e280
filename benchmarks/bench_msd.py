"""MSD of the Na ions of a 3240-atom NVP28-sized trajectory read from H5MD: vitreous (FFT,
streamed over atoms) vs kinisi (same trajectory, same species), wall time and peak memory
(tracemalloc of Python allocations, numpy included) in the same run.

The trajectory is synthetic (random walks), written once to a temporary H5MD file.
Usage: python benchmarks/bench_msd.py [--frames 20000] [--atoms 3240]
"""

from __future__ import annotations

import argparse
import tempfile
import time
import tracemalloc
import warnings
from pathlib import Path

import numpy as np
from ase import Atoms

from vitreous.analysis.dynamics import fit_diffusion, msd_per_atom
from vitreous.io.h5md import H5MDTrajectory, H5MDWriter


def make_h5(path: Path, n_atoms: int, n_frames: int, dt_ps: float) -> None:
    n_na = round(n_atoms * 317 / 3227)
    atoms = Atoms(f"Na{n_na}O{n_atoms - n_na}", positions=np.zeros((n_atoms, 3)), cell=[35.0] * 3, pbc=True)
    rng = np.random.default_rng(0)
    x = rng.random((n_atoms, 3)) * 35
    with H5MDWriter(path, "w", atoms=atoms) as w:
        block = 1000
        for start in range(0, n_frames, block):
            n = min(block, n_frames - start)
            steps = rng.normal(scale=0.05, size=(n, n_atoms, 3))
            traj = x + np.cumsum(steps, axis=0)
            x = traj[-1]
            idx = np.arange(start, start + n)
            w.append_frames(idx, idx * dt_ps, traj, np.broadcast_to(np.eye(3) * 35, (n, 3, 3)))


def measure(fn):
    tracemalloc.start()
    t0 = time.perf_counter()
    out = fn()
    wall = time.perf_counter() - t0
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return out, wall, peak / 2**20


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--frames", type=int, default=20000)
    ap.add_argument("--atoms", type=int, default=3240)
    ap.add_argument("--dt-ps", type=float, default=0.1)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "traj.h5"
        make_h5(path, args.atoms, args.frames, args.dt_ps)
        with H5MDTrajectory(path) as traj:
            na = np.flatnonzero(np.array(traj.symbols) == "Na")

            def ours():
                t, msd, _ = msd_per_atom(traj, na)
                return fit_diffusion(t, msd.sum(axis=2)).D_A2_ps

            d_ours, t_ours, m_ours = measure(ours)
            print(f"{args.atoms} atoms ({len(na)} Na) x {args.frames} frames")
            print(f"  vitreous: {t_ours:8.2f} s, peak {m_ours:8.1f} MiB, D {d_ours:.4g} Å²/ps")
            try:
                import scipp as sc
                from kinisi.analyze import DiffusionAnalyzer
            except ImportError:
                print("  kinisi absent")
                return

            def theirs():
                frames = []
                for i in range(len(traj)):
                    a = traj[i]
                    a.wrap()
                    frames.append(a)
                lags = np.unique(np.geomspace(1, len(traj) // 2, 100).astype(int)) * args.dt_ps
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    da = DiffusionAnalyzer.from_ase(
                        frames,
                        specie="Na",
                        time_step=sc.scalar(args.dt_ps, unit="ps"),
                        step_skip=sc.scalar(1),
                        dt=sc.array(dims=["time interval"], values=lags, unit="ps"),
                        progress=False,
                    )
                return da

            try:
                _, t_k, m_k = measure(theirs)
                print(f"  kinisi (ASE frames + MSD at 100 log-spaced lags): {t_k:8.2f} s, peak {m_k:8.1f} MiB")
                print(f"  ratio time ours/kinisi {t_ours / t_k:.2f}, memory ours/kinisi {m_ours / m_k:.2f}")
            except Exception as exc:  # report, do not hide
                print(f"  kinisi failed: {type(exc).__name__}: {exc}")


if __name__ == "__main__":
    main()
